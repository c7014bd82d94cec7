"""build_features and write_features against an independent pandas reference."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import ibis
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from churn import features, synthetic
from churn.errors import ConfigError
from tests.features.helpers import CUTOFF, HORIZON, compare, cutoffs_of, tx_table
from tests.features.reference import reference_features


@pytest.mark.parametrize("with_events", [True, False])
def test_build_features_matches_pandas_reference(
    small: synthetic.DemoData, con: ibis.BaseBackend, with_events: bool
) -> None:
    config = features.FeatureConfig()
    cutoffs = cutoffs_of(small)
    tx = con.create_table("tx_ref", small.transactions, overwrite=True)
    ev = con.create_table("ev_ref", small.events, overwrite=True) if with_events else None
    got = features.build_features(
        tx, cutoffs, config, events=ev, horizon_days=HORIZON, active_within_days=365
    )
    expected = reference_features(
        small.transactions.to_pandas(),
        cutoffs,
        config,
        events=small.events.to_pandas() if with_events else None,
        horizon_days=HORIZON,
        active_within_days=365,
    )
    compare(got, expected)


def test_build_features_matches_reference_without_category_or_btyd(
    small: synthetic.DemoData, con: ibis.BaseBackend
) -> None:
    config = features.FeatureConfig(windows=(14, 60), trend_days=30, btyd_enabled=False)
    table = small.transactions.drop_columns(["category"])
    tx = con.create_table("tx_nocat", table, overwrite=True)
    cutoffs = cutoffs_of(small)[:2]
    got = features.build_features(tx, cutoffs, config, horizon_days=HORIZON)
    expected = reference_features(
        table.to_pandas(),
        cutoffs,
        config,
        events=None,
        horizon_days=HORIZON,
        active_within_days=None,
    )
    compare(got, expected)
    assert "category_count" not in got.column_names


def test_build_features_schema_is_stable(small: synthetic.DemoData, con: ibis.BaseBackend) -> None:
    """Same column types whatever the data: here a cutoff before any purchase (no rows)."""
    config = features.FeatureConfig()
    tx = con.create_table("tx_schema", small.transactions, overwrite=True)
    ev = con.create_table("ev_schema", small.events, overwrite=True)
    full = features.build_features(
        tx, cutoffs_of(small)[:1], config, events=ev, horizon_days=HORIZON
    )
    empty = features.build_features(tx, ["2020-01-01"], config, events=ev, horizon_days=HORIZON)
    assert empty.num_rows == 0
    assert full.schema == empty.schema
    docs = features.feature_docs(config)
    assert full.column_names == ["customer_id", "cutoff", *docs]
    for name in docs:
        expected = (
            pa.string()
            if name == "lifecycle_stage"
            else pa.float64()
            if features.is_float_feature(name)
            else pa.int64()
        )
        assert full.schema.field(name).type == expected, name


def test_build_features_rejects_bad_cutoffs(
    small: synthetic.DemoData, con: ibis.BaseBackend
) -> None:
    tx = con.create_table("tx_bad", small.transactions, overwrite=True)
    config = features.FeatureConfig()
    with pytest.raises(ConfigError, match="at least one cutoff"):
        features.build_features(tx, [], config, horizon_days=HORIZON)
    with pytest.raises(ConfigError, match="must be dates"):
        features.build_features(tx, ["2025-01-01 12:00"], config, horizon_days=HORIZON)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"windows": [30, 30]}, "distinct positive"),
        ({"windows": [0]}, "distinct positive"),
        ({"trend_days": 0}, "trend_days: expected >= 1"),
        ({"lifecycle": {"lapsing_gap_multiple": 0}}, "must be > 0"),
        ({"colour": "red"}, r"unknown keys \['colour'\]"),
        ({"active_periods": 63}, "active_periods: expected at most 62"),
    ],
)
def test_feature_config_from_mapping_invalid(values: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        features.FeatureConfig.from_mapping(values)


def test_constant_spend_has_zero_spread_across_intervals() -> None:
    """Identical amounts spread over many intervals give a standard deviation of exactly 0
    (a plain sum of squares would leave rounding noise)."""
    t0 = dt.datetime(2023, 1, 5, 9)
    # 97 x 9.99 and 7 x 1234.56: a plain sum of squares leaves 2.5e-7 and 1.9e-5
    rows = [("a", t0 + dt.timedelta(days=5 * i), 9.99, "x") for i in range(97)]
    rows += [("b", t0 + dt.timedelta(days=60 * i), 1234.56, "y") for i in range(7)]
    cutoffs = [pd.Timestamp(CUTOFF) - pd.Timedelta(days=30 * k) for k in range(12)]
    tx = ibis.duckdb.connect().create_table("constant", tx_table(rows))
    got = features.build_features(
        tx, cutoffs, features.FeatureConfig(btyd_enabled=False), horizon_days=HORIZON
    ).to_pandas()
    spread = got.loc[got["n_purchases"] > 1, "monetary_std"]
    assert len(spread) >= 20
    assert (spread.abs() < 1e-12).all(), spread.max()


def test_write_features_equals_build_features(
    small: synthetic.DemoData,
    con: ibis.BaseBackend,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Out of core, in batches (here of 500 rows), with BG/NBD fitted from its own small
    query: the same rows, types and numbers as the in-memory result."""
    monkeypatch.setattr("churn.features.build.RESULT_BATCH_ROWS", 500)
    config = features.FeatureConfig()
    tx = con.create_table("tx_write", small.transactions, overwrite=True)
    ev = con.create_table("ev_write", small.events, overwrite=True)
    cutoffs = cutoffs_of(small)
    kwargs = {"events": ev, "horizon_days": HORIZON, "active_within_days": 365}
    expected = features.build_features(tx, cutoffs, config, **kwargs)
    path = tmp_path / "features.parquet"
    rows = features.write_features(tx, cutoffs, config, path, **kwargs)
    written = pq.read_table(path)
    assert rows == written.num_rows == expected.num_rows > 2_000
    assert written.schema == expected.schema
    assert pq.ParquetFile(path).metadata.num_row_groups > 1
    assert written.column("btyd_p_alive").null_count == 0
    compare(written, expected.to_pandas())
    assert [p.name for p in tmp_path.iterdir()] == ["features.parquet"]  # no temporary left


def test_btyd_summary_equals_the_feature_query_columns(
    small: synthetic.DemoData, con: ibis.BaseBackend
) -> None:
    tx = con.create_table("tx_summary", small.transactions, overwrite=True)
    cutoffs = cutoffs_of(small)
    columns = ["cutoff", "customer_id", "frequency", "first_day", "last_day", "c_days"]
    full = features.feature_query(tx, cutoffs, features.FeatureConfig()).select(*columns)
    small_query = features.btyd_summary(tx, cutoffs).select(
        "cutoff", "c_days", "frequency", "first_day", "last_day"
    )
    want = full.to_pandas().sort_values(["cutoff", "customer_id"])[columns[:1] + columns[2:]]
    got = small_query.to_pandas()
    key = ["cutoff", "frequency", "first_day", "last_day"]
    pd.testing.assert_frame_equal(
        got.sort_values(key, ignore_index=True)[want.columns],
        want.sort_values(key, ignore_index=True),
        check_dtype=False,
    )


def test_write_features_with_no_buyers_writes_an_empty_typed_file(
    small: synthetic.DemoData, con: ibis.BaseBackend, tmp_path: Path
) -> None:
    tx = con.create_table("tx_empty", small.transactions, overwrite=True)
    config = features.FeatureConfig()
    path = tmp_path / "none.parquet"
    before_any = [pd.Timestamp(small.params.start_date) - pd.Timedelta(days=30)]
    assert features.write_features(tx, before_any, config, path, horizon_days=HORIZON) == 0
    written = pq.read_table(path)
    assert written.num_rows == 0
    assert "btyd_p_alive" in written.column_names
    assert written.schema.field("frequency").type == pa.int64()


def test_purchase_rule_default_reproduces_todays_features(
    small: synthetic.DemoData, con: ibis.BaseBackend
) -> None:
    frame = small.transactions.to_pandas()
    zero = frame.index % 20 == 0  # some free orders among everyone's
    frame.loc[zero, "amount"] = 0.0
    cutoffs = cutoffs_of(small)[:2]
    only_free = frame.iloc[:3].assign(
        customer_id="free-only",
        amount=0.0,
        timestamp=[cutoffs[1] - pd.Timedelta(days=d) for d in (40, 20, 5)],
    )
    frame = pd.concat([frame, only_free], ignore_index=True)
    config = features.FeatureConfig()
    tx = con.create_table("tx_rule", pa.Table.from_pandas(frame), overwrite=True)

    default = features.build_features(tx, cutoffs, config, horizon_days=HORIZON)
    positive = features.build_features(
        tx, cutoffs, config, horizon_days=HORIZON, purchase_rule="positive"
    )
    free = features.build_features(
        tx, cutoffs, config, horizon_days=HORIZON, purchase_rule="non_negative"
    )

    compare(positive, default.to_pandas())
    today = reference_features(
        frame, cutoffs, config, events=None, horizon_days=HORIZON, active_within_days=None
    )
    compare(default, today)
    assert "free-only" not in default["customer_id"].to_pylist()
    row = free.to_pandas().set_index("customer_id").loc["free-only"].iloc[0]
    assert row["n_purchases"] == 3
    assert row["monetary_sum"] == 0.0
    assert pd.isna(row["refund_share"])
    assert free.num_rows > default.num_rows


def test_build_features_ignore_exit_surveys(
    small: synthetic.DemoData, con: ibis.BaseBackend
) -> None:
    """Exit surveys come after leaving: an exit_survey event before a cutoff changes nothing."""
    config = features.FeatureConfig()
    cutoffs = cutoffs_of(small)[:2]
    tx = con.create_table("tx_exit", small.transactions, overwrite=True)
    some = small.events.slice(0, 500).to_pandas()
    surveys = some.assign(type="exit_survey", value=1.0)
    with_surveys = pa.concat_tables(
        [small.events, pa.Table.from_pandas(surveys, schema=small.events.schema)]
    )
    plain = con.create_table("ev_plain", small.events, overwrite=True)
    mixed = con.create_table("ev_exit", with_surveys, overwrite=True)
    kwargs = {"horizon_days": HORIZON, "active_within_days": 365}
    got = features.build_features(tx, cutoffs, config, events=mixed, **kwargs)
    expected = features.build_features(tx, cutoffs, config, events=plain, **kwargs)
    assert got.sort_by([("customer_id", "ascending"), ("cutoff", "ascending")]).equals(
        expected.sort_by([("customer_id", "ascending"), ("cutoff", "ascending")])
    )

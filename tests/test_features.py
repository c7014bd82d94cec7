"""Feature engine: matches an independent pandas implementation, never looks past the cutoff."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from churn import features, synthetic
from churn.errors import ConfigError
from tests.feature_reference import reference_features

HORIZON = 90
EXACT = 1e-9
FITTED = 1e-5  # BG/NBD columns: two optimiser runs on the same likelihood, summed in another order


@pytest.fixture(scope="module")
def small(world: synthetic.WorldParams) -> synthetic.DemoData:
    return synthetic.generate(world, n_customers=1_500, seed=11)


@pytest.fixture(scope="module")
def con() -> ibis.BaseBackend:
    return ibis.duckdb.connect()


def _cutoffs(demo: synthetic.DemoData) -> list[pd.Timestamp]:
    end = pd.Timestamp(demo.params.end_date)
    return [end - pd.Timedelta(days=d) for d in (90, 120, 400, 1000)]


def _compare(engine: pa.Table, expected: pd.DataFrame) -> None:
    """Same rows and columns; numbers equal to 1e-9 (fitted BG/NBD columns to 1e-5)."""
    got = engine.to_pandas()
    assert list(got.columns) == list(expected.columns)
    assert len(got) == len(expected)
    pd.testing.assert_series_equal(got["customer_id"], expected["customer_id"], check_dtype=False)
    for name in got.columns[2:]:
        if name == "lifecycle_stage":
            assert (got[name].astype(str) == expected[name].astype(str)).all()
            continue
        tol = FITTED if name.startswith("btyd_") else EXACT
        np.testing.assert_allclose(
            got[name].to_numpy(dtype=float),
            expected[name].to_numpy(dtype=float),
            rtol=tol,
            atol=tol,
            err_msg=name,
        )


@pytest.mark.parametrize("with_events", [True, False])
def test_build_features_matches_pandas_reference(
    small: synthetic.DemoData, con: ibis.BaseBackend, with_events: bool
) -> None:
    config = features.FeatureConfig()
    cutoffs = _cutoffs(small)
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
    _compare(got, expected)


def test_build_features_matches_reference_without_category_or_btyd(
    small: synthetic.DemoData, con: ibis.BaseBackend
) -> None:
    config = features.FeatureConfig(windows=(14, 60), trend_days=30, btyd_enabled=False)
    table = small.transactions.drop_columns(["category"])
    tx = con.create_table("tx_nocat", table, overwrite=True)
    cutoffs = _cutoffs(small)[:2]
    got = features.build_features(tx, cutoffs, config, horizon_days=HORIZON)
    expected = reference_features(
        table.to_pandas(),
        cutoffs,
        config,
        events=None,
        horizon_days=HORIZON,
        active_within_days=None,
    )
    _compare(got, expected)
    assert "category_count" not in got.column_names


def test_build_features_schema_is_stable(small: synthetic.DemoData, con: ibis.BaseBackend) -> None:
    """Same column types whatever the data: here a cutoff before any purchase (no rows)."""
    config = features.FeatureConfig()
    tx = con.create_table("tx_schema", small.transactions, overwrite=True)
    ev = con.create_table("ev_schema", small.events, overwrite=True)
    full = features.build_features(tx, _cutoffs(small)[:1], config, events=ev, horizon_days=HORIZON)
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


# --- leakage: nothing at or after the cutoff may change a feature at the cutoff -----------------

CUTOFF = dt.datetime(2024, 6, 1)
BASE = dt.datetime(2024, 1, 1)
CUSTOMERS = ["a", "b", "c", "d"]
CATEGORIES = ["x", "y", "z"]


def _rows(draw: st.DrawFn, start: dt.datetime, days: int, n: tuple[int, int]) -> list[tuple]:
    count = draw(st.integers(*n))
    return [
        (
            draw(st.sampled_from([*CUSTOMERS, "new"])),
            start + dt.timedelta(seconds=draw(st.integers(0, days * 86_400 - 1))),
            draw(st.sampled_from([-5.0, 3.5, 10.0, 24.99, 80.0])),
            draw(st.sampled_from(CATEGORIES)),
        )
        for _ in range(count)
    ]


@st.composite
def history_and_future(draw: st.DrawFn) -> tuple[list[tuple], list[tuple], list[tuple]]:
    past = _rows(draw, BASE, (CUTOFF - BASE).days, (1, 40))
    # purchases on the cutoff's own day boundary and later: all must be ignored
    future = _rows(draw, CUTOFF, 200, (1, 30))
    future.append((draw(st.sampled_from(CUSTOMERS)), CUTOFF, 50.0, "x"))
    events = [
        (
            draw(st.sampled_from(CUSTOMERS)),
            CUTOFF + dt.timedelta(hours=draw(st.integers(0, 2000))),
            draw(st.sampled_from(["complaint", "support_ticket", "nps"])),
            float(draw(st.integers(0, 10))),
        )
        for _ in range(draw(st.integers(0, 5)))
    ]
    return past, future, events


def _tx_table(rows: list[tuple]) -> pa.Table:
    customer, ts, amount, category = zip(*rows, strict=True) if rows else ([], [], [], [])
    return pa.table(
        {
            "customer_id": pa.array(customer, pa.string()),
            "timestamp": pa.array(ts, pa.timestamp("us")),
            "amount": pa.array(amount, pa.float64()),
            "category": pa.array(category, pa.string()),
        }
    )


def _event_table(rows: list[tuple]) -> pa.Table:
    customer, ts, kind, value = zip(*rows, strict=True) if rows else ([], [], [], [])
    return pa.table(
        {
            "customer_id": pa.array(customer, pa.string()),
            "timestamp": pa.array(ts, pa.timestamp("us")),
            "type": pa.array(kind, pa.string()),
            "value": pa.array(value, pa.float64()),
        }
    )


PAST_EVENTS = [
    ("a", dt.datetime(2024, 5, 20), "complaint", float("nan")),
    ("b", dt.datetime(2024, 3, 1), "nps", 4.0),
]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history_and_future())
def test_build_features_ignores_rows_at_or_after_cutoff(
    data: tuple[list[tuple], list[tuple], list[tuple]],
) -> None:
    past, future, future_events = data
    con = ibis.duckdb.connect()
    config = features.FeatureConfig(btyd_enabled=True)

    def run(tx_rows: list[tuple], ev_rows: list[tuple], name: str) -> pd.DataFrame:
        tx = con.create_table(f"tx_{name}", _tx_table(tx_rows), overwrite=True)
        ev = con.create_table(f"ev_{name}", _event_table(ev_rows), overwrite=True)
        out = features.build_features(tx, [CUTOFF], config, events=ev, horizon_days=HORIZON)
        return out.to_pandas()

    before = run(past, PAST_EVENTS, "before")
    after = run(past + future, PAST_EVENTS + future_events, "after")
    _compare(pa.Table.from_pandas(after, preserve_index=False), before)


def test_build_features_ignore_the_real_future(
    small: synthetic.DemoData, con: ibis.BaseBackend
) -> None:
    """Adding the held-back future (and more) changes nothing at the data end, BG/NBD included."""
    end = pd.Timestamp(small.params.end_date)
    cutoffs = [end, end - pd.Timedelta(days=200)]
    config = features.FeatureConfig()
    observed = con.create_table("tx_obs", small.transactions, overwrite=True)
    everything = con.create_table(
        "tx_all", pa.concat_tables([small.transactions, small.future_transactions]), overwrite=True
    )
    ev_obs = con.create_table("ev_obs", small.events, overwrite=True)
    ev_all = con.create_table(
        "ev_all", pa.concat_tables([small.events, small.future_events]), overwrite=True
    )
    before = features.build_features(observed, cutoffs, config, events=ev_obs, horizon_days=HORIZON)
    after = features.build_features(
        everything, cutoffs, config, events=ev_all, horizon_days=HORIZON
    )
    assert small.future_transactions.num_rows > 0
    assert before.column("btyd_p_alive").null_count == 0
    # Equal up to the order of floating-point additions in DuckDB's parallel aggregation.
    _compare(after, before.to_pandas())


def test_build_features_tied_timestamps_match_reference() -> None:
    """Several purchases at the same instant: day counts, gaps and spends stay exact."""
    t0 = dt.datetime(2024, 3, 1, 12)
    rows = [
        ("a", t0, 10.0, "x"),
        ("a", t0, 30.0, "y"),
        ("a", t0, 20.0, "x"),
        ("a", t0 + dt.timedelta(days=9), 5.0, "y"),
        ("a", t0 + dt.timedelta(days=9), 7.0, "y"),
        ("a", t0 + dt.timedelta(days=30, hours=3), 1.0, "z"),
        ("b", t0, 4.0, "x"),
        ("b", t0, 4.0, "x"),
    ]
    table = _tx_table(rows)
    config = features.FeatureConfig(btyd_enabled=False)
    tx = ibis.duckdb.connect().create_table("ties", table)
    got = features.build_features(tx, [CUTOFF], config, horizon_days=HORIZON)
    expected = reference_features(
        table.to_pandas(),
        [pd.Timestamp(CUTOFF)],
        config,
        events=None,
        horizon_days=HORIZON,
        active_within_days=None,
    )
    _compare(got, expected)
    a = got.to_pandas().set_index("customer_id").loc["a"]
    assert a["frequency"] == 3
    assert a["last_amount"] == 1.0


def test_features_at_a_cutoff_do_not_depend_on_the_other_cutoffs(
    small: synthetic.DemoData, con: ibis.BaseBackend
) -> None:
    """History is merged across the intervals between cutoffs: alone or among others, a
    cutoff's features are the same (scoring asks for one date, training for many)."""
    config = features.FeatureConfig(btyd_enabled=False)
    tx = con.create_table("tx_alone", small.transactions, overwrite=True)
    ev = con.create_table("ev_alone", small.events, overwrite=True)
    cutoffs = _cutoffs(small)
    together = features.build_features(
        tx, cutoffs, config, events=ev, horizon_days=HORIZON, active_within_days=365
    ).to_pandas()
    for cutoff in cutoffs:
        alone = features.build_features(
            tx, [cutoff], config, events=ev, horizon_days=HORIZON, active_within_days=365
        )
        same = together[together["cutoff"] == cutoff].reset_index(drop=True)
        assert len(same) > 0
        _compare(alone, same)


def test_constant_spend_has_zero_spread_across_intervals() -> None:
    """Identical amounts spread over many intervals give a standard deviation of exactly 0
    (a plain sum of squares would leave rounding noise)."""
    t0 = dt.datetime(2023, 1, 5, 9)
    # 97 x 9.99 and 7 x 1234.56: a plain sum of squares leaves 2.5e-7 and 1.9e-5
    rows = [("a", t0 + dt.timedelta(days=5 * i), 9.99, "x") for i in range(97)]
    rows += [("b", t0 + dt.timedelta(days=60 * i), 1234.56, "y") for i in range(7)]
    cutoffs = [pd.Timestamp(CUTOFF) - pd.Timedelta(days=30 * k) for k in range(12)]
    tx = ibis.duckdb.connect().create_table("constant", _tx_table(rows))
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
    monkeypatch.setattr(features, "RESULT_BATCH_ROWS", 500)
    config = features.FeatureConfig()
    tx = con.create_table("tx_write", small.transactions, overwrite=True)
    ev = con.create_table("ev_write", small.events, overwrite=True)
    cutoffs = _cutoffs(small)
    kwargs = {"events": ev, "horizon_days": HORIZON, "active_within_days": 365}
    expected = features.build_features(tx, cutoffs, config, **kwargs)
    path = tmp_path / "features.parquet"
    rows = features.write_features(tx, cutoffs, config, path, **kwargs)
    written = pq.read_table(path)
    assert rows == written.num_rows == expected.num_rows > 2_000
    assert written.schema == expected.schema
    assert pq.ParquetFile(path).metadata.num_row_groups > 1
    assert written.column("btyd_p_alive").null_count == 0
    _compare(written, expected.to_pandas())
    assert [p.name for p in tmp_path.iterdir()] == ["features.parquet"]  # no temporary left


def test_btyd_summary_equals_the_feature_query_columns(
    small: synthetic.DemoData, con: ibis.BaseBackend
) -> None:
    tx = con.create_table("tx_summary", small.transactions, overwrite=True)
    cutoffs = _cutoffs(small)
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

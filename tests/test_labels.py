"""Cutoff schedule, population and churn labels at the edges of their windows."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from churn import features, labels, synthetic
from churn.errors import ConfigError, DataError
from churn.features import FeatureConfig

C = pd.Timestamp("2024-06-01")
H = 90
CONFIG = FeatureConfig(btyd_enabled=False)


def _tx(rows: list[tuple[str, dt.datetime, float]]) -> ibis.Table:
    customer, ts, amount = zip(*rows, strict=True)
    table = pa.table(
        {
            "customer_id": pa.array(customer, pa.string()),
            "timestamp": pa.array(ts, pa.timestamp("us")),
            "amount": pa.array(amount, pa.float64()),
        }
    )
    return ibis.duckdb.connect().create_table("tx", table)


def _labels(rows: list[tuple[str, dt.datetime, float]], **label: int | None) -> dict[str, int]:
    tx = _tx(rows)
    config = labels.LabelConfig(horizon_days=H, **label)  # type: ignore[arg-type]
    end = C + pd.Timedelta(days=H)
    table = labels.training_table(tx, [C], CONFIG, config, end=end)
    return dict(zip(table["customer_id"].to_pylist(), table["churned"].to_pylist(), strict=True))


def test_training_table_label_window_edges() -> None:
    day = dt.timedelta(days=1)
    rows = [
        ("at_cutoff", C - 10 * day, 5.0),
        ("at_cutoff", C.to_pydatetime(), 5.0),  # exactly at c: inside the window
        ("at_end", C - 10 * day, 5.0),
        ("at_end", (C + H * day).to_pydatetime(), 5.0),  # exactly at c + H: outside
        ("just_before_end", C - 10 * day, 5.0),
        ("just_before_end", (C + H * day).to_pydatetime() - dt.timedelta(microseconds=1), 5.0),
        ("refund_only", C - 10 * day, 5.0),
        ("refund_only", C + 5 * day, -5.0),  # a refund is not a purchase
        ("quiet", C - 10 * day, 5.0),
    ]
    assert _labels(rows, active_within_days=365) == {
        "at_cutoff": 0,
        "at_end": 1,
        "just_before_end": 0,
        "quiet": 1,
        "refund_only": 1,
    }


def test_training_table_population_edges() -> None:
    a = 100
    rows = [
        ("edge", (C - pd.Timedelta(days=a)).to_pydatetime(), 5.0),  # exactly A days before: in
        ("lapsed", (C - pd.Timedelta(days=a, seconds=1)).to_pydatetime(), 5.0),  # just older: out
        ("recent", (C - pd.Timedelta(days=1)).to_pydatetime(), 5.0),
        ("only_refunds", (C - pd.Timedelta(days=1)).to_pydatetime(), -5.0),  # never bought
        ("after", C.to_pydatetime(), 5.0),  # first purchase at c: not in the population yet
    ]
    assert set(_labels(rows, active_within_days=a)) == {"edge", "recent"}
    assert set(_labels(rows, active_within_days=None)) == {"edge", "lapsed", "recent"}


def test_label_outcomes_rejects_unobserved_window() -> None:
    tx = _tx([("a", dt.datetime(2024, 1, 1), 5.0)])
    with pytest.raises(ConfigError, match=r"reach past it"):
        labels.label_outcomes(tx, [C], horizon_days=H, end=C + pd.Timedelta(days=H - 1))


def test_data_end_is_day_after_last_purchase() -> None:
    tx = _tx(
        [
            ("a", dt.datetime(2024, 3, 5, 23, 59), 5.0),
            ("a", dt.datetime(2024, 3, 9, 10, 0), -5.0),  # a later refund does not move E
        ]
    )
    assert labels.data_end(tx) == pd.Timestamp("2024-03-06")
    assert labels.data_end(tx, end_date="2024-04-01") == pd.Timestamp("2024-04-01")
    with pytest.raises(ConfigError, match="expected a date"):
        labels.data_end(tx, end_date="2024-04-01 10:00")


def test_data_end_without_purchases() -> None:
    with pytest.raises(DataError, match="at least one purchase"):
        labels.data_end(_tx([("a", dt.datetime(2024, 3, 5), -5.0)]))


def test_cutoff_schedule_latest_first() -> None:
    config = labels.LabelConfig(horizon_days=90, step_days=30, n_cutoffs=3)
    end = pd.Timestamp("2026-01-01")
    assert labels.cutoff_schedule(end, config) == [
        pd.Timestamp("2025-10-03"),
        pd.Timestamp("2025-09-03"),
        pd.Timestamp("2025-08-04"),
    ]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"horizon_days": 0}, "horizon_days: expected a whole number >= 1"),
        ({"n_cutoffs": 2.5}, "n_cutoffs: expected a whole number >= 1"),
        ({"active_within_days": 0}, "active_within_days: expected >= 1 or null"),
        ({"horizon": 90}, r"unknown keys \['horizon'\]"),
    ],
)
def test_label_config_from_mapping_invalid(values: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        labels.LabelConfig.from_mapping(values)


def test_training_table_on_demo_matches_oracle_share(world: synthetic.WorldParams) -> None:
    """On demo data the label share agrees with the simulation's own truth."""
    demo = synthetic.generate(world, n_customers=3_000, seed=4)
    con = ibis.duckdb.connect()
    tx = con.create_table("tx", demo.transactions)
    end = labels.data_end(tx)
    assert end == pd.Timestamp(world.end_date)
    config = labels.LabelConfig(n_cutoffs=3)
    cutoffs = labels.cutoff_schedule(end, config)
    table = labels.training_table(tx, cutoffs, CONFIG, config, end=end).to_pandas()
    for cutoff, group in table.groupby("cutoff"):
        oracle = synthetic.oracle_no_purchase(demo.ground_truth, world, cutoff, horizon_days=90)
        expected = oracle.reindex(group["customer_id"]).mean()
        assert abs(group["churned"].mean() - expected) < 0.04


def test_write_training_table_equals_the_in_memory_table(
    world: synthetic.WorldParams, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Written in batches (here of 700 rows), labelled batch by batch: the same table."""
    monkeypatch.setattr(features, "RESULT_BATCH_ROWS", 700)
    demo = synthetic.generate(world, n_customers=2_000, seed=5)
    con = ibis.duckdb.connect()
    tx = con.create_table("tx", demo.transactions)
    ev = con.create_table("ev", demo.events)
    end = labels.data_end(tx)
    config = labels.LabelConfig(horizon_days=90, n_cutoffs=4)
    cutoffs = labels.cutoff_schedule(end, config)
    feature_config = FeatureConfig()
    expected = labels.training_table(tx, cutoffs, feature_config, config, end=end, events=ev)
    path = tmp_path / "table.parquet"
    rows = labels.write_training_table(
        tx, cutoffs, feature_config, config, path, end=end, events=ev
    )
    written = pq.read_table(path)
    assert rows == written.num_rows == expected.num_rows > 1_400
    assert pq.ParquetFile(path).metadata.num_row_groups > 1
    assert written.schema == expected.schema
    assert written["churned"].equals(expected["churned"])
    assert written["customer_id"].equals(expected["customer_id"])
    for name in written.column_names[2:]:
        if name in {"lifecycle_stage", "churned"}:
            assert written[name].equals(expected[name]), name
            continue
        tol = 1e-5 if name.startswith("btyd_") else 1e-9
        np.testing.assert_allclose(
            written[name].to_numpy(zero_copy_only=False).astype(float),
            expected[name].to_numpy(zero_copy_only=False).astype(float),
            rtol=tol,
            atol=tol,
            err_msg=name,
        )

"""The labelled training table: label windows, population edges, the batched writer."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import ibis
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from churn import labels, synthetic, training_table
from churn.features import FeatureConfig
from tests.test_labels import CONFIG, C, H, _tx


def _labels(rows: list[tuple[str, dt.datetime, float]], **label: int | None) -> dict[str, int]:
    tx = _tx(rows)
    config = labels.LabelConfig(horizon_days=H, **label)  # type: ignore[arg-type]
    end = C + pd.Timedelta(days=H)
    table = training_table.build(tx, [C], CONFIG, config, end=end)
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


def test_training_table_on_demo_matches_oracle_share(world: synthetic.WorldConfig) -> None:
    """On demo data the label share agrees with the simulation's own truth."""
    demo = synthetic.generate(world, n_customers=3_000, seed=4)
    con = ibis.duckdb.connect()
    tx = con.create_table("tx", demo.transactions)
    end = labels.data_end(tx)
    assert end == pd.Timestamp(world.end_date)
    config = labels.LabelConfig(n_cutoffs=3)
    cutoffs = labels.cutoff_schedule(end, config)
    table = training_table.build(tx, cutoffs, CONFIG, config, end=end).to_pandas()
    for cutoff, group in table.groupby("cutoff"):
        oracle = synthetic.oracle_no_purchase(demo.ground_truth, world, cutoff, horizon_days=90)
        expected = oracle.reindex(group["customer_id"]).mean()
        assert abs(group["churned"].mean() - expected) < 0.04


def test_write_training_table_equals_the_in_memory_table(
    world: synthetic.WorldConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Written in batches (here of 700 rows), labelled batch by batch: the same table."""
    monkeypatch.setattr("churn.features.build.RESULT_BATCH_ROWS", 700)
    demo = synthetic.generate(world, n_customers=2_000, seed=5)
    con = ibis.duckdb.connect()
    tx = con.create_table("tx", demo.transactions)
    ev = con.create_table("ev", demo.events)
    end = labels.data_end(tx)
    config = labels.LabelConfig(horizon_days=90, n_cutoffs=4)
    cutoffs = labels.cutoff_schedule(end, config)
    feature_config = FeatureConfig()
    expected = training_table.build(tx, cutoffs, feature_config, config, end=end, events=ev)
    path = tmp_path / "table.parquet"
    rows = training_table.write(tx, cutoffs, feature_config, config, path, end=end, events=ev)
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

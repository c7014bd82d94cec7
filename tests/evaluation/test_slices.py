"""Quality per segment: lifecycle stage, tenure band, value tier, channel."""

from __future__ import annotations

import logging
import math

import ibis
import numpy as np
import pandas as pd
import pytest

from churn.evaluation import slices


def _rows(n: int = 3000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    rows = pd.DataFrame(
        {
            "lifecycle_stage": rng.choice(["new", "established", "lapsing"], n),
            "tenure_days": rng.integers(0, 1500, n),
            "spend_365d": rng.exponential(100.0, n),
            "channel": rng.choice(["web", "store"], n),
        }
    )
    truth = rng.random(n)
    y = (rng.random(n) < truth).astype(int)
    noisy = np.clip(truth + rng.normal(0, 0.3, n), 0.001, 0.999)
    return rows, y, {"model": truth, "weak": noisy, "flat": np.full(n, y.mean())}


def test_segments_cover_every_row_once_per_slice() -> None:
    rows, _, _ = _rows()
    cut = slices.segments(rows)
    assert set(cut) == {"lifecycle_stage", "tenure", "value", "channel"}
    for segment in cut.values():
        assert segment.notna().all()
    assert set(cut["tenure"]) == {"under 90 days", "90-365 days", "1-2 years", "over 2 years"}
    counts = cut["value"].value_counts()
    assert set(counts.index) == set(slices.VALUE_TIERS)
    assert counts.max() - counts.min() <= 1  # thirds
    assert (rows.loc[cut["value"] == "high", "spend_365d"].min()) >= (
        rows.loc[cut["value"] == "low", "spend_365d"].max()
    )


def test_slice_metrics_compare_with_the_best_baseline() -> None:
    rows, y, scores = _rows()
    records = slices.slice_metrics(rows, y, scores, model="model", baselines=["weak", "flat"])
    assert {r["slice"] for r in records} == {"lifecycle_stage", "tenure", "value", "channel"}
    assert sum(r["rows"] for r in records if r["slice"] == "channel") == len(rows)
    for record in records:
        assert record["roc_auc"] > record["best_baseline_roc_auc"]  # the truth ranks best
        assert record["brier"] <= record["best_baseline_brier"] + 1e-9
        mask = slices.segments(rows)[record["slice"]] == record["segment"]
        assert record["churn_rate"] == pytest.approx(y[mask.to_numpy()].mean())


def test_small_or_one_class_segments_have_no_metrics() -> None:
    rows, y, scores = _rows(n=400)
    rows.loc[:9, "channel"] = "phone"
    y[:10] = 1
    records = slices.slice_metrics(rows, y, scores, model="model", baselines=["weak"], min_rows=50)
    phone = next(r for r in records if r["slice"] == "channel" and r["segment"] == "phone")
    assert phone["rows"] == 10
    assert phone["churn_rate"] == 1.0
    assert "roc_auc" not in phone
    assert not math.isnan(next(r for r in records if r["segment"] == "web")["roc_auc"])


def test_a_segment_where_a_baseline_wins_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    rows, y, scores = _rows()
    with caplog.at_level(logging.WARNING):
        slices.slice_metrics(rows, y, scores, model="weak", baselines=["model"])
    assert "a baseline ranks better than the model on" in caplog.text


def _transactions(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": [r[0] for r in rows],
            "timestamp": pd.to_datetime([r[1] for r in rows], format="ISO8601"),
            "channel": [r[2] for r in rows],
            "amount": 10.0,
        }
    )


BEFORE = [
    ("a", "2024-01-02", "web"),
    ("a", "2024-01-05", "web"),
    ("a", "2024-01-20", "app"),
    ("b", "2024-01-03", "store"),
    ("b", "2024-01-09", "app"),  # a tie with store: the more recent one wins
]
CUTOFF = pd.Timestamp("2024-02-01")
# at or after the cutoff: they would make "a" an app customer, and "c" a customer at all
AT_OR_AFTER = [
    ("a", "2024-02-01", "app"),
    ("a", "2024-02-01 00:00:01", "app"),
    ("a", "2024-03-01", "app"),
    ("b", "2024-02-02", "store"),
    ("c", "2024-02-01", "web"),
]


def test_main_channels_is_point_in_time() -> None:
    before = slices.main_channels(ibis.memtable(_transactions(BEFORE)), CUTOFF)
    everything = slices.main_channels(ibis.memtable(_transactions(BEFORE + AT_OR_AFTER)), CUTOFF)
    assert dict(zip(before["customer_id"], before["channel"], strict=True)) == {
        "a": "web",
        "b": "app",
    }
    pd.testing.assert_frame_equal(everything, before)  # nothing at or after the cutoff counts
    later = slices.main_channels(
        ibis.memtable(_transactions(BEFORE + AT_OR_AFTER)), pd.Timestamp("2024-04-01")
    )
    assert dict(zip(later["customer_id"], later["channel"], strict=True)) == {
        "a": "app",
        "b": "store",
        "c": "web",
    }


def test_with_main_channel_joins_each_rows_cutoff() -> None:
    tx = ibis.memtable(_transactions(BEFORE + AT_OR_AFTER))
    rows = pd.DataFrame(
        {
            "customer_id": ["a", "c", "a", "c"],
            "cutoff": pd.to_datetime(["2024-02-01", "2024-02-01", "2024-04-01", "2024-04-01"]),
            "spend_365d": [1.0, 2.0, 3.0, 4.0],
        }
    )
    joined = slices.with_main_channel(rows, tx)
    assert joined["channel"].dtype == "string"
    assert joined["channel"].fillna("none").tolist() == ["web", "none", "app", "web"]
    assert "channel" not in rows  # a new frame
    assert set(slices.segments(joined)) >= {"channel", "value"}
    own = rows.assign(channel="store")
    assert slices.with_main_channel(own, tx)["channel"].tolist() == ["store"] * 4


def test_main_channels_without_a_channel_column() -> None:
    tx = ibis.memtable(_transactions(BEFORE).drop(columns="channel"))
    with pytest.raises(ValueError, match="expected a channel column"):
        slices.main_channels(tx, CUTOFF)
    rows = pd.DataFrame({"customer_id": ["a"], "cutoff": [CUTOFF]})
    assert "channel" not in slices.with_main_channel(rows, tx)

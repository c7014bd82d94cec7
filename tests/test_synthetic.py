"""The demo world: determinism, documented shares, planted behaviour, and an exact oracle."""

from __future__ import annotations

import dataclasses
import json
import stat
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from churn import synthetic
from churn.errors import ConfigError

HORIZON = 90


def _purchases(demo: synthetic.DemoData) -> pd.DataFrame:
    tx = pa.concat_tables([demo.transactions, demo.future_transactions]).to_pandas()
    return tx[tx["amount"] > 0]


def _no_purchase_in_window(
    purchases: pd.DataFrame, ids: pd.Index, cutoff: pd.Timestamp
) -> np.ndarray:
    window = purchases[
        (purchases["timestamp"] >= cutoff)
        & (purchases["timestamp"] < cutoff + pd.Timedelta(days=HORIZON))
    ]
    return ~ids.isin(window["customer_id"].unique())


def test_generate_same_seed_same_data(world: synthetic.WorldParams) -> None:
    a = synthetic.generate(world, n_customers=1_500, seed=7, chunk_customers=500)
    b = synthetic.generate(world, n_customers=1_500, seed=7, chunk_customers=500)
    for field in ("transactions", "customers", "events", "future_transactions", "future_events"):
        assert getattr(a, field).equals(getattr(b, field)), field
    pd.testing.assert_frame_equal(a.ground_truth, b.ground_truth)


def test_generate_other_seed_other_data(world: synthetic.WorldParams) -> None:
    a = synthetic.generate(world, n_customers=1_500, seed=7)
    b = synthetic.generate(world, n_customers=1_500, seed=8)
    assert not a.transactions.equals(b.transactions)


def test_generate_rejects_no_customers(world: synthetic.WorldParams) -> None:
    with pytest.raises(ConfigError, match="n_customers: expected >= 1; got 0"):
        synthetic.generate(world, n_customers=0, seed=0)


def test_generate_follows_data_contract(demo: synthetic.DemoData) -> None:
    tx = demo.transactions
    assert tx.schema.field("customer_id").type == pa.string()
    assert tx.schema.field("timestamp").type == pa.timestamp("us")
    assert tx.schema.field("amount").type == pa.float64()
    frame = tx.to_pandas()
    end = pd.Timestamp(demo.params.end_date)
    assert frame["timestamp"].max() < end
    assert frame["timestamp"].min() >= pd.Timestamp(demo.params.start_date)
    assert frame["transaction_id"].is_unique
    assert np.isfinite(frame["amount"]).all()
    future = demo.future_transactions.to_pandas()
    assert future["timestamp"].min() >= end
    assert future["timestamp"].max() < end + pd.Timedelta(days=demo.params.future_days)
    assert set(future["transaction_id"]).isdisjoint(frame["transaction_id"])
    events = demo.events.to_pandas()
    assert set(events["type"]) == set(synthetic.EVENT_TYPES)
    nps = events.loc[events["type"] == "nps", "value"]
    assert nps.between(0, 10).all()
    assert (nps == nps.round()).all()
    assert events.loc[events["type"] != "nps", "value"].isna().all()


def test_generate_shares_in_documented_ranges(demo: synthetic.DemoData) -> None:
    """The ranges the README documents for the default demo world."""
    summary = demo.summary()
    assert 14 <= summary["transactions_per_buyer"] <= 19
    assert 0.01 <= summary["refund_share"] <= 0.035
    never = demo.ground_truth["never_purchased"].mean()
    assert 0.03 <= never <= 0.05
    assert 0.45 <= summary["dropped_out_by_end"] / summary["customers"] <= 0.55
    purchases = _purchases(demo)
    cutoff = pd.Timestamp(demo.params.end_date) - pd.Timedelta(days=HORIZON)
    before = purchases[purchases["timestamp"] < cutoff]
    last = before.groupby("customer_id")["timestamp"].max()
    active = last[last >= cutoff - pd.Timedelta(days=365)].index
    churn_share = _no_purchase_in_window(purchases, active, cutoff).mean()
    assert 0.38 <= churn_share <= 0.52
    customers = demo.customers.to_pandas()
    assert len(customers) == len(demo.ground_truth)
    assert customers["customer_id"].is_unique


def test_generate_weekly_and_yearly_seasonality(demo: synthetic.DemoData) -> None:
    ts = _purchases(demo)["timestamp"]
    by_weekday = ts.dt.day_of_week.value_counts(normalize=True)
    assert by_weekday[5] > by_weekday[6] * 1.2  # Saturday busier than Sunday
    by_month = ts[ts.dt.year == 2025].dt.month.value_counts()
    assert by_month[12] > by_month[6] * 1.2  # December busier than June


def test_generate_acquisition_spread_over_years(demo: synthetic.DemoData) -> None:
    acquired = demo.ground_truth["acquired_at"]
    assert acquired.dt.year.value_counts().sort_index().index.tolist() == [2023, 2024, 2025]
    assert (acquired.dt.year == 2025).sum() > (acquired.dt.year == 2023).sum()  # growth


def test_generate_complaints_raise_dropout_risk(demo: synthetic.DemoData) -> None:
    """A complaint makes leaving within 90 days far more likely than the base rate."""
    events = demo.events.to_pandas()
    gt = demo.ground_truth.set_index("customer_id")
    complaints = events[events["type"] == "complaint"].drop_duplicates("customer_id")
    fade = gt.loc[complaints["customer_id"], "fade_start"].to_numpy()
    after = (fade >= complaints["timestamp"].to_numpy()) & (
        fade < complaints["timestamp"].to_numpy() + np.timedelta64(HORIZON, "D")
    )
    surveys = events[events["type"] == "nps"].drop_duplicates("customer_id")
    fade_s = gt.loc[surveys["customer_id"], "fade_start"].to_numpy()
    after_s = (fade_s >= surveys["timestamp"].to_numpy()) & (
        fade_s < surveys["timestamp"].to_numpy() + np.timedelta64(HORIZON, "D")
    )
    assert after.mean() > 2 * after_s.mean()


def test_generate_nps_lower_for_leaving_customers(demo: synthetic.DemoData) -> None:
    events = demo.events.to_pandas()
    nps = events[events["type"] == "nps"].merge(demo.ground_truth, on="customer_id")
    fading = nps["timestamp"] >= nps["fade_start"]
    assert nps.loc[fading, "value"].mean() < nps.loc[~fading, "value"].mean() - 1.5


def test_generate_fading_before_dropout(demo: synthetic.DemoData) -> None:
    """Customers who fade buy less often and smaller baskets in the last part of their life."""
    purchases = _purchases(demo).merge(demo.ground_truth, on="customer_id")
    faders = purchases[
        (purchases["fade_days"] > 30)
        & (purchases["dropout_date"] < pd.Timestamp(demo.params.end_date))
        & (purchases["fade_start"] - purchases["acquired_at"] > pd.Timedelta(days=200))
    ]
    before = faders["timestamp"] - faders["fade_start"]
    span = pd.to_timedelta(faders["fade_days"], unit="D")
    early = faders[(before >= -span) & (before < pd.Timedelta(0))]
    late = faders[(before >= pd.Timedelta(0)) & (before < span)]
    assert len(late) < 0.6 * len(early)
    assert late["amount"].mean() < 0.9 * early["amount"].mean()


@pytest.mark.parametrize("offset_days", [400, 90, -60])
def test_oracle_no_purchase_matches_simulated_outcomes(
    demo: synthetic.DemoData, offset_days: int
) -> None:
    """Observed no-purchase shares agree with the oracle overall and per decile (4 sigma)."""
    cutoff = pd.Timestamp(demo.params.end_date) - pd.Timedelta(days=offset_days)
    oracle = synthetic.oracle_no_purchase(
        demo.ground_truth, demo.params, cutoff, horizon_days=HORIZON
    )
    observed = _no_purchase_in_window(_purchases(demo), oracle.index, cutoff)
    assert oracle.between(0, 1).all()
    sd = np.sqrt((oracle * (1 - oracle)).sum()) / len(oracle)
    assert abs(observed.mean() - oracle.mean()) < 4 * sd
    alive = oracle < 1
    bins = pd.qcut(oracle[alive], 10, labels=False, duplicates="drop")
    frame = pd.DataFrame({"p": oracle[alive].to_numpy(), "y": observed[alive.to_numpy()]})
    for _, group in frame.groupby(bins.to_numpy()):
        p, n = group["p"].mean(), len(group)
        tolerance = 4 * np.sqrt(max(p * (1 - p), 1e-3) / n) + 0.005
        assert abs(group["y"].mean() - p) < tolerance


def test_oracle_no_purchase_separates_outcomes(demo: synthetic.DemoData) -> None:
    from sklearn.metrics import roc_auc_score

    cutoff = pd.Timestamp(demo.params.end_date) - pd.Timedelta(days=HORIZON)
    oracle = synthetic.oracle_no_purchase(
        demo.ground_truth, demo.params, cutoff, horizon_days=HORIZON
    )
    observed = _no_purchase_in_window(_purchases(demo), oracle.index, cutoff)
    assert roc_auc_score(observed, oracle) > 0.9


def test_oracle_no_purchase_rejects_window_past_simulation(demo: synthetic.DemoData) -> None:
    cutoff = pd.Timestamp(demo.params.end_date) + pd.Timedelta(days=150)
    with pytest.raises(ConfigError, match="ends after the simulated period"):
        synthetic.oracle_no_purchase(demo.ground_truth, demo.params, cutoff, horizon_days=HORIZON)


def test_world_params_from_mapping_unknown_key() -> None:
    with pytest.raises(ConfigError, match=r"unknown keys \['purchase_rte'\]"):
        synthetic.WorldParams.from_mapping({"purchase_rte": 0.1})


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("fade_fraction", 1.5, r"fade_fraction: expected a probability in \[0, 1\); got 1.5"),
        ("purchase_rate_mean", 0.0, r"purchase_rate_mean: expected > 0; got 0.0"),
        ("weekly_factors", [1.0, 1.0], r"weekly_factors: wrong length 2"),
        ("end_date", "2023-03-01", "at least a year after start_date"),
    ],
)
def test_world_params_from_mapping_invalid_value(key: str, value: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        synthetic.WorldParams.from_mapping({key: value})


def test_save_writes_layout_and_truth_round_trips(
    tmp_path: Path, world: synthetic.WorldParams
) -> None:
    demo = synthetic.generate(world, n_customers=300, seed=3)
    out = tmp_path / "demo"
    out.mkdir()
    (out / "stale.txt").write_text("from an earlier run")
    synthetic.save(demo, out, seed=3)
    names = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert names == {
        "transactions.parquet",
        "customers.parquet",
        "events.parquet",
        "ground_truth.parquet",
        "world.json",
        "future/transactions.parquet",
        "future/events.parquet",
    }
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    truth, params = synthetic.load_truth(out)
    assert params == world
    pd.testing.assert_frame_equal(truth, demo.ground_truth, check_dtype=False)
    assert json.loads((out / "world.json").read_text())["seed"] == 3
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp leftovers


def test_load_truth_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"run `python -m pipelines\.generate` first"):
        synthetic.load_truth(tmp_path / "nowhere")


def test_world_params_defaults_equal_demo_config(world: synthetic.WorldParams) -> None:
    """conf/world/demo.yaml is the reference; the code's defaults must not drift from it."""
    assert dataclasses.asdict(world) == dataclasses.asdict(synthetic.WorldParams())

"""The demo world: determinism, documented shares, planted behaviour, and an exact oracle."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from churn import synthetic
from churn.errors import ConfigError
from tests.synthetic.helpers import HORIZON, no_purchase_in_window, purchases_of


def test_generate_same_seed_same_data(world: synthetic.WorldConfig) -> None:
    a = synthetic.generate(world, n_customers=1_500, seed=7, chunk_customers=500)
    b = synthetic.generate(world, n_customers=1_500, seed=7, chunk_customers=500)
    for field in ("transactions", "customers", "events", "future_transactions", "future_events"):
        assert getattr(a, field).equals(getattr(b, field)), field
    pd.testing.assert_frame_equal(a.ground_truth, b.ground_truth)


# sha256 of the seed-0, 20k-customer demo world's tables and ground truth (pandas row hashes):
# new world parameters must leave the demo world's data bit-identical.
DEMO_SEED0_DIGEST = "0b6ad2707c8f485b6cb5c6df2a78442c2bad326290efab6660f0f8e5d4f43625"


def test_generate_demo_world_seed0_unchanged(demo: synthetic.DemoData) -> None:
    digest = hashlib.sha256()
    for field in ("transactions", "customers", "events", "future_transactions", "future_events"):
        frame = getattr(demo, field).to_pandas()
        digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    digest.update(pd.util.hash_pandas_object(demo.ground_truth, index=False).to_numpy().tobytes())
    assert digest.hexdigest() == DEMO_SEED0_DIGEST


def test_generate_other_seed_other_data(world: synthetic.WorldConfig) -> None:
    a = synthetic.generate(world, n_customers=1_500, seed=7)
    b = synthetic.generate(world, n_customers=1_500, seed=8)
    assert not a.transactions.equals(b.transactions)


def test_generate_rejects_no_customers(world: synthetic.WorldConfig) -> None:
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
    purchases = purchases_of(demo)
    cutoff = pd.Timestamp(demo.params.end_date) - pd.Timedelta(days=HORIZON)
    before = purchases[purchases["timestamp"] < cutoff]
    last = before.groupby("customer_id")["timestamp"].max()
    active = last[last >= cutoff - pd.Timedelta(days=365)].index
    churn_share = no_purchase_in_window(purchases, active, cutoff).mean()
    assert 0.38 <= churn_share <= 0.52
    customers = demo.customers.to_pandas()
    assert len(customers) == len(demo.ground_truth)
    assert customers["customer_id"].is_unique


def test_generate_weekly_and_yearly_seasonality(demo: synthetic.DemoData) -> None:
    ts = purchases_of(demo)["timestamp"]
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
    purchases = purchases_of(demo).merge(demo.ground_truth, on="customer_id")
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

"""Every configured world: a sound config, an exact oracle, and the behaviour it is there for."""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import pandas as pd
import pytest
import yaml

from churn import synthetic
from tests.conftest import CONF_DIR
from tests.synthetic.helpers import (
    WORLDS,
    assert_oracle_agrees,
    churn_share,
    no_purchase_in_window,
    purchases_of,
    world_config,
)

N_CUSTOMERS = 4_000


@functools.cache
def _generated(name: str, n_customers: int = N_CUSTOMERS) -> synthetic.DemoData:
    params, _, _ = world_config(name)
    return synthetic.generate(params, n_customers=n_customers, seed=11)


def _cutoffs(name: str) -> list[pd.Timestamp]:
    """An early and the latest labelled cutoff, and one whose window runs into the future."""
    params, horizon, step = world_config(name)
    end = pd.Timestamp(params.end_date)
    latest = end - pd.Timedelta(days=horizon)
    early = latest - pd.Timedelta(days=5 * step)
    return [early, latest, end - pd.Timedelta(days=horizon // 3)]


def test_worlds_include_the_reference_worlds() -> None:
    assert {"demo", "cohort", "growth", "seasonal", "short", "regular"} <= set(WORLDS)


@pytest.mark.parametrize("name", WORLDS)
def test_world_config_lists_every_parameter_and_fits_its_horizon(name: str) -> None:
    raw = yaml.safe_load((CONF_DIR / "world" / f"{name}.yaml").read_text())
    assert raw["name"] == name
    if name != "demo":  # the demo world keeps the historical store and export folders
        assert raw["model_dir"] == f"models/{name}"
        assert raw["export_dir"] == f"exports/{name}"
        assert raw["outcome_dir"] == f"outcomes/{name}"
    fields = {f.name for f in dataclasses.fields(synthetic.WorldConfig)}
    assert set(raw["params"]) == fields
    params, horizon, step = world_config(name)
    assert params.future_days >= horizon
    # at least 4 backtest dates and 2 earlier training cutoffs, each with some history before
    start, end = pd.Timestamp(params.start_date), pd.Timestamp(params.end_date)
    cutoffs = [end - pd.Timedelta(days=horizon + k * step) for k in range(6)]
    assert cutoffs[-1] >= start + pd.Timedelta(days=min(step, 30))


@pytest.mark.parametrize("name", WORLDS)
@pytest.mark.parametrize("which", [0, 1, 2])
def test_world_oracle_matches_simulated_outcomes(name: str, which: int) -> None:
    demo = _generated(name)
    _, horizon, _ = world_config(name)
    cutoff = _cutoffs(name)[which]
    purchases = purchases_of(demo)
    oracle = synthetic.oracle_no_purchase(
        demo.ground_truth, demo.params, cutoff, horizon_days=horizon, transactions=purchases
    )
    observed = no_purchase_in_window(purchases, oracle.index, cutoff, horizon)
    assert_oracle_agrees(oracle, observed)


def test_cohort_signs_up_in_twelve_weeks_and_mostly_buys_once_or_twice() -> None:
    demo = _generated("cohort")
    start = pd.Timestamp(demo.params.start_date)
    assert demo.ground_truth["acquired_at"].max() < start + pd.Timedelta(days=84)
    per_buyer = purchases_of(demo).groupby("customer_id").size()
    assert (per_buyer <= 2).mean() > 0.5
    assert per_buyer.quantile(0.95) > 10  # heavy tail: a few buy often
    assert demo.transactions.to_pandas()["amount"].median() < 25  # small baskets


def test_cohort_churn_base_rate_rises_with_age() -> None:
    """The base rate rises over the cohort's first year, among all buyers and in the label's
    population (a purchase within the last year), and a year later on the same calendar date.
    """
    demo = _generated("cohort")
    _, horizon, _ = world_config("cohort")
    purchases = purchases_of(demo)
    start = pd.Timestamp(demo.params.start_date)
    ages = [120, 210, 300]
    for active_within_days in (None, 365):
        shares = [
            churn_share(purchases, start + pd.Timedelta(days=a), horizon, active_within_days)
            for a in ages
        ]
        assert np.all(np.diff(shares) > 0.02)
    young, older = (start + pd.Timedelta(days=a) for a in (120, 485))  # same calendar day
    assert (
        churn_share(purchases, older, horizon, None)
        > churn_share(purchases, young, horizon, None) + 0.05
    )


def test_growth_acquisitions_accelerate() -> None:
    demo = _generated("growth")
    acquired = demo.ground_truth["acquired_at"]
    thirds = pd.cut(acquired, 3, labels=False).value_counts().sort_index().to_numpy()
    assert thirds[1] > 1.6 * thirds[0]
    assert thirds[2] > 1.6 * thirds[1]
    assert thirds[2] - thirds[1] > thirds[1] - thirds[0]  # more than linear growth


def test_growth_shock_lowers_purchases_and_raises_dropout_of_shocked_customers() -> None:
    demo = _generated("growth", 12_000)
    gt = demo.ground_truth.set_index("customer_id")
    assert 0.3 < gt["shocked"].mean() < 0.4
    shock = pd.Timestamp(demo.params.shock_date)
    span = pd.Timedelta(days=90)
    engaged = gt[
        (gt["acquired_at"] < shock - span - span)
        & ~gt["never_purchased"]
        & ((gt["fade_start"] > shock + span) | gt["fade_start"].isna())
    ]
    purchases = purchases_of(demo)
    purchases = purchases[purchases["customer_id"].isin(engaged.index)]
    shocked = engaged.loc[purchases["customer_id"], "shocked"].to_numpy()
    before = purchases["timestamp"].between(shock - span, shock, inclusive="left").to_numpy()
    after = purchases["timestamp"].between(shock, shock + span, inclusive="left").to_numpy()
    ratio_hit = (after & shocked).sum() / (before & shocked).sum()
    ratio_rest = (after & ~shocked).sum() / (before & ~shocked).sum()
    assert 0.5 < ratio_hit / ratio_rest < 0.7  # shock_rate_factor 0.6
    alive = gt[~gt["never_purchased"] & (gt["acquired_at"] < shock)]
    alive = alive[(alive["fade_start"] >= shock) | alive["fade_start"].isna()]
    leaves = (alive["fade_start"] < shock + pd.Timedelta(days=180)).groupby(alive["shocked"])
    assert leaves.mean()[True] > 1.4 * leaves.mean()[False]  # complaint triggers fall too


def test_seasonal_window_churn_depends_on_the_calendar() -> None:
    demo = _generated("seasonal")
    _, horizon, _ = world_config("seasonal")
    purchases = purchases_of(demo)
    holiday = churn_share(purchases, pd.Timestamp("2024-11-05"), horizon)
    spring = churn_share(purchases, pd.Timestamp("2025-05-05"), horizon)
    holiday_next = churn_share(purchases, pd.Timestamp("2025-11-05"), horizon)
    assert spring > holiday + 0.1
    assert spring > holiday_next + 0.1
    by_week = purchases["timestamp"].dt.isocalendar().week.value_counts()
    assert by_week[51] > 3 * by_week[25]  # the holiday peak


@functools.cache
def _gap_cv(name: str) -> float:
    """Coefficient of variation of gaps between engaged purchases, relative to each customer."""
    demo = _generated(name)
    purchases = purchases_of(demo).merge(demo.ground_truth, on="customer_id")
    engaged = purchases[
        purchases["fade_start"].isna() | (purchases["timestamp"] < purchases["fade_start"])
    ]
    engaged = engaged.sort_values(["customer_id", "timestamp"])
    gaps = engaged.groupby("customer_id")["timestamp"].diff().dt.total_seconds() / 86_400
    frame = pd.DataFrame({"customer_id": engaged["customer_id"], "gap": gaps}).dropna()
    counts = frame.groupby("customer_id")["gap"].transform("size")
    frame = frame[counts >= 10]
    relative = frame["gap"] / frame.groupby("customer_id")["gap"].transform("mean")
    return float(relative.std())


def test_regular_gaps_are_far_more_regular_than_poisson() -> None:
    assert _gap_cv("regular") < 0.65  # Erlang-4: 0.5, plus seasonality
    assert _gap_cv("demo") > 0.85  # Poisson: 1


def test_short_world_has_thirteen_months() -> None:
    demo = _generated("short")
    params = demo.params
    assert 390 <= params.observed_days <= 400
    first = demo.transactions.to_pandas()["timestamp"].min()
    assert first < pd.Timestamp(params.start_date) + pd.Timedelta(days=3)

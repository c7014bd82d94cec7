"""The oracle against simulated outcomes."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churn import synthetic
from churn.errors import ConfigError, DataError
from tests.synthetic.helpers import (
    HORIZON,
    assert_oracle_agrees,
    no_purchase_in_window,
    purchases_of,
    world_config,
)


@pytest.mark.parametrize("offset_days", [400, 90, -60])
def test_oracle_no_purchase_matches_simulated_outcomes(
    demo: synthetic.DemoData, offset_days: int
) -> None:
    """Observed no-purchase shares agree with the oracle overall and per decile (4 sigma)."""
    cutoff = pd.Timestamp(demo.params.end_date) - pd.Timedelta(days=offset_days)
    oracle = synthetic.oracle_no_purchase(
        demo.ground_truth, demo.params, cutoff, horizon_days=HORIZON
    )
    observed = no_purchase_in_window(purchases_of(demo), oracle.index, cutoff)
    assert_oracle_agrees(oracle, observed)


def test_oracle_no_purchase_separates_outcomes(demo: synthetic.DemoData) -> None:
    from sklearn.metrics import roc_auc_score

    cutoff = pd.Timestamp(demo.params.end_date) - pd.Timedelta(days=HORIZON)
    oracle = synthetic.oracle_no_purchase(
        demo.ground_truth, demo.params, cutoff, horizon_days=HORIZON
    )
    observed = no_purchase_in_window(purchases_of(demo), oracle.index, cutoff)
    assert roc_auc_score(observed, oracle) > 0.9


def test_oracle_no_purchase_rejects_window_past_simulation(demo: synthetic.DemoData) -> None:
    cutoff = pd.Timestamp(demo.params.end_date) + pd.Timedelta(days=150)
    with pytest.raises(ConfigError, match="ends after the simulated period"):
        synthetic.oracle_no_purchase(demo.ground_truth, demo.params, cutoff, horizon_days=HORIZON)


@pytest.fixture(scope="module")
def regular() -> synthetic.DemoData:
    params, _, _ = world_config("regular")
    return synthetic.generate(params, n_customers=1_500, seed=2)


def test_oracle_no_purchase_erlang_with_one_phase_is_the_poisson_oracle(
    demo: synthetic.DemoData,
) -> None:
    """Erlang-1 gaps are exponential: the phase-mixed oracle gives the Poisson numbers."""
    truth = demo.ground_truth.iloc[:3_000]
    erlang = dataclasses.replace(demo.params, purchase_process="erlang", erlang_shape=1)
    cutoff = pd.Timestamp(demo.params.end_date) - pd.Timedelta(days=HORIZON)
    poisson = synthetic.oracle_no_purchase(truth, demo.params, cutoff, horizon_days=HORIZON)
    mixed = synthetic.oracle_no_purchase(
        truth, erlang, cutoff, horizon_days=HORIZON, transactions=purchases_of(demo)
    )
    np.testing.assert_allclose(mixed.to_numpy(), poisson.to_numpy(), rtol=1e-9, atol=1e-12)


def test_oracle_no_purchase_erlang_uses_the_phase(regular: synthetic.DemoData) -> None:
    """A regular buyer just after a purchase is less likely to buy soon than one due again."""
    cutoff = pd.Timestamp(regular.params.end_date) - pd.Timedelta(days=HORIZON)
    purchases = purchases_of(regular)
    oracle = synthetic.oracle_no_purchase(
        regular.ground_truth, regular.params, cutoff, horizon_days=30, transactions=purchases
    )
    last = purchases[purchases["timestamp"] < cutoff].groupby("customer_id")["timestamp"].max()
    since = (cutoff - last.reindex(oracle.index)).dt.days
    rate = regular.ground_truth.set_index("customer_id")["purchase_rate"].reindex(oracle.index)
    gap = 1 / rate
    engaged = oracle < 1
    just_bought = engaged & (since < 0.2 * gap) & (gap > 20) & (gap < 60)
    due = engaged & (since > 0.8 * gap) & (since < 1.2 * gap) & (gap > 20) & (gap < 60)
    assert oracle[just_bought].mean() > oracle[due].mean() + 0.1


def test_oracle_no_purchase_erlang_needs_transactions(regular: synthetic.DemoData) -> None:
    cutoff = pd.Timestamp(regular.params.end_date) - pd.Timedelta(days=HORIZON)
    with pytest.raises(ConfigError, match="purchase_process: erlang needs the transactions"):
        synthetic.oracle_no_purchase(
            regular.ground_truth, regular.params, cutoff, horizon_days=HORIZON
        )
    some = purchases_of(regular).iloc[:100]
    with pytest.raises(DataError, match=r"buyers acquired before .* have no purchase before it"):
        synthetic.oracle_no_purchase(
            regular.ground_truth, regular.params, cutoff, horizon_days=HORIZON, transactions=some
        )
    with pytest.raises(DataError, match=r"missing \['amount'\]"):
        synthetic.oracle_no_purchase(
            regular.ground_truth,
            regular.params,
            cutoff,
            horizon_days=HORIZON,
            transactions=some.drop(columns="amount"),
        )


def test_oracle_scorer_reads_the_transactions_of_an_erlang_world(
    regular: synthetic.DemoData, tmp_path: Path
) -> None:
    synthetic.save(regular, tmp_path / "regular", seed=2)
    scorer = synthetic.oracle_scorer(tmp_path / "regular", horizon_days=HORIZON)
    assert scorer is not None
    cutoff = pd.Timestamp(regular.params.end_date) - pd.Timedelta(days=HORIZON)
    expected = synthetic.oracle_no_purchase(
        regular.ground_truth,
        regular.params,
        cutoff,
        horizon_days=HORIZON,
        transactions=regular.transactions.to_pandas(),
    )
    keys = pd.DataFrame({"customer_id": expected.index[:50], "cutoff": cutoff})
    np.testing.assert_allclose(scorer(keys), expected.to_numpy()[:50])


def test_oracle_no_purchase_stays_a_probability_for_rare_buyers() -> None:
    """Customers who almost never buy: terms that sum to 1 must not round past it."""
    params, horizon, _ = world_config("cohort")
    demo = synthetic.generate(params, n_customers=20_000, seed=0)
    cutoff = pd.Timestamp(params.end_date) - pd.Timedelta(days=horizon)
    oracle = synthetic.oracle_no_purchase(demo.ground_truth, params, cutoff, horizon_days=horizon)
    assert oracle.between(0, 1).all()
    assert (oracle == 1).any()


def test_oracle_scorer_max_rows_scores_a_seeded_sample(small_demo_dir: Path) -> None:
    truth = pd.read_parquet(small_demo_dir / "ground_truth.parquet")
    buyers = truth.loc[~truth["never_purchased"] & (truth["acquired_at"] < "2025-06-01")]
    keys = pd.DataFrame(
        {"customer_id": buyers["customer_id"].astype(str), "cutoff": pd.Timestamp("2025-06-01")}
    ).reset_index(drop=True)
    full = synthetic.oracle_scorer(small_demo_dir, horizon_days=90)
    some = synthetic.oracle_scorer(small_demo_dir, horizon_days=90, max_rows=100, seed=3)
    assert full is not None
    assert some is not None
    everyone, sampled = full(keys), some(keys)
    picked = np.isfinite(sampled)
    assert picked.sum() == 100
    np.testing.assert_allclose(sampled[picked], everyone[picked])
    np.testing.assert_array_equal(np.isfinite(some(keys)), picked)  # the same rows each time

"""The oracle against simulated outcomes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churn import synthetic
from churn.errors import ConfigError
from tests.synthetic.helpers import HORIZON, no_purchase_in_window, purchases_of


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
    observed = no_purchase_in_window(purchases_of(demo), oracle.index, cutoff)
    assert roc_auc_score(observed, oracle) > 0.9


def test_oracle_no_purchase_rejects_window_past_simulation(demo: synthetic.DemoData) -> None:
    cutoff = pd.Timestamp(demo.params.end_date) + pd.Timedelta(days=150)
    with pytest.raises(ConfigError, match="ends after the simulated period"):
        synthetic.oracle_no_purchase(demo.ground_truth, demo.params, cutoff, horizon_days=HORIZON)

"""Backtest metrics and the paired bootstrap of the model against the best baseline."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from churn import backtest, evaluation
from churn.backtest import summary as bs


def _replay(seed: int = 0, n: int = 3_000, model_noise: float = 0.5) -> backtest.Replay:
    """Two dates; the truth is p, the baseline sees it with little noise, the model with more."""
    rng = np.random.default_rng(seed)
    parts = []
    for date in ("2025-06-01", "2025-05-01"):
        p = rng.uniform(0.05, 0.95, n)
        y = (rng.random(n) < p).astype(int)
        logit = np.log(p / (1 - p))
        parts.append(
            pd.DataFrame(
                {
                    "date": pd.Timestamp(date),
                    "customer_id": [f"c{i}" for i in range(n)],
                    "cutoff": pd.Timestamp(date),
                    "churned": y,
                    "model": 1 / (1 + np.exp(-(logit + model_noise * rng.standard_normal(n)))),
                    "recency": 1 / (1 + np.exp(-(logit + 0.1 * rng.standard_normal(n)))),
                    "bgnbd": np.clip(p + 0.2, 0, 1),
                }
            )
        )
    return backtest.Replay(pd.concat(parts, ignore_index=True), ["recency", "bgnbd"], [])


def _summarise(replayed: backtest.Replay, seed: int = 0) -> backtest.BacktestSummary:
    return backtest.summarise(
        replayed, top_fractions=[0.1], n_bins=10, bootstrap=200, confidence=0.95, seed=seed
    )


def test_weighted_metrics_with_unit_weights_match_the_plain_ones() -> None:
    rng = np.random.default_rng(1)
    p = np.round(rng.random(500), 2)  # ties, as an isotonic scorer makes them
    y = (rng.random(500) < p).astype(float)
    ones = np.ones((1, 500))
    assert bs._weighted_auc(y, p, ones)[0] == pytest.approx(roc_auc_score(y, p))
    assert bs._weighted_ece(y, p, ones, 10)[0] == pytest.approx(
        evaluation.expected_calibration_error(y, p, n_bins=10)
    )
    counts = np.zeros((1, 500))
    counts[0, :250] = 2.0  # the first half drawn twice, the rest never
    assert bs._weighted_auc(y, p, counts)[0] == pytest.approx(roc_auc_score(y[:250], p[:250]))


def test_summarise_flags_a_model_worse_than_a_baseline() -> None:
    summary = _summarise(_replay(model_noise=1.5))
    auc = summary.differences[summary.differences["metric"] == "roc_auc"]
    assert set(auc["date"]) == {"2025-06-01", "2025-05-01", backtest.POOLED}
    assert (auc["best_baseline"] == "recency").all()
    assert (auc["difference"] < 0).all()
    assert auc["significantly_worse"].all()
    assert (auc["high"] < 0).all()


def test_summarise_does_not_flag_an_equal_model() -> None:
    replayed = _replay()
    replayed.predictions["model"] = replayed.predictions["recency"]
    summary = _summarise(replayed)
    assert not summary.differences["significantly_worse"].any()
    assert (summary.differences["low"] <= 0).all()
    assert (summary.differences["high"] >= 0).all()


def test_summarise_reports_every_scorer_per_date_and_pooled() -> None:
    summary = _summarise(_replay())
    assert set(summary.per_date["scorer"]) == {"model", "recency", "bgnbd"}
    assert len(summary.per_date) == 2 * 3
    assert len(summary.pooled) == 3
    pooled = summary.pooled.set_index("scorer")
    # bgnbd is shifted up by 0.2 where it can be: its calibration in the large is clearly positive
    assert pooled.loc["bgnbd", "calibration_in_the_large"] > 0.1
    assert abs(pooled.loc["recency", "calibration_in_the_large"]) < 0.02
    assert pooled.loc["model", "n_rows"] == 6_000


def test_summarise_same_seed_same_intervals() -> None:
    replayed = _replay()
    a, b, c = _summarise(replayed, 4), _summarise(replayed, 4), _summarise(replayed, 5)
    pd.testing.assert_frame_equal(a.differences, b.differences)
    assert not a.differences["low"].equals(c.differences["low"])


def test_resample_counts_keep_each_stratum_size() -> None:
    strata = np.array([0] * 30 + [1] * 70)
    counts = bs._resample_counts(100, 5, np.random.default_rng(0), strata=strata)
    assert (counts[:, :30].sum(axis=1) == 30).all()
    assert (counts[:, 30:].sum(axis=1) == 70).all()

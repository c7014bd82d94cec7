"""Realised model quality on the customers nobody contacted, and its warnings."""

from __future__ import annotations

import pandas as pd
import pytest

from churn.outcomes import realised_performance, uncontacted


def _frame(p: list[float], churned: list[float], **columns: list[object]) -> pd.DataFrame:
    n = len(p)
    base = {
        "status": ["scored"] * n,
        "offer": pd.array([None] * n, dtype="string"),
        "in_data": [True] * n,
        "risk_tier": ["high" if x >= 0.5 else "low" for x in p],
        "churn_probability": p,
        "churned": churned,
    }
    return pd.DataFrame({**base, **columns})


def test_uncontacted_keeps_scored_customers_without_an_offer() -> None:
    frame = _frame(
        [0.2, 0.8, 0.5, 0.4],
        [0.0, 1.0, 1.0, 0.0],
        status=["scored", "scored", "lapsed", "scored"],
        offer=pd.array([None, "voucher", None, None], dtype="string"),
    )
    assert uncontacted(frame).index.tolist() == [0, 3]


def test_realised_performance_warns_when_ranking_falls_below_the_test_value() -> None:
    # the model ranks backwards: every churner scored below every stayer (ROC-AUC 0)
    frame = _frame([0.1, 0.2, 0.8, 0.9], [1.0, 1.0, 0.0, 0.0])
    result = realised_performance(frame, {"roc_auc": 0.8, "brier": 0.9}, tolerance=0.05, n_bins=5)
    assert result.metrics["roc_auc"] == pytest.approx(0.0)
    assert result.metrics["brier"] == pytest.approx((0.81 + 0.64 + 0.64 + 0.81) / 4)
    assert len(result.warnings) == 1
    assert result.warnings[0].startswith("realised roc_auc 0.000 is below the bundle's test")


def test_realised_performance_within_tolerance_is_quiet() -> None:
    frame = _frame([0.1, 0.2, 0.8, 0.9], [0.0, 0.0, 1.0, 1.0])
    result = realised_performance(frame, {"roc_auc": 1.0, "brier": 0.0}, tolerance=0.05, n_bins=5)
    assert result.warnings == ()  # brier 0.025 is within 0.05 of 0
    tiers = result.by_tier.set_index("risk_tier")
    assert tiers.loc["high", "realised_churn"] == pytest.approx(1.0)
    assert tiers.loc["low", "predicted_churn"] == pytest.approx(0.15)


def test_realised_performance_without_customers_says_so() -> None:
    frame = _frame([0.5], [1.0], status=["lapsed"])
    result = realised_performance(frame, {"roc_auc": 0.8}, tolerance=0.05, n_bins=10)
    assert result.metrics == {}
    assert "realised performance unknown" in result.warnings[0]

"""The champion/challenger comparison of shadow scoring."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churn import scoring


def _scores(p: np.ndarray, tiers: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(len(p))],
            "churn_probability": p,
            "risk_tier": tiers,
        }
    )


def test_identical_runs_agree_fully() -> None:
    p = np.linspace(0.05, 0.95, 10)
    tiers = ["low"] * 5 + ["high"] * 5
    record = scoring.compare_shadow(_scores(p, tiers), _scores(p, tiers), at_risk_tiers=("high",))
    assert record["customers"] == 10
    assert record["spearman"] == pytest.approx(1.0)
    assert record["changed_tier"] == 0.0
    assert record["at_risk_overlap"] == 1.0
    assert record["tier_moves"] == {"high": {"high": 5}, "low": {"low": 5}}
    assert record["champion"] == record["challenger"]


def test_a_reversed_challenger_moves_every_tier() -> None:
    p = np.linspace(0.05, 0.95, 10)
    champion = _scores(p, ["low"] * 5 + ["high"] * 5)
    challenger = _scores(p[::-1], ["high"] * 5 + ["low"] * 5)
    record = scoring.compare_shadow(champion, challenger, at_risk_tiers=("high",))
    assert record["spearman"] == pytest.approx(-1.0)
    assert record["changed_tier"] == 1.0
    assert record["at_risk_overlap"] == 0.0
    assert record["tier_moves"] == {"high": {"low": 5}, "low": {"high": 5}}


def test_only_customers_both_scored_are_compared() -> None:
    champion = _scores(np.array([0.1, 0.2, np.nan]), ["low", "low", None])  # type: ignore[list-item]
    challenger = _scores(np.array([0.1, 0.3, 0.5]), ["low", "low", "high"])
    record = scoring.compare_shadow(champion, challenger, at_risk_tiers=("high",))
    assert record["customers"] == 2
    assert record["challenger"]["mean"] == pytest.approx(0.2)

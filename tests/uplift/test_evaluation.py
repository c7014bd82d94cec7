"""Out-of-time evaluation of the uplift model against risk targeting, and the gate."""

from __future__ import annotations

import pytest

from churn.catalog import Offer
from churn.errors import DataError
from churn.uplift.evaluation import evaluate, gate, too_little_history
from churn.uplift.settings import UpliftConfig
from tests.uplift.campaigns import planted

CATALOG = (
    Offer("call", 25.0, 0.3, tiers=("high",)),
    Offer("voucher", 5.0, 0.1, tiers=("high",)),
    Offer("nudge", 0.2, 0.05, stages=("new",)),
)


def _config(**changes: object) -> UpliftConfig:
    values = {
        "features": ["churn_probability", "recency_days", "frequency"],
        "min_rows_per_offer": 50,
        "params": {"n_estimators": 60, "min_child_samples": 30},
        **changes,
    }
    return UpliftConfig.from_mapping(values)


def test_too_little_history_without_campaigns_says_how_many_are_needed() -> None:
    why = too_little_history([], _config())
    assert why is not None
    assert "0 measured campaign(s)" in why
    assert "at least 2" in why


def test_too_little_history_with_too_few_treated_rows_names_the_most() -> None:
    campaigns = [planted("2025-01-01", 100), planted("2025-02-01", 100, seed=1)]
    why = too_little_history(campaigns, _config(min_rows_per_offer=500))
    assert why is not None
    assert "no offer has 500 randomised treated customers" in why


def test_too_little_history_with_enough_is_none() -> None:
    campaigns = [planted("2025-01-01"), planted("2025-02-01", seed=1)]
    assert too_little_history(campaigns, _config()) is None


@pytest.mark.parametrize("learner", ["t", "x"])
def test_evaluate_planted_effect_beats_risk_targeting_and_passes(learner: str) -> None:
    campaigns = [planted("2025-01-01", seed=0), planted("2025-02-01", seed=1)]
    result = evaluate(campaigns, _config(learner=learner), CATALOG, seed=0)
    assert result.held_out == ("2025-02-01",)
    assert result.trained_on == ("2025-01-01",)
    call = result.by_offer["call"]
    assert call["uplift"]["qini"] > call["risk"]["qini"] + 0.02
    assert call["uplift"]["uplift_top_30"] > call["risk"]["uplift_top_30"]
    assert result.passed
    assert "beats" in result.reason
    # the nudge reaches nobody here (stage new): not evaluated, and said why
    assert "nudge" in result.not_evaluated
    assert result.metrics()["evaluation/passed"] == 1.0


def test_evaluate_gate_margin_above_the_gain_keeps_the_model_out() -> None:
    campaigns = [planted("2025-01-01", seed=0), planted("2025-02-01", seed=1)]
    result = evaluate(campaigns, _config(gate_margin=0.5), CATALOG, seed=0)
    assert not result.passed
    assert "does not beat" in result.reason


def test_evaluate_offer_without_exploration_data_is_left_out_of_the_model() -> None:
    campaigns = [
        planted("2025-01-01", seed=0, offers=("call",)),
        planted("2025-02-01", seed=1, offers=("call",)),
    ]
    result = evaluate(campaigns, _config(), CATALOG, seed=0)
    assert set(result.by_offer) == {"call"}
    assert "voucher" not in result.by_offer


def test_evaluate_one_campaign_is_refused() -> None:
    with pytest.raises(DataError, match="at least 2 campaigns"):
        evaluate([planted("2025-01-01")], _config(), CATALOG, seed=0)


def test_too_little_history_min_rows_per_offer_is_the_boundary() -> None:
    campaigns = [planted("2025-01-01", 400, explore=0.5), planted("2025-02-01", 400, seed=1)]
    most = int(campaigns[0].rows["treatment"].value_counts().max())
    assert too_little_history(campaigns, _config(min_rows_per_offer=most)) is None
    assert too_little_history(campaigns, _config(min_rows_per_offer=most + 1)) is not None


def test_too_little_history_exactly_min_campaigns_is_enough() -> None:
    campaigns = [planted(f"2025-0{k}-01", seed=k) for k in (1, 2, 3)]
    assert too_little_history(campaigns, _config(min_campaigns=3)) is None
    assert too_little_history(campaigns[:2], _config(min_campaigns=3)) is not None


@pytest.mark.parametrize(
    ("q_uplift", "q_risk", "margin", "passed", "says"),
    [
        (0.02, 0.01, 0.0, True, "beats risk targeting"),
        (0.02, 0.01, 0.01, False, "does not beat risk"),
        (0.02, 0.03, 0.0, False, "does not beat risk"),
        (-0.001, -0.005, 0.0, False, "does not beat random targeting"),
        (0.0, -0.005, 0.0, False, "does not beat random targeting"),
    ],
)
def test_gate_needs_to_beat_risk_and_random_targeting(
    q_uplift: float, q_risk: float, margin: float, passed: bool, says: str
) -> None:
    ok, reason = gate(q_uplift, q_risk, margin=margin, campaign="2025-02-01")
    assert ok is passed
    assert says in reason


def test_evaluate_rolls_the_origin_over_every_later_campaign() -> None:
    campaigns = [planted(f"2025-0{k}-01", 1500, seed=k) for k in (1, 2, 3)]
    result = evaluate(campaigns, _config(), CATALOG, seed=0)
    assert result.held_out == ("2025-02-01", "2025-03-01")
    assert result.trained_on == ("2025-01-01", "2025-02-01")
    # both held-out campaigns' customers are in the pooled cell
    assert result.by_offer["call"]["treated"] + result.by_offer["call"]["control"] > 1500

"""Promotion gate: no worse than the best baseline and the champion (tolerance), same horizon."""

from __future__ import annotations

import math

import pytest

from churn.errors import ConfigError
from churn.promotion import (
    Champion,
    Decision,
    PromotionConfig,
    against_baselines,
    against_champion,
    decide,
)

POLICY = PromotionConfig()  # roc_auc and brier, tolerance 0.005
BASELINES = ("recency", "rfm_logistic")
H = 90


def _metrics(roc_auc: float = 0.80, brier: float = 0.150) -> dict[str, float]:
    """A model with these test metrics, against two baselines it beats by a margin."""
    return {
        "test/roc_auc": roc_auc,
        "test/brier": brier,
        "test/recency/roc_auc": 0.70,
        "test/recency/brier": 0.180,
        "test/rfm_logistic/roc_auc": 0.75,
        "test/rfm_logistic/brier": 0.170,
    }


def _champion(roc_auc: float = 0.80, brier: float = 0.150, horizon: int | None = H) -> Champion:
    return Champion("3", {"test/roc_auc": roc_auc, "test/brier": brier}, horizon)


def _decide(metrics: dict[str, float], champion: Champion | None = None) -> Decision:
    return decide(metrics, baselines=BASELINES, horizon_days=H, policy=POLICY, champion=champion)


def test_decide_promotes_when_beating_the_baselines_without_champion() -> None:
    decision = _decide(_metrics())

    assert decision.promote
    assert decision.reasons[-1] == "no current champion"
    assert decision.to_dict() == {"promote": True, "reasons": decision.reasons}


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("test/rfm_logistic/roc_auc", 0.81),  # higher is better: the baseline wins
        ("test/recency/brier", 0.144),  # lower is better: the baseline wins
    ],
)
def test_decide_refuses_when_the_best_baseline_is_better_beyond_tolerance(
    key: str, value: float
) -> None:
    decision = _decide(_metrics() | {key: value}, champion=_champion())

    assert not decision.promote
    baseline, metric = key.split("/")[1:]
    assert any(
        r.startswith(f"{metric} ") and f"is worse than the best baseline {baseline}" in r
        for r in decision.reasons
    )


@pytest.mark.parametrize(
    ("key", "value"),
    [("test/rfm_logistic/roc_auc", 0.804), ("test/recency/brier", 0.1455)],
    ids=["roc_auc", "brier"],
)
def test_decide_promotes_within_tolerance_of_the_best_baseline(key: str, value: float) -> None:
    decision = _decide(_metrics() | {key: value}, champion=_champion())

    assert decision.promote


@pytest.mark.parametrize(
    ("metric", "value"), [("roc_auc", 0.80), ("brier", 0.150)], ids=["roc_auc", "brier"]
)
def test_decide_promotes_a_deployed_baseline_equal_to_the_best(metric: str, value: float) -> None:
    decision = _decide(_metrics() | {f"test/recency/{metric}": value}, champion=_champion())

    assert decision.promote
    assert (
        f"{metric} {value:.4f} is no worse than the best baseline recency {value:.4f} "
        "(tolerance 0.005)" in decision.reasons
    )


def test_decide_promotes_without_champion_even_when_a_baseline_is_better() -> None:
    decision = _decide(_metrics() | {"test/recency/brier": 0.10})

    assert decision.promote
    assert any("is worse than the best baseline recency" in r for r in decision.reasons)
    assert decision.reasons[-1] == "no current champion: promoted so that scoring has a model"


def test_decide_reasons_explain_each_check() -> None:
    decision = _decide(_metrics(), champion=_champion())

    assert decision.promote
    assert decision.reasons == [
        "roc_auc 0.8000 is no worse than the best baseline rfm_logistic 0.7500 (tolerance 0.005)",
        "brier 0.1500 is no worse than the best baseline rfm_logistic 0.1700 (tolerance 0.005)",
        "roc_auc 0.8000 is no worse than champion v3 0.8000 (tolerance 0.005)",
        "brier 0.1500 is no worse than champion v3 0.1500 (tolerance 0.005)",
    ]


@pytest.mark.parametrize(
    ("roc_auc", "brier"),
    [(0.797, 0.150), (0.800, 0.1545), (0.796, 0.154)],
    ids=["roc_auc", "brier", "both"],
)
def test_decide_promotes_within_champion_tolerance(roc_auc: float, brier: float) -> None:
    decision = _decide(_metrics(roc_auc, brier), champion=_champion(0.80, 0.150))

    assert decision.promote
    assert sum("is no worse than champion v3" in r for r in decision.reasons) == 2


@pytest.mark.parametrize(
    ("roc_auc", "brier", "metric"),
    [(0.790, 0.150, "roc_auc"), (0.800, 0.160, "brier")],
    ids=["roc_auc", "brier"],
)
def test_decide_refuses_beyond_champion_tolerance(
    roc_auc: float, brier: float, metric: str
) -> None:
    decision = _decide(_metrics(roc_auc, brier), champion=_champion(0.80, 0.150))

    assert not decision.promote
    assert [r.split()[0] for r in decision.reasons if "is worse than champion" in r] == [metric]


def test_decide_refuses_champion_with_other_horizon() -> None:
    decision = _decide(_metrics(0.95, 0.05), champion=_champion(0.50, 0.30, horizon=60))

    assert not decision.promote
    assert "horizon 60 days, this model 90: not comparable" in decision.reasons[-1]


def test_decide_refuses_champion_with_undefined_metric() -> None:
    champion = Champion("3", {"test/roc_auc": 0.80}, H)  # no brier recorded

    decision = _decide(_metrics(), champion=champion)

    assert not decision.promote
    assert "brier 0.1500 is worse than champion v3 nan (tolerance 0.005)" in decision.reasons


@pytest.mark.parametrize("key", ["test/roc_auc", "test/brier"])
def test_against_baselines_nan_model_metric_fails(key: str) -> None:
    decision = against_baselines(_metrics() | {key: math.nan}, baselines=BASELINES, policy=POLICY)

    assert not decision.promote


def test_against_baselines_compares_with_the_baselines_that_have_a_value() -> None:
    metrics = _metrics()
    del metrics["test/rfm_logistic/brier"]
    metrics["test/recency/brier"] = math.nan

    decision = against_baselines(metrics, baselines=BASELINES, policy=POLICY)

    assert decision.promote
    assert "brier: no baseline has a value; not compared" in decision.reasons


@pytest.mark.parametrize("key", ["test/roc_auc", "test/brier"])
def test_decide_nan_metric_never_promotes_with_champion(key: str) -> None:
    decision = _decide(_metrics() | {key: math.nan}, champion=_champion())

    assert not decision.promote


def test_promotion_policy_from_mapping_defaults() -> None:
    assert PromotionConfig.from_mapping({}) == PromotionConfig(("roc_auc", "brier"), 0.005)


def test_promotion_policy_from_mapping_custom_values() -> None:
    policy = PromotionConfig.from_mapping({"metrics": ["pr_auc", "log_loss"], "tolerance": 0})

    assert policy == PromotionConfig(("pr_auc", "log_loss"), 0.0)
    assert isinstance(policy.tolerance, float)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"metrics": ["roc_auc", "accuracy"]}, r"'accuracy' is not a metric"),
        ({"tolerance": -0.001}, r"tolerance >= 0; got \['roc_auc', 'brier'\], -0\.001"),
        ({"metrics": []}, r"at least one metric"),
        ({"tolerence": 0.01}, r"unknown keys \['tolerence'\]"),
    ],
    ids=["unknown_metric", "negative_tolerance", "no_metrics", "unknown_key"],
)
def test_promotion_policy_from_mapping_rejects_bad_config(
    values: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        PromotionConfig.from_mapping(values)


@pytest.mark.parametrize("tolerance", [math.nan, math.inf])
def test_promotion_policy_from_mapping_rejects_non_finite_tolerance(tolerance: float) -> None:
    with pytest.raises(ConfigError, match=r"tolerance"):
        PromotionConfig.from_mapping({"tolerance": tolerance})


def test_decide_is_the_baseline_check_then_the_champion_check() -> None:
    metrics = _metrics()
    vs_baselines = against_baselines(metrics, baselines=BASELINES, policy=POLICY)

    combined = against_champion(
        vs_baselines, metrics, horizon_days=H, policy=POLICY, champion=_champion()
    )

    assert "champion" not in " ".join(vs_baselines.reasons)
    assert combined == _decide(metrics, champion=_champion())


def _in_time(champion: Champion | None) -> Decision:
    return decide(
        _metrics(roc_auc=0.99, brier=0.01),
        baselines=BASELINES,
        horizon_days=H,
        policy=POLICY,
        champion=champion,
        evaluation_mode="in_time",
    )


def test_decide_in_time_metrics_are_never_compared() -> None:
    first = _in_time(None)
    beside = _in_time(_champion(roc_auc=0.5, brier=0.3))  # far better in time: still not

    assert first.promote
    assert first.reasons == [
        "in-time evaluation: not compared with the baselines",
        "no current champion: promoted so that scoring has a model",
    ]
    assert not beside.promote
    assert (
        beside.reasons[-1]
        == "in-time evaluation: not compared with champion v3; kept as challenger"
    )
    assert not any("no worse" in r or "is worse" in r for r in first.reasons + beside.reasons)


def test_decide_in_time_champion_gives_way_to_an_out_of_time_model_beating_the_baselines() -> None:
    champion = Champion("3", {"test/roc_auc": 0.99, "test/brier": 0.01}, H, "in_time")

    replaced = _decide(_metrics(), champion)
    weak = _decide(_metrics(roc_auc=0.70), champion)

    assert replaced.promote
    assert replaced.reasons[-1] == "champion v3 was evaluated in time: its metrics are not compared"
    assert not weak.promote
    assert not _decide(_metrics(), Champion("3", {}, 45, "in_time")).promote  # other horizon

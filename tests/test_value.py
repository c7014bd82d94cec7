"""Customer value: the clv formula, the heuristic, the fit at the as-of date and its fallback."""

from __future__ import annotations

import dataclasses
import json
import logging

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from churn import btyd, offers, scoring, value
from churn.errors import ConfigError
from churn.features import FeatureConfig
from churn.scoring.rows import buyer_rows
from churn.scoring.tiers import TierConfig
from tests.conftest import compose_config

FEATURES = FeatureConfig()  # BG/NBD in weeks, at least 200 buyers
BGNBD = btyd.BGNBDParams(r=1.0, alpha=2.0, a=0.5, b=2.0)
SPEND = btyd.GammaGammaParams(p=2.0, q=3.0, gamma=10.0)


def _model(**changes: object) -> value.ValueModel:
    base = value.ValueModel(
        method="clv",
        horizon_days=70,
        margin=0.3,
        annual_discount_rate=0.0,
        time_unit_days=7.0,
        bgnbd=BGNBD,
        gamma_gamma=SPEND,
        requested="clv",
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def _features(n: int, seed: int) -> pd.DataFrame:
    """Feature columns of ``n`` simulated buyers (BG/NBD in weeks, Gamma-Gamma spend)."""
    rng = np.random.default_rng(seed)
    weeks = rng.integers(10, 150, n).astype(float)
    x, t_x, big_t = btyd.simulate_bgnbd(
        btyd.BGNBDParams(r=0.8, alpha=2.0, a=0.4, b=3.0), n=n, T=weeks, seed=seed
    )
    m = btyd.simulate_gamma_gamma(btyd.GammaGammaParams(p=6.0, q=4.0, gamma=15.0), x, seed=seed)
    first = np.where(x > 0, m, rng.gamma(6.0, 5.0, n))
    tenure = np.round(big_t * 7)
    last = np.where(x > 0, np.clip(np.round(t_x * 7), 1, tenure), 0)
    return pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "frequency": (x + 1).astype("int64"),
            "tenure_days": tenure,
            "recency_days": tenure - last,
            "monetary_sum": first * (x + 1),
            "lifecycle_stage": "established",
        }
    )


def test_discounted_days_at_rate_zero_is_the_horizon() -> None:
    assert value.discounted_days(90, 0.0) == 90.0


def test_discounted_days_is_the_continuous_discount_integral() -> None:
    delta = np.log(1.1) / 365
    assert value.discounted_days(365, 0.1) == pytest.approx((1 - 1 / 1.1) / delta)
    assert value.discounted_days(365, 0.1) < 365
    assert value.discounted_days(180, 0.1) > value.discounted_days(90, 0.1)


def test_clv_value_on_a_hand_case() -> None:
    # E[spend] = 2 (10 + 4 x 30) / (2 x 4 + 3 - 1) = 26; rate if alive (1 + 4) / (2 + 10) per
    # week; 70 days undiscounted = 10 weeks: 0.3 x 26 x 5/12 x 10 = 32.5
    got = value.clv_value(_model(), np.array([4.0]), np.array([10.0]), np.array([30.0]))
    assert got[0] == pytest.approx(32.5)


def test_clv_value_discounting_and_horizon() -> None:
    x, big_t, m = np.array([4.0]), np.array([10.0]), np.array([30.0])
    undiscounted = value.clv_value(_model(), x, big_t, m)[0]
    discounted = value.clv_value(_model(annual_discount_rate=0.1), x, big_t, m)[0]
    assert discounted == pytest.approx(undiscounted * value.discounted_days(70, 0.1) / 70)
    assert discounted < undiscounted
    longer = value.clv_value(_model(horizon_days=140, annual_discount_rate=0.1), x, big_t, m)[0]
    assert longer > discounted


def test_clv_value_without_parameters_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="no fitted BG/NBD and Gamma-Gamma"):
        value.clv_value(_model(bgnbd=None), np.array([1.0]), np.array([1.0]), np.array([1.0]))


def test_value_summary_counts_whole_days_as_the_feature_step() -> None:
    frame = pd.DataFrame(
        {"frequency": [3, 1], "tenure_days": [10.5, 4.25], "recency_days": [2.25, 4.25]}
    ).assign(monetary_sum=[90.0, 12.0])
    x, t_x, big_t, m = value.value_summary(frame, time_unit_days=1.0)
    np.testing.assert_array_equal(x, [2.0, 0.0])
    np.testing.assert_array_equal(big_t, [11.0, 5.0])  # first purchase day to the as-of date
    np.testing.assert_array_equal(t_x, [8.0, 0.0])  # first to last purchase day
    np.testing.assert_array_equal(m, [30.0, 12.0])  # mean spend per purchase day


def test_heuristic_values_are_offers_customer_value_unchanged() -> None:
    frame = _features(50, seed=1)
    model = value.heuristic_model(value.ValueConfig(margin=0.25), horizon_days=90)
    expected = offers.customer_value(
        frame["monetary_sum"], frame["tenure_days"], horizon_days=90, margin=0.25
    )
    np.testing.assert_array_equal(value.customer_values(frame, model), expected.to_numpy())


def test_fit_value_fits_both_models_at_the_as_of_date() -> None:
    frame = _features(3000, seed=2)
    config = value.ValueConfig(method="clv", annual_discount_rate=0.1, margin=0.3)
    model = value.fit_value(frame, config, horizon_days=90, features=FEATURES)
    assert model.method == "clv"
    assert model.fallback_reason is None
    assert model.gamma_gamma is not None
    assert model.bgnbd is not None
    assert model.gamma_gamma.q > 1
    assert model.independence is not None
    assert model.independence.independent
    values = value.customer_values(frame, model)
    assert np.all(np.isfinite(values))
    assert np.all(values > 0)
    # more purchase days at the same spend and tenure: more value
    busier = frame.assign(frequency=frame["frequency"] + 5, monetary_sum=frame["monetary_sum"])
    busier = busier.assign(
        monetary_sum=busier["monetary_sum"] / frame["frequency"] * busier["frequency"]
    )
    assert np.mean(value.customer_values(busier, model) > values) > 0.95
    json.dumps(model.to_dict())  # the manifest entry is plain JSON


def test_fit_value_with_too_few_buyers_falls_back_to_the_heuristic(
    caplog: pytest.LogCaptureFixture,
) -> None:
    frame = _features(50, seed=3)
    config = value.ValueConfig(method="clv", margin=0.3)
    with caplog.at_level(logging.WARNING, logger="churn.value"):
        model = value.fit_value(frame, config, horizon_days=90, features=FEATURES)
    assert model.method == "heuristic"
    assert model.requested == "clv"
    assert model.fallback_reason is not None
    assert "min_customers=200" in model.fallback_reason
    assert any("values use the heuristic instead" in r.getMessage() for r in caplog.records)
    heuristic = value.heuristic_model(config, horizon_days=90)
    np.testing.assert_array_equal(
        value.customer_values(frame, model), value.customer_values(frame, heuristic)
    )
    assert model.to_dict()["fallback_reason"] == model.fallback_reason


def test_fit_value_without_repeat_buyers_falls_back() -> None:
    frame = _features(400, seed=4).assign(frequency=1, recency_days=lambda f: f["tenure_days"])
    config = value.ValueConfig(method="clv")
    model = value.fit_value(frame, config, horizon_days=90, features=FEATURES)
    assert model.method == "heuristic"
    assert "repeat buyers" in str(model.fallback_reason)


def test_fit_value_without_the_columns_falls_back() -> None:
    frame = _features(400, seed=5).drop(columns="recency_days")
    model = value.fit_value(
        frame, value.ValueConfig(method="clv"), horizon_days=90, features=FEATURES
    )
    assert model.method == "heuristic"
    assert "lack ['recency_days']" in str(model.fallback_reason)


def test_fit_value_heuristic_fits_nothing() -> None:
    model = value.fit_value(
        _features(10, seed=6),
        value.ValueConfig(horizon_days=30),
        horizon_days=90,
        features=FEATURES,
    )
    assert model.method == "heuristic"
    assert model.fallback_reason is None
    assert model.horizon_days == 30
    assert model.bgnbd is None


def test_buyer_rows_value_at_risk_is_p_times_the_value_model() -> None:
    frame = _features(5, seed=7)
    scored = np.array([True, True, False, True, True])
    p = np.array([0.1, 0.5, 0.9, 0.2])
    out = buyer_rows(frame, scored, p, tiers=TierConfig(), value_model=_model())
    expected = value.customer_values(frame, _model())
    np.testing.assert_allclose(out["value"], expected)
    np.testing.assert_allclose(out["value_at_risk"][scored], p * expected[scored])
    assert np.isnan(out["value_at_risk"][2])


def test_value_config_defaults_margin_to_offers_margin() -> None:
    config = value.ValueConfig.from_mapping({"method": "clv", "margin": None}, margin=0.4)
    assert config.margin == 0.4
    assert config.horizon_days is None
    assert value.ValueConfig.from_mapping(None, margin=0.2).method == "heuristic"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"method": "bgnbd"}, r"value.method: expected one of \['clv', 'heuristic'\]; got 'bgnbd'"),
        ({"horizon_days": 0}, "value.horizon_days: expected a whole number of days > 0"),
        (
            {"annual_discount_rate": -0.1},
            r"value.annual_discount_rate: expected a rate in \[0, 10\)",
        ),
        ({"margin": 1.5}, r"value.margin: expected a share in \[0, 1\]; got 1.5"),
        ({"horizon": 90}, r"value: unknown keys \['horizon'\]"),
    ],
)
def test_value_config_rejects_values_that_cannot_work(
    values: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        value.ValueConfig.from_mapping(values, margin=0.3)


def _score_options(overrides: list[str]) -> scoring.ScoreOptions:
    cfg = compose_config("score", ["output_dir=.", *overrides])
    values = OmegaConf.to_container(cfg, resolve=True)
    return scoring.ScoreOptions.from_config(values)  # type: ignore[arg-type]


def test_score_config_values_with_clv_and_the_offers_margin_by_default() -> None:
    options = _score_options(["offers.margin=0.4"])
    assert options.value == value.ValueConfig(
        method="clv", horizon_days=None, annual_discount_rate=0.1, margin=0.4
    )
    assert options.offers.margin == 0.4


def test_score_config_keeps_the_heuristic_available() -> None:
    options = _score_options(["value.method=heuristic", "value.margin=0.2"])
    assert options.value.method == "heuristic"
    assert options.value.margin == 0.2


def test_score_config_rejects_an_unknown_value_method() -> None:
    with pytest.raises(ConfigError, match=r"value\.method: expected one of"):
        _score_options(["value.method=bgnbd"])

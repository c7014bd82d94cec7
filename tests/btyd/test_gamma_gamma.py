"""Gamma-Gamma: recovery of known parameters, the note's formulas, edge cases and input checks."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from scipy import integrate, stats

from churn import btyd
from churn.errors import ConfigError, DataError

TRUE = btyd.GammaGammaParams(p=6.0, q=4.0, gamma=15.0)


def _frequencies(n: int, seed: int) -> np.ndarray:
    """Repeat purchases spread like a BTYD population's: 1 + NegBin(1, 1/7), mean 7."""
    return np.random.default_rng(seed).negative_binomial(1, 1 / 7, n) + 1


def test_fit_gamma_gamma_recovers_known_parameters() -> None:
    x = _frequencies(5000, seed=1)
    m = btyd.simulate_gamma_gamma(TRUE, x, seed=2)
    fitted = btyd.fit_gamma_gamma(x, m)
    # about 2-2.5 standard errors at n = 5000 (observed information: log p 0.11, log q 0.027,
    # log gamma 0.13); the mean spend p gamma / (q - 1) is far better determined
    assert fitted.p == pytest.approx(TRUE.p, rel=0.25)
    assert fitted.q == pytest.approx(TRUE.q, rel=0.1)
    assert fitted.gamma == pytest.approx(TRUE.gamma, rel=0.3)
    assert fitted.mean_spend == pytest.approx(TRUE.mean_spend, rel=0.03)


def test_fit_gamma_gamma_is_the_maximum_of_the_likelihood() -> None:
    x = _frequencies(800, seed=3)
    m = btyd.simulate_gamma_gamma(TRUE, x, seed=4)
    fitted = btyd.fit_gamma_gamma(x, m)
    best = btyd.gamma_gamma_log_likelihood(fitted, x, m).sum()
    for scale in (0.9, 1.1):
        for name in ("p", "q", "gamma"):
            values = {"p": fitted.p, "q": fitted.q, "gamma": fitted.gamma}
            values[name] *= scale
            other = btyd.GammaGammaParams(**values)
            assert btyd.gamma_gamma_log_likelihood(other, x, m).sum() < best


def test_fit_gamma_gamma_ignores_customers_without_repeat_purchases() -> None:
    x = _frequencies(500, seed=5)
    m = btyd.simulate_gamma_gamma(TRUE, x, seed=6)
    with_zeros = btyd.fit_gamma_gamma(np.r_[x, np.zeros(50)], np.r_[m, np.full(50, np.nan)])
    assert with_zeros == btyd.fit_gamma_gamma(x, m)


def test_fit_gamma_gamma_weights_equal_repeated_rows() -> None:
    x = _frequencies(300, seed=7)
    m = btyd.simulate_gamma_gamma(TRUE, x, seed=8)
    weighted = btyd.fit_gamma_gamma(x, m, weights=np.full(x.size, 2.0))
    doubled = btyd.fit_gamma_gamma(np.r_[x, x], np.r_[m, m])
    assert weighted.p == pytest.approx(doubled.p, rel=1e-5)
    assert weighted.gamma == pytest.approx(doubled.gamma, rel=1e-5)


def test_log_likelihood_matches_numerical_integration_over_nu() -> None:
    x, m = 3, 27.5
    params = btyd.GammaGammaParams(p=2.5, q=3.5, gamma=12.0)

    def integrand(nu: float) -> float:
        # the mean of x Gamma(p, nu) draws is Gamma(p x, rate nu x)
        density = stats.gamma.pdf(m, a=params.p * x, scale=1 / (nu * x))
        return float(density * stats.gamma.pdf(nu, a=params.q, scale=1 / params.gamma))

    direct, _ = integrate.quad(integrand, 0, np.inf, limit=200)
    ll = btyd.gamma_gamma_log_likelihood(params, [x], [m])
    assert ll[0] == pytest.approx(np.log(direct), rel=1e-8)


def test_log_likelihood_is_nan_without_repeat_purchases() -> None:
    ll = btyd.gamma_gamma_log_likelihood(TRUE, [0, 2], [np.nan, 30.0])
    assert np.isnan(ll[0])
    assert np.isfinite(ll[1])


def test_conditional_expected_spend_on_a_hand_case() -> None:
    params = btyd.GammaGammaParams(p=2.0, q=3.0, gamma=10.0)
    # p (gamma + x m) / (p x + q - 1) = 2 (10 + 4 x 30) / (8 + 2) = 26
    spend = btyd.conditional_expected_spend(params, [4, 0], [30.0, 99.0])
    assert spend[0] == pytest.approx(26.0)
    assert spend[1] == pytest.approx(params.mean_spend) == pytest.approx(10.0)


def test_conditional_expected_spend_moves_toward_own_mean_with_more_purchases() -> None:
    x = np.array([1, 5, 50, 5000])
    spend = btyd.conditional_expected_spend(TRUE, x, np.full(4, 100.0))
    assert np.all(np.diff(spend) > 0)
    assert spend[-1] == pytest.approx(100.0, rel=1e-3)


def test_conditional_expected_spend_needs_q_above_one() -> None:
    params = btyd.GammaGammaParams(p=2.0, q=0.8, gamma=10.0)
    with pytest.raises(ConfigError, match="q must be > 1"):
        btyd.conditional_expected_spend(params, [1], [10.0])
    with pytest.raises(ConfigError, match="q must be > 1"):
        _ = params.mean_spend


def test_simulate_gamma_gamma_matches_the_model_mean_and_is_seeded() -> None:
    x = np.full(20000, 3)
    m = btyd.simulate_gamma_gamma(TRUE, x, seed=9)
    assert m.mean() == pytest.approx(TRUE.mean_spend, rel=0.03)
    np.testing.assert_array_equal(m, btyd.simulate_gamma_gamma(TRUE, x, seed=9))
    assert np.isnan(btyd.simulate_gamma_gamma(TRUE, [0, 1], seed=0)[0])


def test_fit_gamma_gamma_with_one_repeat_buyer_is_a_data_error() -> None:
    with pytest.raises(DataError, match=r"need at least 10 repeat buyers .* got 1 of 3"):
        btyd.fit_gamma_gamma([0, 0, 2], [np.nan, np.nan, 20.0])


def test_fit_gamma_gamma_with_no_repeat_buyer_is_a_data_error() -> None:
    with pytest.raises(DataError, match="got 0 of 4"):
        btyd.fit_gamma_gamma([0, 0, 0, 0], [0.0, 0.0, 0.0, 0.0])


def test_fit_gamma_gamma_with_no_spread_is_a_data_error() -> None:
    with pytest.raises(DataError, match="same mean spend"):
        btyd.fit_gamma_gamma(np.full(20, 2), np.full(20, 15.0))


def test_fit_gamma_gamma_on_few_alike_repeat_buyers_says_why_it_failed() -> None:
    x = np.array([1, 2, 3, 1, 2])
    m = np.array([10.0, 20.0, 15.0, 30.0, 12.0])
    with pytest.raises(btyd.ConvergenceError, match=r"on 5 repeat buyers .* not identified"):
        btyd.fit_gamma_gamma(x, m, min_customers=5)


def test_fit_gamma_gamma_on_the_fewest_repeat_buyers_fits() -> None:
    x = _frequencies(10, seed=0)
    m = btyd.simulate_gamma_gamma(TRUE, x, seed=0)
    fitted = btyd.fit_gamma_gamma(x, m)  # exactly the default minimum
    assert np.isfinite(btyd.gamma_gamma_log_likelihood(fitted, x, m)).all()


@pytest.mark.parametrize(
    ("frequency", "monetary", "message"),
    [
        ([1.5], [10.0], "frequency must be whole numbers >= 0"),
        ([-1], [10.0], "frequency must be whole numbers >= 0"),
        ([np.nan], [10.0], "frequency must be finite"),
        ([2], [np.inf], "monetary must be finite where frequency >= 1"),
        ([2], [0.0], "monetary must be > 0 where frequency >= 1"),
        ([2], [-5.0], "monetary must be > 0 where frequency >= 1"),
        ([1, 2], [10.0], "must have one shape"),
        (["a"], [10.0], "frequency must be numeric"),
    ],
)
def test_fit_gamma_gamma_rejects_invalid_input(
    frequency: list[object], monetary: list[float], message: str
) -> None:
    with pytest.raises(DataError, match=message) as caught:
        btyd.fit_gamma_gamma(frequency, monetary)
    assert str(caught.value).startswith("fit_gamma_gamma: ")


def test_fit_gamma_gamma_rejects_bad_options() -> None:
    with pytest.raises(ConfigError, match="min_customers must be an integer >= 2; got 1"):
        btyd.fit_gamma_gamma([1, 2], [1.0, 2.0], min_customers=1)
    with pytest.raises(ConfigError, match="initial must be GammaGammaParams"):
        btyd.fit_gamma_gamma([1, 2], [1.0, 2.0], initial=(1, 2, 3))  # type: ignore[arg-type]
    with pytest.raises(DataError, match="weights must be finite and >= 0"):
        btyd.fit_gamma_gamma([1, 2], [1.0, 2.0], weights=[1.0, -1.0], min_customers=2)


def test_gamma_gamma_params_reject_non_positive_values() -> None:
    with pytest.raises(ConfigError, match="q must be a positive finite number; got 0"):
        btyd.GammaGammaParams(p=1.0, q=0, gamma=1.0)


def test_independence_check_on_independent_data(caplog: pytest.LogCaptureFixture) -> None:
    x = _frequencies(3000, seed=10)
    m = btyd.simulate_gamma_gamma(TRUE, x, seed=11)
    with caplog.at_level(logging.INFO, logger="churn.btyd.gamma_gamma"):
        check = btyd.spend_frequency_independence(x, m)
    assert check.independent
    assert check.n == 3000
    assert abs(check.pearson) < 0.1
    assert abs(check.spearman) < 0.1
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_independence_check_on_dependent_data_warns(caplog: pytest.LogCaptureFixture) -> None:
    x = _frequencies(3000, seed=12)
    m = 10.0 * x * np.random.default_rng(13).lognormal(0, 0.2, x.size)  # spend grows with x
    with caplog.at_level(logging.INFO, logger="churn.btyd.gamma_gamma"):
        check = btyd.spend_frequency_independence(x, m)
    assert not check.independent
    assert check.spearman > 0.5
    assert check.spearman_p_value < 1e-10
    assert any("assumption is in doubt" in r.getMessage() for r in caplog.records)
    assert check.to_dict()["independent"] is False


def test_independence_check_with_too_few_repeat_buyers_is_nan() -> None:
    check = btyd.spend_frequency_independence([0, 1, 2], [0.0, 5.0, 6.0])
    assert check.n == 2
    assert np.isnan(check.pearson)
    assert check.independent


def test_independence_check_rejects_a_bad_threshold() -> None:
    with pytest.raises(ConfigError, match=r"threshold must be within \(0, 1\); got 1.5"):
        btyd.spend_frequency_independence([1, 2, 3], [1.0, 2.0, 3.0], threshold=1.5)

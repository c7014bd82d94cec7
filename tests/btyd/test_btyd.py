"""BG/NBD: recovery of known parameters, the paper's formulas, Monte Carlo and input checks."""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, optimize, stats
from scipy.special import beta as beta_fn
from scipy.special import gamma as gamma_fn
from scipy.special import hyp2f1

from churn import btyd
from churn.btyd import fit as btyd_fit
from churn.errors import ConfigError, DataError

TRUE = btyd.BGNBDParams(r=0.25, alpha=4.0, a=0.8, b=2.5)  # weeks


def _weeks(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(30, 80, n)


def _as_array(params: btyd.BGNBDParams) -> np.ndarray:
    return np.array([params.r, params.alpha, params.a, params.b])


def _standard_errors_of_log_params(
    params: btyd.BGNBDParams, x: np.ndarray, t_x: np.ndarray, t_end: np.ndarray
) -> np.ndarray:
    """Sampling error of the log-parameters from the observed information (numeric Hessian)."""

    def total(theta: np.ndarray) -> float:
        p = btyd.BGNBDParams(*np.exp(theta))
        return float(btyd.log_likelihood(p, x, t_x, t_end).sum())

    theta, h = np.log(_as_array(params)), 1e-3
    steps = np.eye(4) * h
    hessian = np.array(
        [
            [
                total(theta + si + sj)
                - total(theta + si - sj)
                - total(theta - si + sj)
                + total(theta - si - sj)
                for sj in steps
            ]
            for si in steps
        ]
    ) / (4 * h * h)
    return np.sqrt(np.diag(np.linalg.inv(-hessian)))


def _simulate_with_future(
    params: btyd.BGNBDParams, t_end: np.ndarray, t: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each customer's purchases in ``(0, T + t]`` explicitly: ``(x, t_x, purchases after T)``.

    Independent of :func:`btyd.simulate_bgnbd`: every purchase opportunity of the Poisson process
    gets its own uniform time, and a customer makes opportunities ``1 .. J`` only.
    """
    rng = np.random.default_rng(seed)
    n = t_end.size
    rate = rng.gamma(params.r, 1 / params.alpha, n)
    drop_after = rng.geometric(rng.beta(params.a, params.b, n))
    horizon = t_end + t
    counts = rng.poisson(rate * horizon)
    owner = np.repeat(np.arange(n), counts)
    times = rng.uniform(0, horizon[owner])
    order = np.lexsort((times, owner))
    owner, times = owner[order], times[order]
    rank = np.arange(owner.size) - np.repeat(np.cumsum(counts) - counts, counts) + 1
    made = rank <= drop_after[owner]
    observed = made & (times <= t_end[owner])
    x = np.bincount(owner[observed], minlength=n)
    t_x = np.zeros(n)
    np.maximum.at(t_x, owner[observed], times[observed])
    future = np.bincount(owner[made & ~observed], minlength=n)
    return x, t_x, future


def _posterior_integral(
    params: btyd.BGNBDParams, t: float, x: int, t_x: float, t_end: float
) -> float:
    """Eq. (10) another way: P(alive) * E[(1 - E[exp(-lambda p t)]) / p], p ~ Beta(a, b + x)."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b

    def integrand(p: float) -> float:
        if_alive = -np.expm1(-(r + x) * np.log1p(p * t / (alpha + t_end))) / p
        return float(if_alive * stats.beta.pdf(p, a, b + x))

    mode = a / (a + b + x)
    value, _ = integrate.quad(
        integrand, 0, 1, points=[mode, min(10 * mode, 0.5)], limit=200, epsrel=1e-11
    )
    return value * float(btyd.p_alive(params, [x], [t_x], [t_end])[0])


def test_fit_bgnbd_recovers_simulated_params(caplog: pytest.LogCaptureFixture) -> None:
    x, t_x, t_end = btyd.simulate_bgnbd(TRUE, n=20_000, T=_weeks(20_000, seed=0), seed=1)

    with caplog.at_level(logging.DEBUG, logger="churn.btyd"):
        fitted = btyd.fit_bgnbd(x, t_x, t_end)

    error = np.log(_as_array(fitted) / _as_array(TRUE))
    se = _standard_errors_of_log_params(fitted, x, t_x, t_end)
    # Sampling error (SE) here is 1.5-2.5% for r, alpha and 5-7% for a, b: 4 SE is generous and
    # still within the 20% a practitioner would call "recovered".
    assert np.all(np.abs(error) < 4 * se), (fitted, se)
    assert np.all(np.abs(error) < np.log(1.2)), fitted
    fitted_ll = btyd.log_likelihood(fitted, x, t_x, t_end).sum()
    assert fitted_ll >= btyd.log_likelihood(TRUE, x, t_x, t_end).sum() - 1e-6
    assert "log-likelihood" in caplog.text
    assert f"{fitted.r:.6g}" in caplog.text


def test_fit_bgnbd_weights_match_repeated_rows() -> None:
    x, t_x, t_end = btyd.simulate_bgnbd(TRUE, n=5_000, T=52.0, seed=2)
    t_x = np.ceil(t_x)  # whole weeks, so many rows repeat
    rows, counts = np.unique(np.column_stack([x, t_x, t_end]), axis=0, return_counts=True)

    from_rows = btyd.fit_bgnbd(x, t_x, t_end)
    from_counts = btyd.fit_bgnbd(rows[:, 0], rows[:, 1], rows[:, 2], weights=counts)

    assert len(rows) < len(x) / 5
    np.testing.assert_allclose(_as_array(from_counts), _as_array(from_rows), rtol=1e-5)


def test_fit_bgnbd_penalizer_shrinks_params() -> None:
    x, t_x, t_end = btyd.simulate_bgnbd(TRUE, n=3_000, T=_weeks(3_000, seed=3), seed=3)

    plain = btyd.fit_bgnbd(x, t_x, t_end)
    shrunk = btyd.fit_bgnbd(x, t_x, t_end, penalizer=0.1)

    assert np.sum(_as_array(shrunk) ** 2) < np.sum(_as_array(plain) ** 2)


def test_fit_bgnbd_initial_does_not_change_optimum() -> None:
    x, t_x, t_end = btyd.simulate_bgnbd(TRUE, n=3_000, T=_weeks(3_000, seed=4), seed=4)

    default = btyd.fit_bgnbd(x, t_x, t_end)
    far = btyd.fit_bgnbd(x, t_x, t_end, initial=btyd.BGNBDParams(r=3.0, alpha=0.5, a=5, b=0.5))

    np.testing.assert_allclose(_as_array(far), _as_array(default), rtol=1e-4)


def test_fit_bgnbd_gradient_matches_finite_differences() -> None:
    x, t_x, t_end = btyd.simulate_bgnbd(TRUE, n=2_000, T=_weeks(2_000, seed=5), seed=5)
    data = btyd_fit._aggregate(x.astype(float), t_x, t_end, np.ones(x.size))

    def value(theta: np.ndarray) -> float:
        return btyd_fit._negative_log_likelihood(theta, data, penalizer=0.05)[0]

    def gradient(theta: np.ndarray) -> np.ndarray:
        return btyd_fit._negative_log_likelihood(theta, data, penalizer=0.05)[1]

    for theta in (np.log([0.25, 4.0, 0.8, 2.5]), np.log([2.0, 0.3, 3.0, 0.6])):
        numeric = optimize.approx_fprime(theta, value, 1e-7)
        np.testing.assert_allclose(gradient(theta), numeric, rtol=1e-5, atol=1e-6)


def test_fit_bgnbd_unconverged_raises_with_optimizer_message(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    x, t_x, t_end = btyd.simulate_bgnbd(TRUE, n=1_000, T=52.0, seed=6)
    real_minimize = optimize.minimize

    def one_iteration(*args: Any, **kwargs: Any) -> optimize.OptimizeResult:
        kwargs["options"] = {**kwargs["options"], "maxiter": 1}
        return real_minimize(*args, **kwargs)

    monkeypatch.setattr(btyd_fit.optimize, "minimize", one_iteration)

    with pytest.raises(btyd.ConvergenceError, match=r"did not converge .*ITERATIONS REACHED LIMIT"):
        btyd.fit_bgnbd(x, t_x, t_end)


@pytest.mark.parametrize(
    ("gradient", "converged"), [(1e-7, True), (1e-3, False)], ids=["flat", "steep"]
)
def test_fit_bgnbd_stalled_line_search_counts_only_when_flat(
    monkeypatch: pytest.MonkeyPatch, gradient: float, converged: bool
) -> None:
    theta = np.log([0.3, 5.0, 1e7, 1e8])  # a ridge: p ~ Beta(a, b) is nearly a point mass

    def stalled(*args: Any, **kwargs: Any) -> optimize.OptimizeResult:
        return optimize.OptimizeResult(
            x=theta,
            fun=2.0,
            jac=np.full(4, gradient),
            status=2,
            success=False,
            nit=30,
            message="ABNORMAL: ",
        )

    monkeypatch.setattr(btyd_fit.optimize, "minimize", stalled)

    if converged:
        fitted = btyd.fit_bgnbd([1, 2, 0], [1, 3, 0], [5, 5, 5])
        np.testing.assert_allclose(_as_array(fitted), np.exp(theta))
    else:
        with pytest.raises(btyd.ConvergenceError, match=r"after 30 iterations: ABNORMAL"):
            btyd.fit_bgnbd([1, 2, 0], [1, 3, 0], [5, 5, 5])


def test_fit_bgnbd_warns_when_a_parameter_ends_on_its_bound(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    theta = np.array([0.0, 1.0, btyd_fit._LOG_BOUND, btyd_fit._LOG_BOUND])

    def at_bound(*args: Any, **kwargs: Any) -> optimize.OptimizeResult:
        return optimize.OptimizeResult(
            x=theta, fun=2.0, jac=np.zeros(4), status=0, success=True, nit=9, message="ok"
        )

    monkeypatch.setattr(btyd_fit.optimize, "minimize", at_bound)

    with caplog.at_level(logging.WARNING, logger="churn.btyd"):
        btyd.fit_bgnbd([1, 2, 0], [1, 3, 0], [5, 5, 5])

    assert "a, b reached the search bound" in caplog.text


@pytest.mark.parametrize(
    ("frequency", "recency", "t_end", "message"),
    [
        ([], [], [], "need at least one customer; got empty arrays"),
        ([1, -2, 0], [1, 1, 0], [5, 5, 5], r"frequency must be >= 0; 1 of 3 rows .* row 1 "),
        (
            [1, 2, 0],
            [1, 6, 0],
            [5, 5, 5],
            r"recency must not exceed T; 1 of 3 .*recency=6.0, T=5.0",
        ),
        (
            [0, 0, 0],
            [0, 2, 3],
            [5, 5, 5],
            r"recency must be 0 where frequency is 0; 2 of 3 .*row 1",
        ),
        ([1, 1, 0], [1, 1, 0], [5, np.inf, 5], r"T must be finite; 1 of 3 rows .*T=inf"),
        ([1, 1, 0], [1, np.nan, 0], [5, 5, 5], r"recency must be finite; 1 of 3"),
        ([1.5, 1, 0], [1, 1, 0], [5, 5, 5], r"frequency must be whole numbers; 1 of 3 .*row 0"),
        (
            [1, 1],
            [1, 1, 0],
            [5, 5, 5],
            r"frequency, recency and T must have one shape; got .'frequency': \(2,\)",
        ),
        (["a", 1, 0], [1, 1, 0], [5, 5, 5], r"frequency must be numeric"),
        (
            [2, 1, 0],
            [0, 1, 0],
            [5, 5, 5],
            r"recency must be > 0 where frequency > 0 .*unbounded.*row 0 \(frequency=2.0",
        ),
    ],
)
def test_fit_bgnbd_rejects_bad_summaries(
    frequency: list[Any], recency: list[Any], t_end: list[Any], message: str
) -> None:
    with pytest.raises(DataError, match=rf"^fit_bgnbd: {message}"):
        btyd.fit_bgnbd(frequency, recency, t_end)


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ([1, -1, 1], r"weights must be finite and >= 0; 1 of 3 rows .*weights=-1.0"),
        ([1, 1], r"weights must have the shape of frequency \(3,\); got \(2,\)"),
        ([0, 0, 0], r"weights must not all be 0"),
    ],
)
def test_fit_bgnbd_rejects_bad_weights(weights: list[float], message: str) -> None:
    with pytest.raises(ValueError, match=rf"^fit_bgnbd: {message}"):
        btyd.fit_bgnbd([1, 2, 0], [1, 3, 0], [5, 5, 5], weights=weights)


def test_fit_bgnbd_rejects_bad_options() -> None:
    with pytest.raises(ConfigError, match=r"penalizer must be a finite number >= 0; got -0.1"):
        btyd.fit_bgnbd([1], [1], [2], penalizer=-0.1)
    with pytest.raises(ConfigError, match=r"initial must be BGNBDParams or None; got tuple"):
        btyd.fit_bgnbd([1], [1], [2], initial=(1, 1, 1, 1))  # type: ignore[arg-type]


def test_bgnbdparams_rejects_non_positive() -> None:
    with pytest.raises(ConfigError, match=r"BGNBDParams: alpha must be a positive finite .*got 0"):
        btyd.BGNBDParams(r=1.0, alpha=0, a=1.0, b=1.0)
    with pytest.raises(ConfigError, match=r"BGNBDParams: b must be .*got nan"):
        btyd.BGNBDParams(r=1.0, alpha=1.0, a=1.0, b=float("nan"))


@pytest.mark.slow
def test_fit_bgnbd_fast_on_500k_customers() -> None:
    x, t_x, t_end = btyd.simulate_bgnbd(TRUE, n=500_000, T=_weeks(500_000, seed=14), seed=15)

    start = time.perf_counter()
    fitted = btyd.fit_bgnbd(x, t_x, t_end)  # continuous times: no two rows merge
    elapsed = time.perf_counter() - start

    assert elapsed < 5.0  # about 0.5 s on 2 cores
    np.testing.assert_allclose(_as_array(fitted), _as_array(TRUE), rtol=0.05)


def test_log_likelihood_matches_naive_eq6() -> None:
    x = np.array([0, 0, 1, 2, 5, 12, 30])
    t_x = np.array([0.0, 0.0, 3.0, 10.0, 25.5, 70.0, 79.0])
    t_end = np.array([10.0, 80.0, 40.0, 10.0, 60.0, 75.0, 80.0])
    for p in (TRUE, btyd.BGNBDParams(r=1.7, alpha=0.6, a=2.2, b=0.4)):
        r, alpha, a, b = p.r, p.alpha, p.a, p.b
        # FHL eq. (6), transcribed literally (products of gamma and beta functions)
        common = gamma_fn(r + x) * alpha**r / gamma_fn(r)
        first = beta_fn(a, b + x) / beta_fn(a, b) * common / (alpha + t_end) ** (r + x)
        second = np.where(
            x > 0,
            beta_fn(a + 1, b + np.maximum(x, 1) - 1)
            / beta_fn(a, b)
            * common
            / (alpha + t_x) ** (r + x),
            0.0,
        )

        got = btyd.log_likelihood(p, x, t_x, t_end)

        np.testing.assert_allclose(got, np.log(first + second), rtol=1e-12)


def test_log_likelihood_exact_for_huge_a_and_b() -> None:
    # a, b -> infinity with a / (a + b) = p fixed: dropout is a fixed coin with probability p.
    # log-gamma differences would lose every digit here (lgamma(1e12) is 2.7e13).
    x = np.array([0, 1, 4, 40])
    t_x = np.array([0.0, 2.0, 9.0, 50.0])
    t_end = np.array([10.0, 10.0, 30.0, 60.0])
    r, alpha, p = 0.7, 3.0, 0.2
    params = btyd.BGNBDParams(r=r, alpha=alpha, a=p * 1e12, b=(1 - p) * 1e12)
    common = gamma_fn(r + x) * alpha**r / gamma_fn(r)
    stay = (1 - p) ** x / (alpha + t_end) ** (r + x)
    gone = np.where(x > 0, p * (1 - p) ** (x - 1.0) / (alpha + t_x) ** (r + x), 0.0)

    got = btyd.log_likelihood(params, x, t_x, t_end)

    np.testing.assert_allclose(got, np.log(common * (stay + gone)), rtol=1e-9)


def test_log_likelihood_keeps_shape_and_stays_finite_for_heavy_buyers() -> None:
    x = np.array([[0, 400], [900, 3]])
    t_x = np.array([[0.0, 1490.0], [3000.0, 2.0]])
    t_end = np.array([[1500.0, 1500.0], [3650.0, 3650.0]])

    got = btyd.log_likelihood(btyd.BGNBDParams(r=0.25, alpha=28, a=0.8, b=2.5), x, t_x, t_end)

    assert got.shape == (2, 2)
    assert np.all(np.isfinite(got))


def test_p_alive_is_one_when_no_repeat_purchase() -> None:
    got = btyd.p_alive(TRUE, [0, 0, 0], [0, 0, 0], [0.0, 30.0, 1e6])

    np.testing.assert_array_equal(got, 1.0)


def test_p_alive_matches_formula() -> None:
    r, alpha, a, b = TRUE.r, TRUE.alpha, TRUE.a, TRUE.b
    x, t_x, t_end = 3, 20.0, 50.0
    expected = 1 / (1 + a / (b + x - 1) * ((alpha + t_end) / (alpha + t_x)) ** (r + x))

    np.testing.assert_allclose(btyd.p_alive(TRUE, [x], [t_x], [t_end]), [expected], rtol=1e-13)


def test_p_alive_decreases_as_t_grows() -> None:
    t_end = np.linspace(20, 500, 50)

    got = btyd.p_alive(TRUE, np.full(50, 4), np.full(50, 20.0), t_end)

    assert np.all(np.diff(got) < 0)
    assert got[0] == pytest.approx(1 / (1 + 0.8 / 5.5))  # recency == T: only the prior odds
    assert 0 < got[-1] < 1e-4


def test_p_alive_rejects_inconsistent_rows() -> None:
    with pytest.raises(DataError, match=r"^p_alive: recency must not exceed T; 1 of 2 rows"):
        btyd.p_alive(TRUE, [1, 1], [3, 9], [5, 5])


def test_expected_purchases_matches_monte_carlo() -> None:
    t = 52.0
    t_end = _weeks(100_000, seed=7)
    x, t_x, future = _simulate_with_future(TRUE, t_end, t, seed=8)

    predicted = btyd.expected_purchases(TRUE, t, x, t_x, t_end)

    gap = future - predicted
    stale = t_x < t_end / 2
    buckets = {
        "x=0": x == 0,
        "x=1 recent": (x == 1) & ~stale,
        "x=1 stale": (x == 1) & stale,
        "x=2-4 recent": (x >= 2) & (x <= 4) & ~stale,
        "x=2-4 stale": (x >= 2) & (x <= 4) & stale,
        "x>=5 recent": (x >= 5) & ~stale,
        "x>=5 stale": (x >= 5) & stale,
        "all": np.ones(x.size, dtype=bool),
    }
    for name, rows in buckets.items():
        assert rows.sum() > 1_000, name
        z = gap[rows].mean() / (gap[rows].std() / np.sqrt(rows.sum()))
        assert abs(z) < 4, (name, future[rows].mean(), predicted[rows].mean())
    # the conditioning matters: stale buyers are expected to buy far less than recent ones
    assert predicted[(x == 1) & stale].mean() < 0.7 * predicted[(x == 1) & ~stale].mean()


def test_p_no_purchase_matches_monte_carlo() -> None:
    t = 13.0
    t_end = _weeks(100_000, seed=9)
    x, t_x, future = _simulate_with_future(TRUE, t_end, t, seed=10)

    predicted = btyd.p_no_purchase(TRUE, t, x, t_x, t_end)

    none = (future == 0).astype(float)
    stale = t_x < t_end / 2
    for name, rows in {
        "x=0": x == 0,
        "x=1-3 recent": (x >= 1) & (x <= 3) & ~stale,
        "x=1-3 stale": (x >= 1) & (x <= 3) & stale,
        "x>=4": x >= 4,
        "all": np.ones(x.size, dtype=bool),
    }.items():
        gap = none[rows] - predicted[rows]
        z = gap.mean() / (gap.std() / np.sqrt(rows.sum()))
        assert abs(z) < 4, (name, none[rows].mean(), predicted[rows].mean())
    assert np.all((predicted >= 0) & (predicted <= 1))


def test_p_no_purchase_limits() -> None:
    assert btyd.p_no_purchase(TRUE, 0.0, [3], [10.0], [20.0]) == pytest.approx([1.0])
    gone = btyd.p_no_purchase(TRUE, 1e9, [3], [10.0], [20.0])
    alive = btyd.p_alive(TRUE, [3], [10.0], [20.0])
    np.testing.assert_allclose(gone, 1 - alive, rtol=1e-9)
    with pytest.raises(ValueError, match="p_no_purchase: t must be"):
        btyd.p_no_purchase(TRUE, -1.0, [3], [10.0], [20.0])


@pytest.mark.parametrize(
    ("params", "t", "x", "t_x", "t_end"),
    [
        (TRUE, 52.0, 0, 0.0, 50.0),
        (TRUE, 52.0, 3, 20.0, 50.0),
        (btyd.BGNBDParams(r=0.25, alpha=28.0, a=0.8, b=2.5), 365.0, 300, 1490.0, 1500.0),
        (btyd.BGNBDParams(r=0.5, alpha=10.0, a=5.0, b=20.0), 3650.0, 500, 4000.0, 5000.0),
        (btyd.BGNBDParams(r=2.0, alpha=10.0, a=3.0, b=0.3), 365.0, 0, 0.0, 1500.0),
        (btyd.BGNBDParams(r=0.5, alpha=10.0, a=1.0, b=0.7), 365.0, 5, 10.0, 15.0),  # a == 1
        (btyd.BGNBDParams(r=0.5, alpha=10.0, a=1.0, b=0.7), 365.0, 0, 0.0, 15.0),
        (btyd.BGNBDParams(r=0.5, alpha=10.0, a=0.4, b=0.6), 365.0, 0, 0.0, 15.0),  # a + b == 1
        (btyd.BGNBDParams(r=0.5, alpha=10.0, a=0.3, b=0.5), 365.0, 0, 0.0, 15.0),  # a + b < 1
        # r - a whole: scipy's hyp2f1 alone gives inf (first) or 7e-5 relative error (second)
        (btyd.BGNBDParams(r=1.0, alpha=1.0, a=2.0, b=1.0), 30.0, 101, 0.5, 1.0),
        (btyd.BGNBDParams(r=4.648, alpha=1.0, a=3.648, b=0.205), 999.0, 0, 0.0, 0.0),
    ],
)
def test_expected_purchases_matches_posterior_integral(
    params: btyd.BGNBDParams, t: float, x: int, t_x: float, t_end: float
) -> None:
    got = btyd.expected_purchases(params, t, [x], [t_x], [t_end])

    np.testing.assert_allclose(got, [_posterior_integral(params, t, x, t_x, t_end)], rtol=1e-8)


def test_expected_purchases_finite_for_heavy_buyers_and_no_repeat() -> None:
    params = btyd.BGNBDParams(r=0.25, alpha=28.0, a=0.8, b=2.5)  # days
    x = np.array([0, 1, 50, 300, 300, 900])
    t_x = np.array([0.0, 2.0, 1400.0, 1490.0, 100.0, 3640.0])
    t_end = np.array([1500.0, 1500.0, 1500.0, 1500.0, 1500.0, 3650.0])

    got = btyd.expected_purchases(params, 365.0, x, t_x, t_end)

    assert np.all(np.isfinite(got))
    assert np.all(got >= 0)
    # a steady heavy buyer keeps near their own rate (300 in 1500 days); one who stopped doesn't
    assert 55 < got[3] < 75
    assert got[4] < 1e-6
    np.testing.assert_array_equal(btyd.expected_purchases(params, 0.0, x, t_x, t_end), 0.0)


def test_expected_purchases_rejects_bad_t() -> None:
    with pytest.raises(ValueError, match=r"^expected_purchases: t must be a finite number >= 0"):
        btyd.expected_purchases(TRUE, -1.0, [1], [1], [2])


def test_simulate_bgnbd_matches_model_moments() -> None:
    t_end = _weeks(100_000, seed=9)
    r, alpha, a, b = TRUE.r, TRUE.alpha, TRUE.a, TRUE.b

    x, t_x, t_out = btyd.simulate_bgnbd(TRUE, n=100_000, T=t_end, seed=10)

    np.testing.assert_array_equal(t_out, t_end)
    assert np.all((t_x >= 0) & (t_x <= t_end))
    assert np.all(t_x[x == 0] == 0)
    # FHL eq. (8) at x = 0, P(X(T) = 0) = (alpha / (alpha + T))^r, and eq. (9), E[X(T)]
    zero = (alpha / (alpha + t_end)) ** r
    z = t_end / (alpha + t_end)
    mean = (a + b - 1) / (a - 1) * (1 - (1 - z) ** r * hyp2f1(r, b, a + b - 1, z))
    se_zero = np.sqrt(zero.mean() * (1 - zero.mean()) / x.size)
    assert abs((x == 0).mean() - zero.mean()) < 4 * se_zero
    assert abs(x.mean() - mean.mean()) < 4 * x.std() / np.sqrt(x.size)


def test_simulate_bgnbd_agrees_with_explicit_simulation() -> None:
    t_end = _weeks(50_000, seed=11)

    x, t_x, _ = btyd.simulate_bgnbd(TRUE, n=50_000, T=t_end, seed=12)
    x_ref, t_x_ref, _ = _simulate_with_future(TRUE, t_end, 0.0, seed=13)

    for ours, ref in ((x, x_ref), (t_x, t_x_ref), (t_x / t_end, t_x_ref / t_end)):
        se = np.sqrt(ours.var() / ours.size + ref.var() / ref.size)
        assert abs(ours.mean() - ref.mean()) < 4 * se


def test_simulate_bgnbd_same_seed_same_draws() -> None:
    a = btyd.simulate_bgnbd(TRUE, n=500, T=40.0, seed=3)
    b = btyd.simulate_bgnbd(TRUE, n=500, T=40.0, seed=3)

    for left, right in zip(a, b, strict=True):
        np.testing.assert_array_equal(left, right)
    assert a[0].dtype == np.int64


def test_simulate_bgnbd_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match=r"^simulate_bgnbd: n must be an integer >= 1; got 0"):
        btyd.simulate_bgnbd(TRUE, n=0, T=10.0, seed=0)
    with pytest.raises(ValueError, match=r"T must be a number or have shape \(3,\); got shape"):
        btyd.simulate_bgnbd(TRUE, n=3, T=[1.0, 2.0], seed=0)
    with pytest.raises(ValueError, match=r"T must be finite and >= 0; 1 of 2 rows .*T=-1.0"):
        btyd.simulate_bgnbd(TRUE, n=2, T=[1.0, -1.0], seed=0)


_PLAUSIBLE_PARAMS = st.builds(
    btyd.BGNBDParams,
    r=st.floats(0.02, 20),
    alpha=st.floats(0.05, 500),
    a=st.floats(0.05, 20),
    b=st.floats(0.05, 50),
)


@st.composite
def _customers(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = draw(st.integers(1, 8))
    x = np.array(draw(st.lists(st.integers(0, 500), min_size=n, max_size=n)), dtype=float)
    t_end = np.array(draw(st.lists(st.floats(0, 5000), min_size=n, max_size=n)))
    share = np.array(draw(st.lists(st.floats(0, 1), min_size=n, max_size=n)))
    return x, np.where(x > 0, share * t_end, 0.0), t_end


@settings(max_examples=300, deadline=None)
@given(params=_PLAUSIBLE_PARAMS, customers=_customers(), t=st.floats(0, 5000))
def test_p_alive_and_expected_purchases_bounded_for_valid_inputs(
    params: btyd.BGNBDParams,
    customers: tuple[np.ndarray, np.ndarray, np.ndarray],
    t: float,
) -> None:
    x, t_x, t_end = customers

    alive = btyd.p_alive(params, x, t_x, t_end)
    purchases = btyd.expected_purchases(params, t, x, t_x, t_end)

    assert np.all((alive >= 0) & (alive <= 1))
    assert np.all(np.isfinite(purchases))
    assert np.all(purchases >= 0)

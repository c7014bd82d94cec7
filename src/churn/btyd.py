"""The BG/NBD "buy till you die" model of repeat purchasing, with numpy and scipy only.

Fader, Hardie & Lee (2005), "Counting Your Customers the Easy Way: An Alternative to the
Pareto/NBD Model", *Marketing Science* 24(2), 275-284 (FHL below). While active, a customer buys
at the times of a Poisson process with rate ``lambda ~ Gamma(r, rate=alpha)``; after each repeat
purchase they drop out for good with probability ``p ~ Beta(a, b)``. The first purchase, at time
0, starts the clock and cannot end it, so a customer with no repeat purchase is surely alive.

Every function takes the usual per-customer summary, in whatever time unit the caller chooses
(days, weeks), the same for all three arrays and for the fitted ``alpha``:

* ``frequency`` ``x``: the number of repeat purchases (purchase periods after the first),
* ``recency`` ``t_x``: the time of the last purchase, measured from the first purchase,
* ``T``: the time from the first purchase to the end of observation,

with ``T >= t_x >= 0`` and ``t_x == 0`` whenever ``x == 0`` (fitting also needs ``t_x > 0``
whenever ``x > 0``). Arrays of one shape go in, an array of that shape comes out; nothing loops
over customers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import optimize
from scipy.special import digamma, expit, gammaln, hyp2f1

from churn.errors import ChurnError, ConfigError, DataError

log = logging.getLogger(__name__)

_PARAM_NAMES = ("r", "alpha", "a", "b")
# Log-parameters stay within +-25 (about 1e-11 to 7e10): wide enough for any time unit from
# seconds to years, narrow enough that no term of the likelihood can overflow.
_LOG_BOUND = 25.0
# Eq. (10) is 0/0 at a == 1 (and, for x == 0, at a + b == 1); the limit is smooth, so near
# those points it is interpolated linearly from two evaluations this far either side.
_SINGULAR_HALF_WIDTH = 1e-5
_HYP2F1_NUDGE = 1e-5  # see _hyp2f1
# A line-search stall with every component of the gradient of the mean log-likelihood (per
# unit of log-parameter) below this counts as converged: see _converged.
_FLAT_GRADIENT = 1e-5
_RISING_SUM_LIMIT = 100_000  # see _log_rising


class ConvergenceError(ChurnError):
    """The optimiser stopped before it converged; the message carries its own reason."""


@dataclass(frozen=True)
class BGNBDParams:
    """BG/NBD parameters: ``lambda ~ Gamma(r, rate=alpha)``, ``p ~ Beta(a, b)``.

    ``alpha`` is in the time unit of the data it was fitted on (the mean purchase rate of an
    active customer is ``r / alpha`` per unit).
    """

    r: float
    alpha: float
    a: float
    b: float

    def __post_init__(self) -> None:
        for name in _PARAM_NAMES:
            value = getattr(self, name)
            if not isinstance(value, int | float | np.floating | np.integer) or not (
                np.isfinite(value) and value > 0
            ):
                raise ConfigError(
                    f"BGNBDParams: {name} must be a positive finite number; got {value!r}"
                )


@dataclass(frozen=True)
class _Summary:
    """Validated summary rows, with what the likelihood needs per distinct frequency."""

    x: np.ndarray
    recency: np.ndarray
    T: np.ndarray
    weights: np.ndarray
    x_values: np.ndarray  # the distinct frequencies
    x_index: np.ndarray  # per row, its frequency's position in x_values
    x_weights: np.ndarray  # total weight per distinct frequency


def fit_bgnbd(
    frequency: npt.ArrayLike,
    recency: npt.ArrayLike,
    T: npt.ArrayLike,  # noqa: N803 - the BTYD literature's name
    *,
    weights: npt.ArrayLike | None = None,
    penalizer: float = 0.0,
    initial: BGNBDParams | None = None,
) -> BGNBDParams:
    """Fit the BG/NBD model by maximum likelihood.

    Maximises the weighted mean log-likelihood (FHL eq. 6) minus ``penalizer`` times the sum of
    the squared parameters (the ``lifetimes`` library's penalty), over log-parameters with
    L-BFGS-B and an analytic gradient. Identical ``(frequency, recency, T)`` rows are merged
    first, so data in whole days or weeks fits in a fraction of the time.

    Args:
        frequency: Repeat purchases per customer (whole numbers >= 0).
        recency: Time of the last purchase since the first, per customer.
        T: Time from the first purchase to the end of observation, per customer.
        weights: Optional count (or weight >= 0) per row, for callers that already aggregated
            identical rows; defaults to one per row.
        penalizer: L2 penalty on the parameters (>= 0); 0 gives the plain maximum likelihood.
        initial: Starting point; by default one is derived from the data.

    Returns:
        The fitted parameters.

    Raises:
        DataError: (a ``ValueError``) if the input is empty, non-finite, negative or
            inconsistent (``recency > T``, ``recency > 0`` with ``frequency == 0``, or
            ``recency == 0`` with ``frequency > 0``, which no maximum likelihood exists for).
        ConfigError: (a ``ValueError``) if ``penalizer`` or ``initial`` cannot work.
        ConvergenceError: if the optimiser stops without converging.
    """
    where = "fit_bgnbd"
    if not (isinstance(penalizer, int | float) and np.isfinite(penalizer) and penalizer >= 0):
        raise ConfigError(f"{where}: penalizer must be a finite number >= 0; got {penalizer!r}")
    if initial is not None and not isinstance(initial, BGNBDParams):
        raise ConfigError(
            f"{where}: initial must be BGNBDParams or None; got {type(initial).__name__}"
        )
    x, t_x, t_end = _validated_summary(where, frequency, recency, T)
    if x.size == 0:
        raise DataError(f"{where}: need at least one customer; got empty arrays")
    at_start = (x > 0) & (t_x == 0)
    if at_start.any():
        # the likelihood of such a row grows without bound as alpha -> 0
        raise DataError(
            _problem(
                where,
                "recency must be > 0 where frequency > 0 (repeat purchases at time 0 "
                "make the likelihood unbounded)",
                at_start,
                {"frequency": x, "recency": t_x},
            )
        )
    w = _validated_weights(where, weights, x.shape)
    data = _aggregate(x.ravel(), t_x.ravel(), t_end.ravel(), w.ravel())
    start = _initial_log_params(data) if initial is None else _log_params(initial)
    penalty = float(penalizer)

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        return _negative_log_likelihood(theta, data, penalizer=penalty)

    result = optimize.minimize(
        objective,
        start,
        jac=True,
        method="L-BFGS-B",
        bounds=[(-_LOG_BOUND, _LOG_BOUND)] * 4,
        options={"maxiter": 1000, "ftol": 1e-12, "gtol": 1e-8},
    )
    if not _converged(result):
        raise ConvergenceError(
            f"{where}: L-BFGS-B did not converge on {x.size} rows ({data.x.size} distinct) "
            f"after {result.nit} iterations: {result.message}; "
            f"last parameters {_format_params(np.exp(result.x))}"
        )
    params = BGNBDParams(*(float(v) for v in np.exp(result.x)))
    at_bound = [n for n, v in zip(_PARAM_NAMES, result.x, strict=True) if abs(v) >= _LOG_BOUND]
    if at_bound:
        log.warning(
            "fit_bgnbd: %s reached the search bound exp(+-%g); the data hardly identify them",
            ", ".join(at_bound),
            _LOG_BOUND,
        )
    mean_ll = -result.fun + penalty * float(np.sum(np.exp(2 * result.x)))
    log.debug(
        "fit_bgnbd: %d rows (%d distinct), %d iterations, %s, log-likelihood %.6f (mean %.6f)",
        x.size,
        data.x.size,
        result.nit,
        _format_params(np.exp(result.x)),
        mean_ll * float(data.weights.sum()),
        mean_ll,
    )
    return params


def log_likelihood(
    params: BGNBDParams,
    frequency: npt.ArrayLike,
    recency: npt.ArrayLike,
    T: npt.ArrayLike,  # noqa: N803 - the BTYD literature's name
) -> np.ndarray:
    """Log-likelihood of each customer's summary, FHL eq. (6), in log space.

    Args:
        params: Model parameters.
        frequency: Repeat purchases per customer.
        recency: Time of the last purchase since the first, per customer.
        T: Time from the first purchase to the end of observation, per customer.

    Returns:
        The log-likelihood per customer, shaped like the inputs.

    Raises:
        DataError: (a ``ValueError``) for non-finite, negative or inconsistent input.
    """
    x, t_x, t_end = _validated_summary("log_likelihood", frequency, recency, T)
    data = _summary(x.ravel(), t_x.ravel(), t_end.ravel(), np.ones(x.size))
    ll, _ = _log_likelihood_and_gradient(_log_params(params), data)
    return ll.reshape(x.shape)


def p_alive(
    params: BGNBDParams,
    frequency: npt.ArrayLike,
    recency: npt.ArrayLike,
    T: npt.ArrayLike,  # noqa: N803 - the BTYD literature's name
) -> np.ndarray:
    """Probability that each customer is still active at ``T``.

    ``1 / (1 + [x > 0] * a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x))``, the
    ratio of the second term of FHL eq. (6) to the whole (Fader, Hardie & Lee's note "Computing
    P(alive) using the BG/NBD model"), computed as a logistic of the log-odds so that it neither
    overflows nor loses small values.

    Args:
        params: Model parameters.
        frequency: Repeat purchases per customer.
        recency: Time of the last purchase since the first, per customer.
        T: Time from the first purchase to the end of observation, per customer.

    Returns:
        ``P(alive | x, t_x, T)`` per customer, shaped like the inputs; exactly 1 where ``x == 0``.

    Raises:
        DataError: (a ``ValueError``) for non-finite, negative or inconsistent input.
    """
    x, t_x, t_end = _validated_summary("p_alive", frequency, recency, T)
    return _p_alive(params, x, t_x, t_end)


def expected_purchases(
    params: BGNBDParams,
    t: float,
    frequency: npt.ArrayLike,
    recency: npt.ArrayLike,
    T: npt.ArrayLike,  # noqa: N803 - the BTYD literature's name
) -> np.ndarray:
    """Expected number of purchases in ``(T, T + t]`` given each customer's history, FHL eq. (10).

    Eq. (10) holds ``(1 - z) ** (r + x) * 2F1(r + x, b + x; a + b + x - 1; z)`` with
    ``z = t / (alpha + T + t)``; its first two arguments grow with ``x``, so the series
    converges slowly and overflows for heavy buyers. Euler's transformation
    ``2F1(A, B; C; z) = (1 - z) ** (C - A - B) * 2F1(C - A, C - B; C; z)`` turns the product
    into ``(1 - z) ** (a - 1) * 2F1(a - 1, a + b - 1 - r; a + b + x - 1; z)``, whose first two
    arguments do not depend on ``x`` or ``T``: it stays finite and accurate however large they
    are (``x`` in the hundreds, ``T`` in thousands of days). The removable 0/0 at ``a == 1``
    (and ``a + b == 1`` for ``x == 0``) is bridged by interpolation, and scipy's failures where
    ``r - a`` is a whole number are mended (see ``_hyp2f1``). Checked against a numerical
    integral over the posterior of ``p`` and against Monte Carlo in the tests.

    Args:
        params: Model parameters.
        t: Length of the future window, in the data's time unit (>= 0).
        frequency: Repeat purchases per customer.
        recency: Time of the last purchase since the first, per customer.
        T: Time from the first purchase to the end of observation, per customer.

    Returns:
        Expected purchases per customer in the next ``t``, shaped like the inputs.

    Raises:
        DataError: (a ``ValueError``) for non-finite, negative or inconsistent input.
        ValueError: if ``t`` is not a finite number >= 0.
    """
    where = "expected_purchases"
    _check_horizon(where, t)
    x, t_x, t_end = _validated_summary(where, frequency, recency, T)
    alive = _p_alive(params, x, t_x, t_end)
    r, alpha, a, b = params.r, params.alpha, params.a, params.b

    def at(a_: float, b_: float) -> np.ndarray:
        return _purchases_if_alive(r, alpha, a_, b_, float(t), x, t_end)

    if abs(a - 1) < _SINGULAR_HALF_WIDTH:
        if_alive = _interpolate(lambda v: at(v, b), a, 1.0)
    elif abs(a + b - 1) < _SINGULAR_HALF_WIDTH and np.any(x == 0):
        if_alive = _interpolate(lambda v: at(a, v), b, 1.0 - a)
    else:
        if_alive = at(a, b)
    # The product is >= 0 in exact arithmetic; rounding can leave -1e-17 when t is tiny.
    return np.maximum(if_alive * alive, 0.0)


def p_no_purchase(
    params: BGNBDParams,
    t: float,
    frequency: npt.ArrayLike,
    recency: npt.ArrayLike,
    T: npt.ArrayLike,  # noqa: N803 - the BTYD literature's name
) -> np.ndarray:
    """Probability of no purchase in ``(T, T + t]`` given each customer's history: BG/NBD churn.

    A customer who is gone never buys again. One who is still active buys at their Poisson rate
    (dropping out only right after a purchase), and given that they are active their rate's
    posterior is ``Gamma(r + x, alpha + T)``, so ``P(no purchase | alive) = E[exp(-lambda t)]
    = ((alpha + T) / (alpha + T + t)) ** (r + x)``. Hence
    ``1 - P(alive) * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x))``.

    Args:
        params: Model parameters.
        t: Length of the future window, in the data's time unit (>= 0).
        frequency: Repeat purchases per customer.
        recency: Time of the last purchase since the first, per customer.
        T: Time from the first purchase to the end of observation, per customer.

    Returns:
        Probabilities per customer, shaped like the inputs.

    Raises:
        DataError: (a ``ValueError``) for non-finite, negative or inconsistent input.
        ValueError: if ``t`` is not a finite number >= 0.
    """
    where = "p_no_purchase"
    _check_horizon(where, t)
    x, t_x, t_end = _validated_summary(where, frequency, recency, T)
    alive = _p_alive(params, x, t_x, t_end)
    # log P(no purchase | alive) = -(r + x) * log1p(t / (alpha + T))
    buys_if_alive = -np.expm1(-(params.r + x) * np.log1p(t / (params.alpha + t_end)))
    return 1.0 - alive * buys_if_alive


def simulate_bgnbd(
    params: BGNBDParams,
    *,
    n: int,
    T: float | npt.ArrayLike,  # noqa: N803 - the BTYD literature's name
    seed: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw customer summaries from the BG/NBD generative model.

    Per customer: ``lambda ~ Gamma(r, rate=alpha)``, ``p ~ Beta(a, b)``, the number ``J`` of
    repeat purchases before dropping out ``~ Geometric(p)`` on ``1, 2, ...``, and
    ``N ~ Poisson(lambda * T)`` purchase opportunities in ``(0, T]``. Then ``x = min(J, N)`` and,
    the ``N`` arrival times being uniform order statistics, ``t_x = T * Beta(x, N - x + 1)``.

    Args:
        params: Model parameters (``alpha`` in the time unit of ``T``).
        n: Number of customers (>= 1).
        T: Observation length: one number for all, or one per customer (shape ``(n,)``).
        seed: Seed of the random generator.

    Returns:
        ``(frequency, recency, T)``: repeat purchases (int64), time of the last purchase and
        observation length (float64), each of shape ``(n,)``.

    Raises:
        ValueError: if ``n`` or ``T`` cannot work.
    """
    where = "simulate_bgnbd"
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"{where}: n must be an integer >= 1; got {n!r}")
    t_end = np.array(T, dtype=float)  # a copy: the caller's array is not handed back
    if t_end.ndim == 0:
        t_end = np.full(n, float(t_end))
    elif t_end.shape != (n,):
        raise ValueError(
            f"{where}: T must be a number or have shape ({n},); got shape {t_end.shape}"
        )
    bad = ~np.isfinite(t_end) | (t_end < 0)
    if bad.any():
        raise ValueError(_problem(where, "T must be finite and >= 0", bad, {"T": t_end}))
    rng = np.random.default_rng(seed)
    rate = rng.gamma(params.r, 1.0 / params.alpha, size=n)
    # A Beta draw can round to exactly 0 or 1; either end would make the log below infinite.
    p = np.clip(rng.beta(params.a, params.b, size=n), 1e-300, 1 - 1e-16)
    # Geometric on 1, 2, ... by inversion, in floats so that a tiny p cannot overflow an int.
    drop_at = np.maximum(np.ceil(np.log1p(-rng.random(n)) / np.log1p(-p)), 1.0)
    opportunities = rng.poisson(rate * t_end).astype(float)
    x = np.minimum(drop_at, opportunities)
    repeat = x > 0
    order_stat = rng.beta(np.where(repeat, x, 1.0), np.where(repeat, opportunities - x + 1, 1.0))
    recency = np.where(repeat, t_end * order_stat, 0.0)
    return x.astype(np.int64), recency, t_end


def _check_horizon(where: str, t: object) -> None:
    if not (isinstance(t, int | float | np.floating | np.integer) and np.isfinite(t) and t >= 0):
        raise ValueError(f"{where}: t must be a finite number >= 0; got {t!r}")


def _p_alive(params: BGNBDParams, x: np.ndarray, t_x: np.ndarray, t_end: np.ndarray) -> np.ndarray:
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    repeat = x > 0
    x_safe = np.where(repeat, x, 1.0)  # b + x - 1 may be <= 0 at x == 0, which is masked out
    # (alpha + T) / (alpha + t_x) = 1 + (T - t_x) / (alpha + t_x), exact for any alpha
    log_odds_gone = (
        np.log(a) - np.log(b + x_safe - 1) + (r + x) * np.log1p((t_end - t_x) / (alpha + t_x))
    )
    return np.where(repeat, expit(-log_odds_gone), 1.0)


def _purchases_if_alive(
    r: float, alpha: float, a: float, b: float, t: float, x: np.ndarray, t_end: np.ndarray
) -> np.ndarray:
    """Eq. (10) without its ``P(alive)`` denominator, in the Euler-transformed form."""
    log_1mz = -np.log1p(t / (alpha + t_end))  # log(1 - z)
    z = t / (alpha + t_end + t)
    c = a + b + x - 1
    hyp = _hyp2f1(a - 1, a + b - 1 - r, c, z)
    # 1 - (1 - z)^(a - 1) * hyp, written so small t does not cancel to noise
    bracket = -(np.expm1((a - 1) * log_1mz) * hyp + (hyp - 1))
    return c / (a - 1) * bracket


def _hyp2f1(a: float, b: float, c: np.ndarray, z: np.ndarray) -> np.ndarray:
    """``scipy.special.hyp2f1``, mended where ``c - a - b`` is (nearly) a whole number.

    There (``r - a`` whole in eq. 10) scipy's ``z > 0.9`` branch returns inf or nan once ``c``
    passes about 100, and a hair off a whole number it cancels catastrophically (errors up to
    100% were seen). The function is smooth in ``b``, so within ``h`` of a whole gap it is
    interpolated linearly between the two points where the gap is exactly ``h`` off: about
    1e-9 relative error, checked against direct summation of the series.
    """
    value = hyp2f1(a, b, c, z)
    gap = c - a - b
    off = gap - np.round(gap)
    near = np.abs(off) < _HYP2F1_NUDGE
    if np.any(near):
        h = _HYP2F1_NUDGE
        wide = hyp2f1(a, b + off - h, c, z)  # gap = whole + h
        narrow = hyp2f1(a, b + off + h, c, z)  # gap = whole - h
        value = np.where(near, wide + (h - off) / (2 * h) * (narrow - wide), value)
    return value


def _interpolate(f: Callable[[float], np.ndarray], value: float, singular: float) -> np.ndarray:
    """``f(value)`` for ``value`` near a removable singularity, from two points either side."""
    h = _SINGULAR_HALF_WIDTH
    lo, hi = f(singular - h), f(singular + h)
    return lo + (value - (singular - h)) / (2 * h) * (hi - lo)


def _converged(result: optimize.OptimizeResult) -> bool:
    """Whether L-BFGS-B stopped at an optimum.

    Besides its own success, a stop because the line search made no progress (status 2) counts
    when the projected gradient is negligible: that happens on the flat ridges of the
    likelihood (``a, b`` both huge or both tiny on small samples), where the objective cannot
    improve in double precision.
    """
    if not np.all(np.isfinite(result.x)) or not np.isfinite(result.fun):
        return False
    if result.success:
        return True
    gradient = np.asarray(result.jac, dtype=float)
    outward = ((result.x <= -_LOG_BOUND) & (gradient > 0)) | (
        (result.x >= _LOG_BOUND) & (gradient < 0)
    )
    projected = np.where(outward, 0.0, gradient)
    if result.status == 2 and np.max(np.abs(projected)) < _FLAT_GRADIENT:
        log.debug("fit_bgnbd: line search stalled at a flat optimum: %s", result.message)
        return True
    return False


def _log_rising(z: float, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``log((z)_n) = lgamma(z + n) - lgamma(z)`` and its derivative in ``z``, for whole ``n``.

    As running sums of ``log(z + k)`` and ``1 / (z + k)``, ``k < n``: differences of these stay
    accurate for huge ``z``, where ``gammaln`` differences lose every digit (``a, b`` run off to
    1e9 on the flat ridges of small samples). Counts beyond ``_RISING_SUM_LIMIT`` fall back to
    the gamma-function differences.
    """
    top = int(min(n.max(initial=0), _RISING_SUM_LIMIT))
    k = np.arange(top)
    value = np.concatenate([[0.0], np.cumsum(np.log(z + k))])
    slope = np.concatenate([[0.0], np.cumsum(1 / (z + k))])
    summed = n <= top
    at = np.where(summed, n, 0).astype(np.intp)
    big = np.where(summed, 0.0, n)
    return (
        np.where(summed, value[at], gammaln(z + big) - gammaln(z)),
        np.where(summed, slope[at], digamma(z + big) - digamma(z)),
    )


def _log_likelihood_and_gradient(
    theta: np.ndarray, data: _Summary
) -> tuple[np.ndarray, np.ndarray]:
    """Per-row log-likelihood, and the weighted sum's gradient w.r.t. log-parameters.

    FHL eq. (6) as ``ll = log((r)_x) - x log(alpha) + logaddexp(u1, u2)`` with
    ``u1 = log(B(a, b + x) / B(a, b)) - (r + x) log(1 + T / alpha)`` and, for ``x > 0`` only,
    ``u2 = log(B(a, b + x) / B(a, b)) + log(a / (b + x - 1)) - (r + x) log(1 + t_x / alpha)``,
    where ``B(a, b + x) / B(a, b) = (b)_x / (a + b)_x``. What depends on ``x`` alone is
    evaluated once per distinct ``x``.
    """
    r, alpha, a, b = np.exp(theta)
    xv = data.x_values
    repeat = xv > 0
    x_safe = np.where(repeat, xv, 1.0)  # b + x - 1 may be <= 0 at x == 0, which is masked out
    after_last = np.where(repeat, 1 / (b + x_safe - 1), 0.0)
    rising_r, slope_r = _log_rising(r, xv)
    rising_b, slope_b = _log_rising(b, xv)
    rising_ab, slope_ab = _log_rising(a + b, xv)
    beta_ratio = rising_b - rising_ab
    log_gone = np.where(repeat, np.log(a) - np.log(b + x_safe - 1), -np.inf)
    idx = data.x_index
    rx = r + data.x
    # log1p(T / alpha) = log(alpha + T) - log(alpha): taking r log(alpha) out of the
    # (r + x) log(alpha + T) terms keeps them from cancelling to noise when r and alpha are big
    grow_end = np.log1p(data.T / alpha)
    grow_last = np.log1p(data.recency / alpha)
    u1 = beta_ratio[idx] - rx * grow_end
    u2 = beta_ratio[idx] + log_gone[idx] - rx * grow_last
    ll = rising_r[idx] - data.x * np.log(alpha) + np.logaddexp(u1, u2)

    w = data.weights
    wx = data.x_weights
    share_last = expit(u2 - u1)  # weight of the "dropped out after the last purchase" term
    w_share = np.bincount(idx, weights=w * share_last, minlength=xv.size)
    grow_mix = grow_end - share_last * (grow_end - grow_last)
    ratio_end = data.T / (alpha + data.T)
    ratio_mix = ratio_end - share_last * (ratio_end - data.recency / (alpha + data.recency))
    d_r = _dot(wx, slope_r) - _dot(w, grow_mix)
    d_log_alpha = _dot(w, rx * ratio_mix - data.x)
    d_a = -_dot(wx, slope_ab) + w_share.sum() / a
    d_b = _dot(wx, slope_b - slope_ab) - _dot(w_share, after_last)
    # chain rule to log-parameters: d/d log(p) = p * d/dp
    gradient = np.array([r * d_r, d_log_alpha, a * d_a, b * d_b])
    return ll, gradient


def _dot(u: np.ndarray, v: np.ndarray) -> float:
    """``u @ v`` without BLAS: a BLAS dot over long vectors wakes OpenBLAS's thread pool, whose
    spinning threads made the whole fit 3-7 times slower on a busy 2-core machine."""
    return float(np.sum(u * v))


def _negative_log_likelihood(
    theta: np.ndarray, data: _Summary, *, penalizer: float
) -> tuple[float, np.ndarray]:
    """The objective of :func:`fit_bgnbd` and its gradient, w.r.t. log-parameters."""
    ll, gradient = _log_likelihood_and_gradient(theta, data)
    total = data.weights.sum()
    params_sq = np.exp(2 * theta)
    value = -_dot(data.weights, ll) / total + penalizer * float(params_sq.sum())
    return value, -gradient / total + 2 * penalizer * params_sq


def _initial_log_params(data: _Summary) -> np.ndarray:
    """A start near typical fits: Gamma shape 1 around the repeaters' purchase rate, mild churn."""
    w = data.weights
    purchases = _dot(w, data.x)
    exposure = _dot(w, data.T)
    # Mean time per repeat purchase; when nobody repeats, purchases are rarer than one per T.
    alpha = exposure / purchases if purchases > 0 else max(exposure / w.sum(), 1.0) * 10
    alpha = float(np.clip(alpha, np.exp(-_LOG_BOUND + 1), np.exp(_LOG_BOUND - 1)))
    return np.log(np.array([1.0, alpha, 1.0, 3.0]))


def _log_params(params: BGNBDParams) -> np.ndarray:
    return np.log(np.array([params.r, params.alpha, params.a, params.b]))


def _format_params(values: np.ndarray) -> str:
    return ", ".join(f"{n}={v:.6g}" for n, v in zip(_PARAM_NAMES, values, strict=True))


def _summary(x: np.ndarray, t_x: np.ndarray, t_end: np.ndarray, w: np.ndarray) -> _Summary:
    x_values, x_index = np.unique(x, return_inverse=True)
    return _Summary(
        x=x,
        recency=t_x,
        T=t_end,
        weights=w,
        x_values=x_values,
        x_index=x_index,
        x_weights=np.bincount(x_index, weights=w, minlength=x_values.size),
    )


def _aggregate(x: np.ndarray, t_x: np.ndarray, t_end: np.ndarray, w: np.ndarray) -> _Summary:
    """Merge identical ``(x, t_x, T)`` rows, adding their weights; drop weight-0 rows."""
    keep = w > 0
    rows = np.column_stack([x[keep], t_x[keep], t_end[keep]])
    order = np.lexsort(rows.T[::-1])
    rows = rows[order]
    starts = np.flatnonzero(np.r_[True, np.any(rows[1:] != rows[:-1], axis=1)])
    merged = np.add.reduceat(w[keep][order], starts)
    distinct = rows[starts]
    return _summary(distinct[:, 0], distinct[:, 1], distinct[:, 2], merged)


def _validated_summary(
    where: str, frequency: npt.ArrayLike, recency: npt.ArrayLike, end: npt.ArrayLike
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The three summary arrays as float64 of one shape, or a DataError naming the problem."""
    arrays: dict[str, np.ndarray] = {}
    for name, value in (("frequency", frequency), ("recency", recency), ("T", end)):
        try:
            arrays[name] = np.asarray(value, dtype=float)
        except (TypeError, ValueError) as err:
            raise DataError(f"{where}: {name} must be numeric; got {err}") from err
    shapes = {name: arr.shape for name, arr in arrays.items()}
    if len(set(shapes.values())) > 1:
        raise DataError(f"{where}: frequency, recency and T must have one shape; got {shapes}")
    x, t_x, t_end = arrays["frequency"], arrays["recency"], arrays["T"]
    for name, arr in arrays.items():
        bad = ~np.isfinite(arr)
        if bad.any():
            raise DataError(_problem(where, f"{name} must be finite", bad, {name: arr}))
        bad = arr < 0
        if bad.any():
            raise DataError(_problem(where, f"{name} must be >= 0", bad, {name: arr}))
    checks = (
        ("frequency must be whole numbers", x != np.floor(x)),
        ("recency must not exceed T", t_x > t_end),
        ("recency must be 0 where frequency is 0", (x == 0) & (t_x > 0)),
    )
    for rule, bad in checks:
        if bad.any():
            raise DataError(_problem(where, rule, bad, arrays))
    return x, t_x, t_end


def _validated_weights(
    where: str, weights: npt.ArrayLike | None, shape: tuple[int, ...]
) -> np.ndarray:
    if weights is None:
        return np.ones(shape)
    try:
        w = np.asarray(weights, dtype=float)
    except (TypeError, ValueError) as err:
        raise DataError(f"{where}: weights must be numeric; got {err}") from err
    if w.shape != shape:
        raise DataError(f"{where}: weights must have the shape of frequency {shape}; got {w.shape}")
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        raise DataError(_problem(where, "weights must be finite and >= 0", bad, {"weights": w}))
    if not w.sum() > 0:
        raise DataError(f"{where}: weights must not all be 0")
    return w


def _problem(where: str, rule: str, bad: np.ndarray, arrays: dict[str, np.ndarray]) -> str:
    """``where: rule; k of n rows break this, e.g. row i (name=value, ...)``."""
    first = np.unravel_index(int(np.argmax(bad)), bad.shape)
    row = first[0] if len(first) == 1 else first
    values = ", ".join(f"{name}={float(arr[first])!r}" for name, arr in arrays.items())
    count = f"{int(bad.sum())} of {bad.size} rows break this"
    return f"{where}: {rule}; {count}, e.g. row {row} ({values})"

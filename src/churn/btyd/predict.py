"""BG/NBD's predictive quantities: P(alive), expected purchases, P(no purchase), simulation."""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
from scipy.special import expit, hyp2f1

from churn.btyd.fit import BGNBDParams, _problem, _validated_summary

log = logging.getLogger(__name__)

# Eq. (10) is 0/0 at a == 1 (and, for x == 0, at a + b == 1); the limit is smooth, so near
# those points it is interpolated linearly from two evaluations this far either side.
_SINGULAR_HALF_WIDTH = 1e-5
_HYP2F1_NUDGE = 1e-5  # see _hyp2f1


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

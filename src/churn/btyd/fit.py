"""Fitting BG/NBD by maximum likelihood: the parameters, the likelihood and its gradient, checks."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import optimize
from scipy.special import digamma, expit, gammaln

from churn.errors import ChurnError, ConfigError, DataError

log = logging.getLogger(__name__)

_PARAM_NAMES = ("r", "alpha", "a", "b")
# Log-parameters stay within +-25 (about 1e-11 to 7e10): wide enough for any time unit from
# seconds to years, narrow enough that no term of the likelihood can overflow.
_LOG_BOUND = 25.0
# A line-search stall with every component of the gradient of the mean log-likelihood (per
# unit of log-parameter) below this counts as converged: see _converged.
_FLAT_GRADIENT = 1e-5
_RISING_SUM_LIMIT = 100_000  # see _log_rising


class ConvergenceError(ChurnError):
    """The optimiser stopped before it converged; the message carries its own reason."""


def check_positive(params: object, names: tuple[str, ...]) -> None:
    """Raise ConfigError unless each named field of ``params`` is a positive finite number."""
    for name in names:
        value = getattr(params, name)
        if not isinstance(value, int | float | np.floating | np.integer) or not (
            np.isfinite(value) and value > 0
        ):
            raise ConfigError(
                f"{type(params).__name__}: {name} must be a positive finite number; got {value!r}"
            )


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
        check_positive(self, _PARAM_NAMES)


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

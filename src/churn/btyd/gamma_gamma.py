"""The Gamma-Gamma model of spend per transaction, with numpy and scipy only.

Fader, Hardie & Lee (2005), "RFM and CLV: Using Iso-Value Curves for Customer Base Analysis",
*Journal of Marketing Research* 42(4), 415-430, and Fader & Hardie's note "The Gamma-Gamma
Model of Monetary Value" (2013). A customer's spend per transaction is ``z ~ Gamma(p,
rate=nu)``, so their mean spend is ``p / nu``; across customers ``nu ~ Gamma(q, rate=gamma)``.
Spend is assumed independent of the purchase process (check it with
:func:`spend_frequency_independence`).

A customer with ``x >= 1`` repeat transactions whose mean spend is ``m_x`` contributes (the
note's eq. 1, integrated over ``nu``)::

    lgamma(px + q) - lgamma(px) - lgamma(q) + q log(gamma) + (px - 1) log(m_x) + px log(x)
        - (px + q) log(gamma + x m_x)

The textbook input is the mean spend of the *repeat* transactions (the first one excluded);
callers who only have the mean over every transaction should say so (see :mod:`churn.value`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import optimize, stats
from scipy.special import digamma, gammaln

from churn.btyd.fit import ConvergenceError, _problem, check_positive
from churn.errors import ConfigError, DataError

log = logging.getLogger(__name__)

_PARAM_NAMES = ("p", "q", "gamma")
_LOG_BOUND = 25.0  # log-parameters within +-25, as in fit_bgnbd
# |correlation| between frequency and mean spend above this: the independence assumption is
# in doubt (Fader & Hardie report 0.11 on CDNOW and call it negligible; 0.3 is "moderate").
INDEPENDENCE_THRESHOLD = 0.3
# q above this: the spread of nu across customers (coefficient of variation 1/sqrt(q)) is under
# 0.1%, i.e. q and gamma ran off together; where the optimiser stops on that ridge depends on
# floating point, so it is refused as not identified whether or not L-BFGS-B reports success
_RUNAWAY_Q = 1e6
MIN_REPEAT_CUSTOMERS = 10


@dataclass(frozen=True)
class GammaGammaParams:
    """Gamma-Gamma parameters: ``z ~ Gamma(p, rate=nu)``, ``nu ~ Gamma(q, rate=gamma)``.

    ``gamma`` is in the currency of the amounts; the population's mean spend per transaction
    is ``p * gamma / (q - 1)`` (finite only for ``q > 1``).
    """

    p: float
    q: float
    gamma: float

    def __post_init__(self) -> None:
        check_positive(self, _PARAM_NAMES)

    @property
    def mean_spend(self) -> float:
        """The population's mean spend per transaction, ``p gamma / (q - 1)``.

        Raises:
            ConfigError: (a ``ValueError``) when ``q <= 1`` (the mean is infinite).
        """
        _require_mean(self, "GammaGammaParams.mean_spend")
        return self.p * self.gamma / (self.q - 1)


@dataclass(frozen=True)
class IndependenceCheck:
    """How strongly mean spend goes with frequency among repeat buyers (should be weak)."""

    n: int
    pearson: float
    pearson_p_value: float
    spearman: float
    spearman_p_value: float
    threshold: float

    @property
    def independent(self) -> bool:
        """Whether both correlations are within the threshold (NaN, too few buyers: True)."""
        worst = np.nanmax([abs(self.pearson), abs(self.spearman), 0.0])
        return bool(worst <= self.threshold)

    def to_dict(self) -> dict[str, float | int | bool]:
        """JSON-ready (NaN as None is left to the caller's encoder)."""
        return {
            "n": self.n,
            "pearson": self.pearson,
            "pearson_p_value": self.pearson_p_value,
            "spearman": self.spearman,
            "spearman_p_value": self.spearman_p_value,
            "threshold": self.threshold,
            "independent": self.independent,
        }


def fit_gamma_gamma(
    frequency: npt.ArrayLike,
    monetary: npt.ArrayLike,
    *,
    weights: npt.ArrayLike | None = None,
    min_customers: int = MIN_REPEAT_CUSTOMERS,
    initial: GammaGammaParams | None = None,
) -> GammaGammaParams:
    """Fit the Gamma-Gamma model by maximum likelihood on the repeat buyers.

    Maximises the weighted mean log-likelihood (module docstring) over log-parameters with
    L-BFGS-B and the analytic gradient. Customers with ``frequency == 0`` carry no information
    on spend and are skipped (their ``monetary`` is not read).

    Args:
        frequency: Repeat transactions per customer ``x`` (whole numbers >= 0).
        monetary: Mean spend per repeat transaction ``m_x`` (> 0 where ``x >= 1``).
        weights: Optional weight >= 0 per customer; defaults to one each.
        min_customers: Fewest repeat buyers to fit on (>= 2; one alone identifies nothing).
        initial: Starting point; by default ``p = 2, q = 3, gamma = mean(m_x)``.

    Returns:
        The fitted parameters.

    Raises:
        DataError: (a ``ValueError``) for invalid input or fewer than ``min_customers``
            repeat buyers.
        ConfigError: (a ``ValueError``) if ``min_customers`` or ``initial`` cannot work.
        ConvergenceError: if the optimiser stops without converging.
    """
    where = "fit_gamma_gamma"
    if isinstance(min_customers, bool) or not isinstance(min_customers, int) or min_customers < 2:
        raise ConfigError(f"{where}: min_customers must be an integer >= 2; got {min_customers!r}")
    if initial is not None and not isinstance(initial, GammaGammaParams):
        raise ConfigError(
            f"{where}: initial must be GammaGammaParams or None; got {type(initial).__name__}"
        )
    x, m = _validated(where, frequency, monetary)
    w = np.ones(x.shape) if weights is None else _weights(where, weights, x.shape)
    repeat = (x > 0) & (w > 0)
    n_repeat = int(repeat.sum())
    if n_repeat < min_customers:
        raise DataError(
            f"{where}: need at least {min_customers} repeat buyers (frequency >= 1, weight > 0) "
            f"to fit spend; got {n_repeat} of {x.size} customers"
        )
    x, m, w = x[repeat], m[repeat], w[repeat]
    if np.all(m == m[0]):
        raise DataError(
            f"{where}: every repeat buyer has the same mean spend {float(m[0])!r}; the spread "
            "across customers (q, gamma) cannot be estimated"
        )
    if initial is None:
        start = np.log([2.0, 3.0, float(np.average(m, weights=w))])
    else:
        start = np.log([initial.p, initial.q, initial.gamma])
    total = float(w.sum())

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        ll, grad = _log_likelihood_and_gradient(theta, x, m, w)
        return -float(np.sum(w * ll)) / total, -grad / total

    result = optimize.minimize(
        objective,
        start,
        jac=True,
        method="L-BFGS-B",
        bounds=[(-_LOG_BOUND, _LOG_BOUND)] * 3,
        options={"maxiter": 2000, "ftol": 1e-13, "gtol": 1e-9},
    )
    values = np.exp(result.x)
    shown = ", ".join(f"{k}={v:.6g}" for k, v in zip(_PARAM_NAMES, values, strict=True))
    flat = np.max(np.abs(np.asarray(result.jac, dtype=float))) < 1e-5
    converged = result.success or (result.status == 2 and flat)
    if not np.all(np.isfinite(result.x)) or not converged or values[1] > _RUNAWAY_Q:
        raise ConvergenceError(
            f"{where}: L-BFGS-B found no identified optimum on {n_repeat} repeat buyers after "
            f"{result.nit} iterations ({result.message}); last parameters {shown} (q and gamma "
            "running off together mean the spread of spend across customers is not identified: "
            "too few repeat buyers, or spends too alike)"
        )
    at_bound = [k for k, v in zip(_PARAM_NAMES, result.x, strict=True) if abs(v) >= _LOG_BOUND]
    if at_bound:
        log.warning(
            "%s: %s reached the search bound exp(+-%g); the data hardly identify them",
            where,
            ", ".join(at_bound),
            _LOG_BOUND,
        )
    log.debug("%s: %d repeat buyers, %d iterations, %s", where, n_repeat, result.nit, shown)
    return GammaGammaParams(*(float(v) for v in values))


def gamma_gamma_log_likelihood(
    params: GammaGammaParams, frequency: npt.ArrayLike, monetary: npt.ArrayLike
) -> np.ndarray:
    """Log-likelihood of each repeat buyer's mean spend (module docstring); NaN where ``x == 0``.

    Raises:
        DataError: (a ``ValueError``) for invalid input.
    """
    x, m = _validated("gamma_gamma_log_likelihood", frequency, monetary)
    theta = np.log([params.p, params.q, params.gamma])
    repeat = x > 0
    out = np.full(x.shape, np.nan)
    ll, _ = _log_likelihood_and_gradient(theta, x[repeat], m[repeat], np.ones(int(repeat.sum())))
    out[repeat] = ll
    return out


def conditional_expected_spend(
    params: GammaGammaParams, frequency: npt.ArrayLike, monetary: npt.ArrayLike
) -> np.ndarray:
    """``E[Z | x, m_x] = p (gamma + x m_x) / (p x + q - 1)``: expected spend per transaction.

    A weighted mean of the population mean ``p gamma / (q - 1)`` and the customer's own
    ``m_x``, the latter weighing more the more transactions there are; at ``x == 0`` it is the
    population mean (``monetary`` is not read there).

    Raises:
        DataError: (a ``ValueError``) for invalid input (here ``m_x == 0`` is allowed).
        ConfigError: (a ``ValueError``) when ``q <= 1``: the model's mean spend is infinite.
    """
    where = "conditional_expected_spend"
    _require_mean(params, where)
    x, m = _validated(where, frequency, monetary, allow_zero=True)
    m = np.where(x > 0, m, 0.0)
    return params.p * (params.gamma + x * m) / (params.p * x + params.q - 1)


def simulate_gamma_gamma(
    params: GammaGammaParams, frequency: npt.ArrayLike, *, seed: int
) -> np.ndarray:
    """Draw each customer's mean spend over ``frequency`` transactions from the model.

    ``nu ~ Gamma(q, rate=gamma)`` per customer; the mean of ``x`` draws of ``Gamma(p,
    rate=nu)`` is exactly ``Gamma(p x, rate=nu x)``, drawn directly.

    Returns:
        ``m_x`` per customer (float64, the shape of ``frequency``); NaN where ``x == 0``.

    Raises:
        DataError: (a ``ValueError``) if ``frequency`` is not whole numbers >= 0.
    """
    x, _ = _validated("simulate_gamma_gamma", frequency, np.ones(np.shape(frequency)))
    rng = np.random.default_rng(seed)
    nu = rng.gamma(params.q, 1.0 / params.gamma, size=x.shape)
    repeat = x > 0
    shape = np.where(repeat, params.p * x, 1.0)
    draws = rng.gamma(shape, 1.0 / (nu * np.where(repeat, x, 1.0)))
    return np.where(repeat, draws, np.nan)


def spend_frequency_independence(
    frequency: npt.ArrayLike,
    monetary: npt.ArrayLike,
    *,
    threshold: float = INDEPENDENCE_THRESHOLD,
) -> IndependenceCheck:
    """Pearson and Spearman correlation of ``x`` and ``m_x`` among repeat buyers, logged.

    The decision is by size, not by p-value: with tens of thousands of buyers a correlation of
    0.02 is "significant" and harmless. A warning is logged when either ``|correlation|``
    exceeds ``threshold``. Fewer than 3 repeat buyers (or no spread) give NaN correlations.

    Raises:
        DataError: (a ``ValueError``) for invalid input.
        ConfigError: (a ``ValueError``) if ``threshold`` is not within (0, 1).
    """
    where = "spend_frequency_independence"
    if not (isinstance(threshold, int | float) and 0 < threshold < 1):
        raise ConfigError(f"{where}: threshold must be within (0, 1); got {threshold!r}")
    x, m = _validated(where, frequency, monetary, allow_zero=True)
    repeat = x > 0
    x, m = x[repeat], m[repeat]
    nan = float("nan")
    if x.size < 3 or np.all(x == x[0]) or np.all(m == m[0]):
        check = IndependenceCheck(int(x.size), nan, nan, nan, nan, float(threshold))
        log.info("%s: %d repeat buyers, no spread: no correlation to measure", where, x.size)
        return check
    pearson = stats.pearsonr(x, m)
    spearman = stats.spearmanr(x, m)
    check = IndependenceCheck(
        int(x.size),
        float(pearson.statistic),
        float(pearson.pvalue),
        float(spearman.statistic),
        float(spearman.pvalue),
        float(threshold),
    )
    level = logging.INFO if check.independent else logging.WARNING
    log.log(
        level,
        "%s: frequency vs mean spend over %d repeat buyers: Pearson %.3f (p=%.2g), Spearman "
        "%.3f (p=%.2g)%s",
        where,
        check.n,
        check.pearson,
        check.pearson_p_value,
        check.spearman,
        check.spearman_p_value,
        "" if check.independent else f"; above {threshold}: Gamma-Gamma's assumption is in doubt",
    )
    return check


def _log_likelihood_and_gradient(
    theta: np.ndarray, x: np.ndarray, m: np.ndarray, w: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per-row log-likelihood (``x >= 1``), and the weighted sum's gradient in log-parameters."""
    p, q, gamma = np.exp(theta)
    px = p * x
    log_m, log_x = np.log(m), np.log(x)
    log_total = np.log(gamma + x * m)
    ll = (
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(gamma)
        + (px - 1) * log_m
        + px * log_x
        - (px + q) * log_total
    )
    psi_total = digamma(px + q)
    d_p = x * (psi_total - digamma(px) + log_m + log_x - log_total)
    d_q = psi_total - digamma(q) + np.log(gamma) - log_total
    d_gamma = q / gamma - (px + q) / (gamma + x * m)
    gradient = np.array(
        [p * np.sum(w * d_p), q * np.sum(w * d_q), gamma * np.sum(w * d_gamma)], dtype=float
    )
    return ll, gradient


def _require_mean(params: GammaGammaParams, where: str) -> None:
    if not params.q > 1:
        raise ConfigError(
            f"{where}: q must be > 1 for a finite mean spend (p gamma / (q - 1)); got "
            f"q={params.q:.6g}"
        )


def _validated(
    where: str, frequency: npt.ArrayLike, monetary: npt.ArrayLike, *, allow_zero: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """``frequency`` and ``monetary`` as float64 arrays of one shape, or a DataError.

    ``monetary`` is only checked (finite, > 0 or >= 0) where ``frequency >= 1``.
    """
    arrays: dict[str, np.ndarray] = {}
    for name, value in (("frequency", frequency), ("monetary", monetary)):
        try:
            arrays[name] = np.atleast_1d(np.asarray(value, dtype=float))
        except (TypeError, ValueError) as err:
            raise DataError(f"{where}: {name} must be numeric; got {err}") from err
    x, m = arrays["frequency"], arrays["monetary"]
    if x.shape != m.shape:
        raise DataError(
            f"{where}: frequency and monetary must have one shape; got {x.shape} and {m.shape}"
        )
    repeat = x > 0
    floor = "must be >= 0" if allow_zero else "must be > 0"
    checks = (
        ("frequency must be finite", ~np.isfinite(x)),
        ("frequency must be whole numbers >= 0", np.isfinite(x) & ((x < 0) | (x != np.floor(x)))),
        ("monetary must be finite where frequency >= 1", repeat & ~np.isfinite(m)),
        (
            f"monetary {floor} where frequency >= 1",
            repeat & np.isfinite(m) & ((m < 0) if allow_zero else (m <= 0)),
        ),
    )
    for rule, bad in checks:
        if bad.any():
            raise DataError(_problem(where, rule, bad, arrays))
    return x, m


def _weights(where: str, weights: npt.ArrayLike, shape: tuple[int, ...]) -> np.ndarray:
    try:
        w = np.atleast_1d(np.asarray(weights, dtype=float))
    except (TypeError, ValueError) as err:
        raise DataError(f"{where}: weights must be numeric; got {err}") from err
    if w.shape != shape:
        raise DataError(f"{where}: weights must have the shape of frequency {shape}; got {w.shape}")
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        raise DataError(_problem(where, "weights must be finite and >= 0", bad, {"weights": w}))
    return w

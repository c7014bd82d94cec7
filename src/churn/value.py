"""Customer value at scoring: BG/NBD x Gamma-Gamma lifetime value, or the spend-rate heuristic.

``value.method`` (conf/score.yaml) chooses; docs/scoring-and-offers.md#customer-lifetime-value
has the measurement behind the default.

* ``heuristic``: :func:`churn.offers.customer_value`, ``margin x H x total spend / max(tenure,
  30 days)``.
* ``clv``: the expected discounted margin over ``H`` days *if the customer stays active*::

      margin x E[spend | x, m_x] x (r + x) / (alpha + T) x D / u,
      D = (1 - exp(-delta H)) / delta,  delta = ln(1 + annual_discount_rate) / 365

  with ``u`` the BG/NBD time unit in days, ``(r + x) / (alpha + T)`` the posterior mean
  purchase rate of an active customer (per unit), ``E[spend | x, m_x]`` Gamma-Gamma's
  conditional expected spend per purchase day and ``D`` the continuously discounted horizon
  in days (``D = H`` at rate 0). Churn is left out on purpose: ``value_at_risk = p x value``
  counts it once.

Both models are fitted at the as-of date on every buyer's summary, from the feature columns
(``frequency`` purchase days, ``recency_days``, ``tenure_days``, ``monetary_sum``): ``x =
frequency - 1``; ``T`` and ``t_x`` in whole days as the feature step counts them; and ``m_x =
monetary_sum / frequency``, the mean spend per purchase day *over every purchase day*: the
features do not keep the first day's spend, so the textbook input (repeat purchases only) is
approximated. When a fit is not possible (too few buyers or repeat buyers, no convergence,
``q <= 1``, missing columns) the heuristic is used instead, with a warning, and the reason is
recorded (:meth:`ValueModel.to_dict`, the export manifest's ``value``).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from churn import btyd, offers
from churn.config import build, check_keys
from churn.errors import ConfigError, DataError
from churn.features import FeatureConfig

log = logging.getLogger(__name__)

METHODS = ("clv", "heuristic")
COLUMNS = ("frequency", "recency_days", "tenure_days", "monetary_sum")
_DAY_TOLERANCE = 1e-6  # day counts come from float differences of day numbers
FIT_ERRORS = (DataError, ConfigError, btyd.ConvergenceError)  # why a clv fit is not possible


@dataclass(frozen=True)
class ValueConfig:
    """The ``value`` node of conf/score.yaml."""

    method: str = "heuristic"
    horizon_days: int | None = None  # None: the model's label horizon
    annual_discount_rate: float = 0.1
    margin: float = 0.3

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None, *, margin: float) -> ValueConfig:
        """Build and validate; ``margin`` (``offers.margin``) is the default margin."""
        values = dict(values or {})
        check_keys("value", values, {f.name for f in dataclasses.fields(cls)})
        if values.get("margin") is None:
            values["margin"] = margin
        config = build(cls, values, where="value")
        config.validate()
        return config

    def validate(self) -> None:
        """Raise ConfigError for values that cannot work."""
        if self.method not in METHODS:
            raise ConfigError(f"value.method: expected one of {list(METHODS)}; got {self.method!r}")
        if self.horizon_days is not None and not (
            float(self.horizon_days).is_integer() and self.horizon_days > 0
        ):
            raise ConfigError(
                f"value.horizon_days: expected a whole number of days > 0 or null; got "
                f"{self.horizon_days!r}"
            )
        rate = self.annual_discount_rate
        if not (np.isfinite(rate) and 0 <= rate < 10):
            raise ConfigError(
                f"value.annual_discount_rate: expected a rate in [0, 10); got {rate!r}"
            )
        if not 0 <= self.margin <= 1:
            raise ConfigError(f"value.margin: expected a share in [0, 1]; got {self.margin!r}")


@dataclass(frozen=True)
class ValueModel:
    """How values are computed for one scoring run: the method used and its fitted parameters."""

    method: str
    horizon_days: int
    margin: float
    annual_discount_rate: float = 0.0
    time_unit_days: float = 7.0
    bgnbd: btyd.BGNBDParams | None = None
    gamma_gamma: btyd.GammaGammaParams | None = None
    requested: str = "heuristic"
    fallback_reason: str | None = None
    independence: btyd.IndependenceCheck | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, for the export manifest's ``value`` entry."""
        return {
            "method": self.method,
            "requested": self.requested,
            "fallback_reason": self.fallback_reason,
            "horizon_days": self.horizon_days,
            "margin": self.margin,
            "annual_discount_rate": self.annual_discount_rate,
            "time_unit_days": self.time_unit_days,
            "bgnbd": None if self.bgnbd is None else dataclasses.asdict(self.bgnbd),
            "gamma_gamma": None
            if self.gamma_gamma is None
            else dataclasses.asdict(self.gamma_gamma),
            "independence": None
            if self.independence is None
            else _finite(self.independence.to_dict()),
        }


def heuristic_model(config: ValueConfig, *, horizon_days: int) -> ValueModel:
    """The heuristic, with the config's horizon (default ``horizon_days``) and margin."""
    return ValueModel(
        method="heuristic",
        horizon_days=int(config.horizon_days or horizon_days),
        margin=config.margin,
        annual_discount_rate=config.annual_discount_rate,
        requested=config.method,
    )


def fit_value(
    frame: pd.DataFrame, config: ValueConfig, *, horizon_days: int, features: FeatureConfig
) -> ValueModel:
    """The value model of a scoring run, fitted on ``frame`` (every buyer's features).

    Args:
        frame: the features at the as-of date, one row per buyer (no population filter).
        config: the ``value`` node.
        horizon_days: the model's label horizon (the default value horizon).
        features: the bundle's feature config: BG/NBD's time unit, penalizer and fewest buyers.

    Returns:
        The ``clv`` model with its parameters, or the heuristic (asked for, or as the fallback
        of a ``clv`` fit that is not possible: warned and recorded in ``fallback_reason``).
    """
    fallback = heuristic_model(config, horizon_days=horizon_days)
    if config.method == "heuristic":
        return fallback
    try:
        return fit_clv(frame, config, horizon_days=horizon_days, features=features)
    except FIT_ERRORS as err:
        log.warning("value.method=clv: %s; values use the heuristic instead", err)
        return dataclasses.replace(fallback, fallback_reason=str(err))


def fit_clv(
    frame: pd.DataFrame, config: ValueConfig, *, horizon_days: int, features: FeatureConfig
) -> ValueModel:
    """The ``clv`` model fitted on ``frame``, or an error saying why it cannot be.

    :func:`fit_value` without its fallback: the same arguments, for callers that handle the
    failure themselves (the model card's CLV check, :mod:`churn.evaluation.clv_check`).

    Raises:
        DataError: missing columns, or fewer buyers than ``features.btyd.min_customers``.
        ConfigError: a Gamma-Gamma fit with ``q <= 1`` (infinite mean spend).
        ConvergenceError: a fit that did not converge.
    """
    fallback = heuristic_model(config, horizon_days=horizon_days)
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"fit_value: the features lack {missing}, which the fit needs")
    unit = features.btyd_time_unit_days
    x, t_x, big_t, m = value_summary(frame, time_unit_days=unit)
    if x.size < features.btyd_min_customers:
        raise DataError(
            f"fit_value: {x.size} buyers, fewer than features.btyd.min_customers="
            f"{features.btyd_min_customers}"
        )
    bgnbd = btyd.fit_bgnbd(x, t_x, big_t, penalizer=features.btyd_penalizer)
    spends = (x > 0) & (m > 0)  # zero-value orders only (purchase_rule=non_negative): no spend
    gamma_gamma = btyd.fit_gamma_gamma(x[spends], m[spends])
    btyd.conditional_expected_spend(gamma_gamma, [0.0], [0.0])  # q > 1, or a ConfigError
    independence = btyd.spend_frequency_independence(x[spends], m[spends])
    log.info(
        "value.method=clv on %d buyers (%d repeat): BG/NBD %s, Gamma-Gamma %s",
        x.size,
        int(spends.sum()),
        bgnbd,
        gamma_gamma,
    )
    return dataclasses.replace(
        fallback,
        method="clv",
        time_unit_days=unit,
        bgnbd=bgnbd,
        gamma_gamma=gamma_gamma,
        independence=independence,
    )


def value_summary(
    frame: pd.DataFrame, *, time_unit_days: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(x, t_x, T, m_x)`` per row from the feature columns (module docstring).

    ``T`` counts whole days from the first purchase day to the as-of date, ``t_x`` from the
    first to the last purchase day, both divided by ``time_unit_days``, as the feature step
    fits BG/NBD; ``m_x = monetary_sum / frequency``.
    """
    purchase_days = frame["frequency"].to_numpy(dtype=float)
    tenure = np.ceil(frame["tenure_days"].to_numpy(dtype=float) - _DAY_TOLERANCE)
    since_last = np.ceil(frame["recency_days"].to_numpy(dtype=float) - _DAY_TOLERANCE)
    x = np.maximum(purchase_days - 1, 0.0)
    t_x = np.where(x > 0, tenure - since_last, 0.0) / time_unit_days
    big_t = tenure / time_unit_days
    spend = frame["monetary_sum"].to_numpy(dtype=float)
    m = np.where(purchase_days > 0, np.nan_to_num(spend) / np.maximum(purchase_days, 1), 0.0)
    return x, t_x, big_t, np.maximum(m, 0.0)


def discounted_days(horizon_days: float, annual_discount_rate: float) -> float:
    """``(1 - exp(-delta h)) / delta`` with ``delta = ln(1 + d) / 365``; ``h`` when ``d == 0``."""
    delta = np.log1p(annual_discount_rate) / 365.0
    if delta == 0:
        return float(horizon_days)
    return float(-np.expm1(-delta * horizon_days) / delta)


def clv_value(model: ValueModel, x: np.ndarray, big_t: np.ndarray, m: np.ndarray) -> np.ndarray:
    """The ``clv`` formula (module docstring) per customer, from the summary arrays.

    Raises:
        ConfigError: if ``model`` has no fitted parameters.
    """
    if model.bgnbd is None or model.gamma_gamma is None:
        raise ConfigError("clv_value: the value model has no fitted BG/NBD and Gamma-Gamma")
    r, alpha = model.bgnbd.r, model.bgnbd.alpha
    rate_if_alive = (r + x) / (alpha + big_t)  # purchases per time unit
    spend = btyd.conditional_expected_spend(model.gamma_gamma, x, m)
    horizon = discounted_days(model.horizon_days, model.annual_discount_rate)
    return model.margin * spend * rate_if_alive * horizon / model.time_unit_days


def customer_values(frame: pd.DataFrame, model: ValueModel) -> np.ndarray:
    """Each buyer's value with ``model``: the one value rule of both scorers.

    Args:
        frame: feature rows (``monetary_sum``, ``tenure_days``; for ``clv`` also
            ``frequency`` and ``recency_days``).
        model: from :func:`fit_value` or :func:`heuristic_model`.
    """
    if model.method == "heuristic":
        return offers.customer_value(
            frame["monetary_sum"],
            frame["tenure_days"],
            horizon_days=model.horizon_days,
            margin=model.margin,
        ).to_numpy(dtype=float)
    x, _, big_t, m = value_summary(frame, time_unit_days=model.time_unit_days)
    return clv_value(model, x, big_t, m)


def _finite(values: Mapping[str, Any]) -> dict[str, Any]:
    """NaN floats as None (JSON has no NaN)."""
    return {
        k: None if isinstance(v, float) and not np.isfinite(v) else v for k, v in values.items()
    }

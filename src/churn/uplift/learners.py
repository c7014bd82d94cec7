"""Uplift meta-learners on LightGBM: the T-learner and the X-learner, for each offer.

The outcome is churn; the uplift of offer ``k`` is ``P(churn | no offer) - P(churn | offer k)``,
so it is positive where the offer keeps customers. Rows with a missing ``treatment`` are the
control rows (no offer). Stage-1 outcome models are either one per arm (``per_offer=True``) or
one model on every row with the arm as a categorical feature ``__offer__`` (``per_offer=False``).

The X-learner (Kunzel, Sekhon, Bickel & Yu 2019, "Metalearners for estimating heterogeneous
treatment effects using machine learning", PNAS 116(10)) regresses imputed effects on the
features in each arm and blends the two effect models with the propensity score.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from churn.errors import ConfigError, DataError
from churn.uplift.model import (
    LEARNERS,
    OFFER_COLUMN,
    BoosterKey,
    UpliftModel,
    feature_matrix,
    is_real,
    is_whole,
)

__all__ = ["LEARNERS", "UpliftModel", "UpliftParams", "fit_uplift"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class UpliftParams:
    """LightGBM settings shared by every model inside an uplift model."""

    n_estimators: int = 200
    learning_rate: float = 0.05
    num_leaves: int = 7
    min_child_samples: int = 40
    subsample: float = 0.8  # bagging_fraction, with bagging_freq 1
    colsample: float = 0.8  # feature_fraction
    reg_lambda: float = 1.0
    # 1 or 2: OpenMP threads spin-wait at barriers, so a second thread pays only on large data
    # and an idle second core; on a shared machine it slows small models down many times
    num_threads: int = 1

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise :class:`ConfigError` for a setting LightGBM cannot work with."""
        checks = {
            "n_estimators": is_whole(self.n_estimators) and self.n_estimators >= 1,
            "learning_rate": is_real(self.learning_rate) and self.learning_rate > 0,
            "num_leaves": is_whole(self.num_leaves) and self.num_leaves >= 2,
            "min_child_samples": is_whole(self.min_child_samples) and self.min_child_samples >= 1,
            "subsample": is_real(self.subsample) and 0 < self.subsample <= 1,
            "colsample": is_real(self.colsample) and 0 < self.colsample <= 1,
            "reg_lambda": is_real(self.reg_lambda) and self.reg_lambda >= 0,
            "num_threads": self.num_threads in (1, 2) and is_whole(self.num_threads),
        }
        bad = {name: getattr(self, name) for name, ok in checks.items() if not ok}
        if bad:
            raise ConfigError(
                f"UpliftParams: expected whole n_estimators >= 1, num_leaves >= 2, "
                f"min_child_samples >= 1, learning_rate > 0, subsample and colsample in (0, 1], "
                f"reg_lambda >= 0, num_threads 1 or 2; got {bad}"
            )

    def lightgbm(self, objective: str, seed: int) -> dict[str, Any]:
        """The parameters for :func:`lightgbm.train`."""
        return {
            "objective": objective,
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_data_in_leaf": self.min_child_samples,
            "min_data_per_group": self.min_child_samples,
            "bagging_fraction": self.subsample,
            "bagging_freq": 1,
            "feature_fraction": self.colsample,
            "lambda_l2": self.reg_lambda,
            "verbose": -1,
            "num_threads": self.num_threads,
            "deterministic": True,
            "force_row_wise": True,
            "seed": seed,
        }


def _arms(treatment: pd.Series, features: pd.DataFrame, where: str) -> np.ndarray:
    """The offer of each row as an object array, None for the control rows."""
    _same_rows(treatment, features, where, "treatment")
    values = pd.Series(treatment).to_numpy(dtype=object, copy=True)
    missing = pd.isna(values)
    bad = {type(v).__name__ for v in values[~missing] if not isinstance(v, str)}
    if bad:
        raise DataError(
            f"{where}: expected treatment to hold offer names or be missing (no offer); "
            f"got values of type {sorted(bad)}"
        )
    values[missing] = None
    return values


def _same_rows(values: ArrayLike, features: pd.DataFrame, where: str, name: str) -> None:
    """Raise unless ``values`` has one entry per feature row (and their index, if a Series)."""
    if np.ndim(values) != 1 or len(values) != len(features):  # type: ignore[arg-type]
        raise DataError(
            f"{where}: expected {name} of length {len(features)} (the feature rows); "
            f"got shape {np.shape(values)}"
        )
    if isinstance(values, pd.Series) and not values.index.equals(features.index):
        raise DataError(f"{where}: expected {name} to have the features' index; it differs")


def _numbers(values: ArrayLike, features: pd.DataFrame, where: str, name: str) -> np.ndarray:
    _same_rows(values, features, where, name)
    try:
        return pd.Series(values).to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError) as err:
        raise DataError(f"{where}: expected numbers in {name}; got {err}") from err


def _train(
    x: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    names: list[str],
    objective: str,
    *,
    params: UpliftParams,
    seed: int,
) -> lgb.Booster:
    categorical = [OFFER_COLUMN] if OFFER_COLUMN in names else []
    data = lgb.Dataset(x, label=y, weight=w, feature_name=names, categorical_feature=categorical)
    return lgb.train(params.lightgbm(objective, seed), data, num_boost_round=params.n_estimators)


def fit_uplift(
    features: pd.DataFrame,
    treatment: pd.Series,
    churned: ArrayLike,
    *,
    weights: ArrayLike | None = None,
    learner: str = "t",
    per_offer: bool = True,
    params: UpliftParams = UpliftParams(),
    min_rows: int = 50,
    seed: int = 0,
) -> UpliftModel:
    """Fit a T- or X-learner of each offer's uplift on churn.

    T-learner: uplift_k(x) = m_0(x) - m_k(x), the churn models without and with offer k (one per
    arm, or one on every row with the arm as the categorical ``__offer__``: 0 for no offer,
    1..K for the offers in name order). X-learner: with those models, the imputed effects
    ``m_0(x) - y`` of the rows treated with k and ``y - m_k(x)`` of the control rows are each
    regressed on the features (tau_1, tau_0), and uplift_k(x) = g * tau_0(x) + (1 - g) * tau_1(x).
    Künzel et al. set g to the propensity score; the offers are assigned at random, so it is the
    constant weighted share of k among the rows treated with k or untreated.

    Args:
        features: numeric columns (float, int, bool; NaN allowed), one row per customer.
        treatment: the offer of each row (its name), missing (None, NA, NaN) for the control
            rows. A Series here, or as ``churned`` or ``weights``, needs the features' index.
        churned: 1 where the customer churned in the outcome window, else 0.
        weights: row weights (inverse assignment probabilities); 1 for every row when None.
        learner: one of :data:`LEARNERS`.
        per_offer: one outcome model per arm (True) or one with the offer as a feature.
        params: the LightGBM settings of every model.
        min_rows: the fewest rows an arm needs; offers with fewer are skipped, with a warning
            and the reason in ``skipped``. The control arm needs them too.
        seed: seeds every LightGBM model.

    Raises:
        DataError: for inputs that break these rules, too few control rows or no offer left.
        ConfigError: for an unknown learner or ``min_rows`` below 1.
    """
    where = "fit_uplift"
    if learner not in LEARNERS:
        raise ConfigError(f"{where}: expected learner in {LEARNERS}; got {learner!r}")
    if not is_whole(min_rows) or min_rows < 1:
        raise ConfigError(f"{where}: expected a whole min_rows >= 1; got {min_rows!r}")
    x = feature_matrix(features, where)
    arm = _arms(treatment, features, where)
    y = _numbers(churned, features, where, "churned")
    if not np.isin(y, (0.0, 1.0)).all():
        shown = np.unique(y[~np.isin(y, (0.0, 1.0))])[:5].tolist()
        raise DataError(f"{where}: expected churned in {{0, 1}}; got values such as {shown}")
    w = np.ones(len(y)) if weights is None else _numbers(weights, features, where, "weights")
    if not (np.isfinite(w) & (w >= 0)).all():
        bad = w[~(np.isfinite(w) & (w >= 0))][:5].tolist()
        raise DataError(f"{where}: expected finite weights >= 0; got values such as {bad}")
    control = pd.isna(arm)
    if control.sum() < min_rows or w[control].sum() <= 0:
        what = "no control rows" if not control.any() else f"{control.sum()} control rows"
        raise DataError(
            f"{where}: {what}: expected at least min_rows={min_rows} rows of positive weight "
            f"with treatment missing (no offer)"
        )
    offers, skipped = _offers(arm, w, min_rows, where)
    names = list(features.columns)

    def train(rows: np.ndarray, target: np.ndarray, objective: str) -> lgb.Booster:
        return _train(x[rows], target[rows], w[rows], names, objective, params=params, seed=seed)

    boosters: dict[BoosterKey, lgb.Booster] = {}
    if per_offer:
        boosters["control", None] = train(control, y, "binary")
        for k in offers:
            boosters["offer", k] = train(arm == k, y, "binary")
    else:
        code = np.select([arm == k for k in offers], np.arange(1.0, len(offers) + 1), 0.0)
        rows = control | (code > 0)
        boosters["pooled", None] = _train(
            np.column_stack([x[rows], code[rows]]),
            y[rows],
            w[rows],
            [*names, OFFER_COLUMN],
            "binary",
            params=params,
            seed=seed,
        )
    model = UpliftModel("t", per_offer, tuple(names), offers, skipped, boosters, {})
    log.info(
        "fit_uplift: %s-learner (%s) on %d control rows; offers %s",
        learner,
        "one model per arm" if per_offer else "the offer as a feature",
        int(control.sum()),
        {k: int((arm == k).sum()) for k in offers},
    )
    if learner == "t":
        return model
    without = model._outcome(x, None)
    g: dict[str, float] = {}
    for k in offers:
        rows = arm == k
        # imputed effects, in the uplift sign: churn without the offer minus churn with it
        boosters["effect_offer", k] = train(rows, without - y, "regression")
        boosters["effect_control", k] = train(control, y - model._outcome(x, k), "regression")
        g[k] = float(w[rows].sum() / (w[rows].sum() + w[control].sum()))
    return UpliftModel("x", per_offer, tuple(names), offers, skipped, boosters, g)


def _offers(
    arm: np.ndarray, w: np.ndarray, min_rows: int, where: str
) -> tuple[tuple[str, ...], dict[str, str]]:
    """The offers with enough treated rows to fit, in name order, and why the others were not."""
    names = sorted({k for k in arm if k is not None})
    skipped: dict[str, str] = {}
    for k in names:
        rows = arm == k
        if rows.sum() < min_rows:
            skipped[k] = f"{int(rows.sum())} treated rows, fewer than min_rows={min_rows}"
        elif w[rows].sum() <= 0:
            skipped[k] = f"its {int(rows.sum())} treated rows all weigh 0"
        else:
            continue
        log.warning("%s: skipping offer %r: %s", where, k, skipped[k])
    fitted = tuple(k for k in names if k not in skipped)
    if not fitted:
        raise DataError(
            f"{where}: expected an offer with at least min_rows={min_rows} treated rows; "
            f"got {skipped or 'no treated rows'}"
        )
    return fitted, skipped

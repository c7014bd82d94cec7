"""Customer-grouped cross-fitted calibration, for histories too short for a calibration cutoff.

The training rows' customers are split into ``K`` seeded folds. For each fold LightGBM is fitted
on the other folds' customers and predicts the held-out ones, so every row gets an out-of-fold
score from a model that never saw its customer. The calibrator (isotonic or sigmoid) is fitted
on those out-of-fold scores; the deployed model is the fit on all rows with that calibrator
(scikit-learn's ``CalibratedClassifierCV(ensemble=False)``, grouped by customer).

For an in-time evaluation, :attr:`CrossFit.calibrated` goes one step further: each fold's
scores go through a calibrator fitted on the *other* folds' out-of-fold scores, so no
customer's own rows calibrate their own prediction.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import expit
from sklearn.isotonic import IsotonicRegression

from churn.errors import ConfigError, DataError
from churn.model.config import ModelConfig
from churn.model.deployed import Calibrator, ChurnModel
from churn.model.fit import fit_lightgbm
from churn.model.roles import LABEL

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CrossFit:
    """Out-of-fold results on the rows given to :func:`cross_fit`, in their order."""

    folds: np.ndarray  # fold number of each row (by customer)
    raw: np.ndarray  # out-of-fold log-odds of each row
    calibrator: Calibrator | None  # fitted on every out-of-fold score; None for ``none``
    calibrated: np.ndarray  # out-of-fold probabilities, calibrated without the row's fold


def customer_folds(customer_ids: pd.Series, *, n_folds: int, seed: int) -> np.ndarray:
    """A seeded fold number per row; all rows of a customer share one, whatever the row order.

    Raises:
        ConfigError: fewer than 2 folds.
        DataError: fewer customers than folds.
    """
    if n_folds < 2:
        raise ConfigError(f"train.calibration_folds: expected >= 2; got {n_folds}")
    ids = np.sort(customer_ids.astype(str).unique())
    if ids.size < n_folds:
        raise DataError(
            f"customer_folds: expected at least {n_folds} customers for {n_folds} folds; "
            f"got {ids.size}"
        )
    shuffled = ids[np.random.default_rng(seed).permutation(ids.size)]
    fold_of = dict(zip(shuffled.tolist(), (np.arange(ids.size) % n_folds).tolist(), strict=True))
    return customer_ids.astype(str).map(fold_of).to_numpy(dtype=int)


def fit_calibrator(scores: np.ndarray, y: np.ndarray, *, method: str) -> Calibrator | None:
    """An isotonic or sigmoid (Platt) map from log-odds to probabilities; None for ``none``.

    Raises:
        ConfigError: an unknown method.
        DataError: rows of one class only.
    """
    if method == "none":
        return None
    if method not in ("isotonic", "sigmoid"):
        raise ConfigError(f"calibration.method: expected isotonic, sigmoid or none; got {method!r}")
    labels = np.asarray(y, dtype=float)
    if labels.size == 0 or labels.min() == labels.max():
        raise DataError(
            f"fit_calibrator: expected rows of both classes; got {labels.size} rows with labels "
            f"{sorted(set(labels.tolist()))}"
        )
    if method == "isotonic":
        fitted = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(scores, labels)
        x = tuple(float(v) for v in fitted.X_thresholds_)
        return Calibrator("isotonic", x=x, y=tuple(float(v) for v in fitted.y_thresholds_))
    a, b = _platt(np.asarray(scores, dtype=float), labels)
    return Calibrator("sigmoid", a=a, b=b)


def _platt(s: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Platt's ``p = 1 / (1 + exp(a s + b))`` with his smoothed targets, by maximum likelihood."""
    positives = y.sum()
    negatives = y.size - positives
    target = np.where(y > 0, (positives + 1) / (positives + 2), 1 / (negatives + 2))

    def loss(ab: np.ndarray) -> tuple[float, np.ndarray]:
        z = -(ab[0] * s + ab[1])
        p = expit(z)
        value = np.sum(target * np.logaddexp(0, -z) + (1 - target) * np.logaddexp(0, z))
        residual = p - target
        return float(value), np.array([-(residual * s).sum(), -residual.sum()])

    start = np.array([0.0, float(np.log((negatives + 1) / (positives + 1)))])
    result = minimize(loss, start, jac=True, method="L-BFGS-B")
    return float(result.x[0]), float(result.x[1])


def cross_fit(
    frame: pd.DataFrame,
    features: Sequence[str],
    config: ModelConfig,
    *,
    method: str,
    n_folds: int,
    seed: int,
    params: Mapping[str, Any] | None = None,
) -> CrossFit:
    """Out-of-fold LightGBM scores by customer, and the calibrator fitted on them.

    Args:
        frame: training rows with the features, ``customer_id`` and ``churned``.
        features: the model's input columns.
        config: the model settings (each fold stops early on its own customer holdout).
        method: ``isotonic``, ``sigmoid`` or ``none``.
        n_folds: folds of customers.
        seed: seeds the folds and every fit.
        params: LightGBM parameters replacing ``config.params``.

    Raises:
        DataError: too few customers, or a fold whose other folds hold one class only.
    """
    folds = customer_folds(frame["customer_id"], n_folds=n_folds, seed=seed)
    y = frame[LABEL].to_numpy()
    raw = np.full(len(frame), np.nan)
    for k in range(n_folds):
        held = folds == k
        if np.unique(y[~held]).size < 2:
            raise DataError(
                f"cross_fit: the customers outside fold {k + 1} of {n_folds} are of one class "
                f"only ({int((~held).sum())} rows); more customers or fewer train.calibration_folds"
            )
        fitted = fit_lightgbm(frame[~held], features, config, seed=seed, params=params)
        fold_model = ChurnModel.from_fitted(fitted.pipeline)
        raw[held] = fold_model.booster_output(frame[held], raw_score=True)
    calibrated = np.empty(len(frame))
    for k in range(n_folds):
        held = folds == k
        others = fit_calibrator(raw[~held], y[~held], method=method)
        calibrated[held] = expit(raw[held]) if others is None else others.apply(raw[held])
    calibrator = fit_calibrator(raw, y, method=method)
    log.info(
        "cross-fitted calibration: %s on %d out-of-fold rows of %d customers in %d folds",
        method,
        len(frame),
        frame["customer_id"].nunique(),
        n_folds,
    )
    return CrossFit(folds, raw, calibrator, calibrated)


def with_calibrator(fitted: ChurnModel, calibrator: Calibrator | None) -> ChurnModel:
    """The uncalibrated model ``fitted`` serving ``calibrator`` on its log-odds."""
    chosen = () if calibrator is None else (calibrator,)
    return dataclasses.replace(fitted, calibrators=chosen, calibration_input="raw_score")

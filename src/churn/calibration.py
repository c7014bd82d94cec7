"""Probability calibration on an out-of-time cutoff (``conf/calibration``).

The fitted model is frozen (scikit-learn's :class:`~sklearn.frozen.FrozenEstimator`) and a
monotone map from its scores to probabilities is fitted on the calibration cutoff's rows, which
the model never saw: ``isotonic`` (a step function, needs a few thousand rows), ``sigmoid``
(Platt scaling, two parameters) or ``none``.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator

from churn.errors import ConfigError, DataError

log = logging.getLogger(__name__)

METHODS = ("isotonic", "sigmoid", "none")


def validate_method(method: str) -> str:
    """Return ``method`` when it is one of :data:`METHODS`, else raise ConfigError."""
    if method not in METHODS:
        raise ConfigError(f"calibration.method: expected one of {list(METHODS)}; got {method!r}")
    return method


def calibrate(model: Any, frame: pd.DataFrame, y: np.ndarray | pd.Series, *, method: str) -> Any:
    """Fit ``method`` on top of the already fitted ``model``; ``none`` returns it unchanged.

    Raises:
        ConfigError: for an unknown method.
        DataError: when the calibration rows hold a single class.
    """
    validate_method(method)
    if method == "none":
        return model
    labels = np.asarray(y)
    if labels.size == 0 or labels.min() == labels.max():
        raise DataError(
            f"calibrate: expected calibration rows of both classes; got {labels.size} rows "
            f"with labels {sorted(set(labels.tolist()))}"
        )
    calibrated = CalibratedClassifierCV(FrozenEstimator(model), method=method)
    calibrated.fit(frame, labels)
    log.info("calibration: %s fitted on %d rows", method, labels.size)
    return calibrated

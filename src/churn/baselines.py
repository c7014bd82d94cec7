"""Simple churn scorers that every model is compared with, on the same rows (docs/training.md).

* ``recency``: days since the last purchase, mapped to a probability by an increasing isotonic
  regression fitted on the training rows: the rule of thumb "long silent, likely gone".
* ``rfm_logistic``: logistic regression on standardised recency, frequency (purchase days),
  mean spend per purchase and tenure: the afternoon's regression a data scientist would try.
* ``bgnbd``: the BG/NBD probability of no purchase in the horizon, fitted at each cutoff on that
  cutoff's customers; it uses no labels at all.

Each baseline's ``predict(frame)`` takes a frame of feature rows (as built by
:func:`churn.features.build_features`) and returns churn probabilities.
"""

from __future__ import annotations

import logging
from typing import Protocol

import numpy as np
import pandas as pd
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from churn import btyd
from churn.errors import DataError
from churn.model.simple import bgnbd_summary

log = logging.getLogger(__name__)

RFM_COLUMNS = ("recency_days", "frequency", "monetary_mean", "tenure_days")
BASELINE_NAMES = ("recency", "rfm_logistic", "bgnbd")


class Baseline(Protocol):
    """A fitted scorer: churn probabilities for feature rows."""

    name: str

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Churn probability per row of ``frame``."""
        ...


def _columns(frame: pd.DataFrame, columns: tuple[str, ...], where: str) -> pd.DataFrame:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(f"{where}: expected feature columns {missing}; got {list(frame.columns)}")
    return frame[list(columns)].astype("float64")


def _labels(y: np.ndarray | pd.Series, n: int, where: str) -> np.ndarray:
    labels = np.asarray(y)
    if labels.shape != (n,) or not np.isin(labels, (0, 1)).all():
        raise DataError(f"{where}: expected {n} labels of 0/1; got shape {labels.shape}")
    if labels.min() == labels.max():
        raise DataError(f"{where}: expected both churned and retained rows; all are {labels[0]}")
    return labels


class RecencyBaseline:
    """Churn probability as an increasing function of days since the last purchase."""

    name = "recency"

    def __init__(self) -> None:
        self._iso = IsotonicRegression(increasing=True, out_of_bounds="clip", y_min=0, y_max=1)

    @property
    def isotonic(self) -> IsotonicRegression:
        """The fitted monotone map (for :class:`churn.model.simple.RecencyScorer`)."""
        return self._iso

    def fit(self, frame: pd.DataFrame, y: np.ndarray | pd.Series) -> RecencyBaseline:
        """Fit the monotone map on training rows."""
        x = _columns(frame, ("recency_days",), "RecencyBaseline.fit")["recency_days"].to_numpy()
        self._iso.fit(x, _labels(y, len(frame), "RecencyBaseline.fit"))
        return self

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Churn probability per row."""
        x = _columns(frame, ("recency_days",), "RecencyBaseline.predict")["recency_days"]
        return np.asarray(self._iso.predict(x.to_numpy()), dtype=float)


class RFMLogisticBaseline:
    """Logistic regression on standardised recency, frequency, mean spend and tenure."""

    name = "rfm_logistic"

    def __init__(self, *, seed: int = 0) -> None:
        self._model: Pipeline = make_pipeline(
            StandardScaler(), LogisticRegression(max_iter=1000, random_state=seed)
        )

    @property
    def pipeline(self) -> Pipeline:
        """The fitted scaler + regression (for :class:`churn.model.simple.RFMLogisticScorer`)."""
        return self._model

    @staticmethod
    def _design(frame: pd.DataFrame, where: str) -> np.ndarray:
        return np.nan_to_num(_columns(frame, RFM_COLUMNS, where).to_numpy(), nan=0.0)

    def fit(self, frame: pd.DataFrame, y: np.ndarray | pd.Series) -> RFMLogisticBaseline:
        """Fit the regression on training rows."""
        x = self._design(frame, "RFMLogisticBaseline.fit")
        self._model.fit(x, _labels(y, len(frame), "RFMLogisticBaseline.fit"))
        return self

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Churn probability per row."""
        x = self._design(frame, "RFMLogisticBaseline.predict")
        return np.asarray(self._model.predict_proba(x)[:, 1], dtype=float)


class BGNBDBaseline:
    """BG/NBD probability of no purchase in the horizon, fitted per cutoff without labels.

    The per-customer summary comes from the feature rows: ``x = frequency - 1`` repeat purchase
    days, ``t_x = tenure - recency`` and ``T = tenure``, in ``time_unit_days``.
    """

    name = "bgnbd"

    def __init__(
        self, *, horizon_days: int, time_unit_days: float = 7.0, penalizer: float = 0.001
    ) -> None:
        self.horizon_days = horizon_days
        self.time_unit_days = time_unit_days
        self.penalizer = penalizer
        self.fitted: dict[pd.Timestamp, btyd.BGNBDParams] = {}

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Churn probability per row; rows are grouped by their ``cutoff`` column."""
        where = "BGNBDBaseline.predict"
        values = _columns(frame, ("frequency", "tenure_days", "recency_days"), where)
        if "cutoff" not in frame.columns:
            raise DataError(f"{where}: expected a 'cutoff' column; got {list(frame.columns)}")
        unit = self.time_unit_days
        x, t_x, big_t = bgnbd_summary(values, unit)
        out = np.empty(len(frame))
        cutoffs = frame["cutoff"].to_numpy()
        previous: btyd.BGNBDParams | None = None
        for cutoff in np.unique(cutoffs):
            rows = cutoffs == cutoff
            key = pd.Timestamp(cutoff)
            params = self.fitted.get(key)
            if params is None:
                params = btyd.fit_bgnbd(
                    x[rows], t_x[rows], big_t[rows], penalizer=self.penalizer, initial=previous
                )
                self.fitted[key] = params
                log.debug(
                    "bgnbd baseline at %s on %d customers: %s", key.date(), rows.sum(), params
                )
            previous = params
            out[rows] = btyd.p_no_purchase(
                params, self.horizon_days / unit, x[rows], t_x[rows], big_t[rows]
            )
        return out


def fit_baselines(
    frame: pd.DataFrame,
    y: np.ndarray | pd.Series,
    *,
    horizon_days: int,
    time_unit_days: float = 7.0,
    penalizer: float = 0.001,
    seed: int = 0,
) -> dict[str, Baseline]:
    """Fit every baseline on the training rows (the BG/NBD one fits per cutoff when used)."""
    return {
        "recency": RecencyBaseline().fit(frame, y),
        "rfm_logistic": RFMLogisticBaseline(seed=seed).fit(frame, y),
        "bgnbd": BGNBDBaseline(
            horizon_days=horizon_days, time_unit_days=time_unit_days, penalizer=penalizer
        ),
    }

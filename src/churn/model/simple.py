"""The baselines as deployable scorers: plain parameters in ``model.json``, no pickle.

A deployed baseline (docs/model-store.md) is one of

- ``recency``: the isotonic map from ``recency_days`` to a probability (its thresholds);
- ``rfm_logistic``: a logistic regression on recency, frequency, mean spend and tenure (the
  standardiser's means and scales, the coefficients and the intercept);
- ``bgnbd``: the feature column ``btyd_p_no_purchase`` (BG/NBD fitted at the scoring cutoff on
  every buyer by the feature code, so a score never depends on the scoring batch). A missing
  value (a cutoff with too few buyers for the fit) is imputed with the mean probability of the
  rows the scorer was built on, with a warning naming how many rows.

Each gives contributions in log-odds per input plus ``bias`` (summing to the logit of its
probability), the frame :func:`churn.reasons.top_reasons` turns into plain words. The zero
point is a typical retained customer (the medians of the training rows that did not churn), so
a customer at risk has terms that push their score up: ``recency`` one term (the log-odds above
that customer's recency); ``rfm_logistic`` coefficient x standardised value; ``bgnbd``
recency's and frequency's two-input Shapley shares of the BG/NBD log-odds (with the parameters
of the latest training cutoff) above those of a customer with the retained median's recency
and frequency.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit, logit

from churn import btyd

log = logging.getLogger(__name__)

RECENCY, RFM_LOGISTIC, BGNBD = "recency", "rfm_logistic", "bgnbd"
KINDS = (RECENCY, RFM_LOGISTIC, BGNBD)
RFM_INPUTS = ("recency_days", "frequency", "monetary_mean", "tenure_days")
BGNBD_COLUMN = "btyd_p_no_purchase"
BGNBD_INPUTS = (BGNBD_COLUMN, "recency_days", "frequency", "tenure_days")
_EPS = 1e-6


def _logit(p: np.ndarray) -> np.ndarray:
    return np.asarray(logit(np.clip(p, _EPS, 1 - _EPS)), dtype=float)


def _floats(values: Any, where: str, name: str) -> tuple[float, ...]:
    out = tuple(float(v) for v in values or ())
    if not out or not all(math.isfinite(v) for v in out):
        raise ValueError(f"{where}: {name}: expected finite numbers; got {values!r}")
    return out


def _number(values: Mapping[str, Any], name: str, where: str) -> float:
    value = float(values.get(name, math.nan))
    if not math.isfinite(value):
        raise ValueError(f"{where}: {name}: expected a finite number; got {values.get(name)!r}")
    return value


def bgnbd_summary(frame: pd.DataFrame, unit: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """BG/NBD's ``x, t_x, T`` in ``unit`` days from frequency, tenure and recency rows."""
    x = np.maximum(frame["frequency"].to_numpy(dtype=float) - 1, 0)
    big_t = np.maximum(frame["tenure_days"].to_numpy(dtype=float), 0.0) / unit
    span = (frame["tenure_days"] - frame["recency_days"]).to_numpy(dtype=float)
    t_x = np.where(x > 0, np.clip(span, 0.0, None) / unit, 0.0)
    return x, np.minimum(t_x, big_t), big_t


@dataclass(frozen=True)
class RecencyScorer:
    """Churn probability as the stored increasing isotonic map of ``recency_days``."""

    x: tuple[float, ...]
    y: tuple[float, ...]
    reference: float  # the retained training rows' median recency: the contributions' zero point

    kind = RECENCY
    inputs = ("recency_days",)

    def probability(self, frame: pd.DataFrame) -> np.ndarray:
        """Churn probability per row."""
        days = frame["recency_days"].to_numpy(dtype=float)
        return np.interp(np.clip(days, self.x[0], self.x[-1]), self.x, self.y)

    def contributions(self, frame: pd.DataFrame) -> pd.DataFrame:
        """One term, ``recency_days``: the log-odds above the reference's; plus ``bias``."""
        bias = float(_logit(np.interp([self.reference], self.x, self.y))[0])
        term = _logit(self.probability(frame)) - bias
        return pd.DataFrame({"recency_days": term, "bias": bias}, index=frame.index)

    def importance(self) -> dict[str, float]:
        """The one input's weight."""
        return {"recency_days": 1.0}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"x": list(self.x), "y": list(self.y), "reference": self.reference}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], *, where: str) -> RecencyScorer:
        """Read and check what :meth:`to_dict` wrote."""
        x, y = _floats(values.get("x"), where, "x"), _floats(values.get("y"), where, "y")
        if len(x) != len(y) or any(b < a for a, b in itertools.pairwise(x)):
            raise ValueError(
                f"{where}: recency: expected equally long x and y with x ascending; got "
                f"{len(x)} and {len(y)} values"
            )
        return cls(x, y, _number(values, "reference", where))


@dataclass(frozen=True)
class RFMLogisticScorer:
    """Logistic regression on standardised recency, frequency, mean spend and tenure."""

    means: tuple[float, ...]
    scales: tuple[float, ...]
    coefficients: tuple[float, ...]
    intercept: float

    kind = RFM_LOGISTIC
    inputs = RFM_INPUTS

    def _standardised(self, frame: pd.DataFrame) -> np.ndarray:
        design = np.nan_to_num(frame[list(RFM_INPUTS)].to_numpy(dtype=float), nan=0.0)
        return (design - np.asarray(self.means)) / np.asarray(self.scales)

    def contributions(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Coefficient x standardised value per input, plus ``bias`` (the intercept)."""
        terms = self._standardised(frame) * np.asarray(self.coefficients)
        out = pd.DataFrame(terms, columns=list(RFM_INPUTS), index=frame.index)
        out["bias"] = self.intercept
        return out

    def probability(self, frame: pd.DataFrame) -> np.ndarray:
        """Churn probability per row."""
        z = self._standardised(frame) @ np.asarray(self.coefficients) + self.intercept
        return np.asarray(expit(z), dtype=float)

    def importance(self) -> dict[str, float]:
        """Absolute coefficients (per standard deviation), largest first."""
        pairs = sorted(zip(RFM_INPUTS, self.coefficients, strict=True), key=lambda p: -abs(p[1]))
        return {name: abs(c) for name, c in pairs}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "means": list(self.means),
            "scales": list(self.scales),
            "coefficients": list(self.coefficients),
            "intercept": self.intercept,
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], *, where: str) -> RFMLogisticScorer:
        """Read and check what :meth:`to_dict` wrote."""
        means, scales, coefficients = (
            _floats(values.get(n), where, n) for n in ("means", "scales", "coefficients")
        )
        lengths = [len(means), len(scales), len(coefficients)]
        if lengths != [len(RFM_INPUTS)] * 3 or min(scales) <= 0:
            raise ValueError(
                f"{where}: rfm_logistic: expected {len(RFM_INPUTS)} means, positive scales and "
                f"coefficients; got {lengths}"
            )
        return cls(means, scales, coefficients, _number(values, "intercept", where))


@dataclass(frozen=True)
class BGNBDScorer:
    """The feature ``btyd_p_no_purchase``; recency and frequency attributed by BG/NBD."""

    params: btyd.BGNBDParams  # of the latest training cutoff: for the attribution only
    horizon_days: int
    time_unit_days: float
    median_recency: float
    median_frequency: float
    fallback: float  # served where the column is missing

    kind = BGNBD
    inputs = BGNBD_INPUTS

    def probability(self, frame: pd.DataFrame) -> np.ndarray:
        """``btyd_p_no_purchase`` per row; a missing value gets the stored fallback (warned)."""
        p = frame[BGNBD_COLUMN].to_numpy(dtype=float)
        missing = ~np.isfinite(p)
        if missing.any():
            log.warning(
                "bgnbd scorer: %d of %d rows have no %s (BG/NBD could not be fitted at their "
                "cutoff); they get the training mean %.4f",
                missing.sum(),
                len(p),
                BGNBD_COLUMN,
                self.fallback,
            )
            p = np.where(missing, self.fallback, p)
        return p

    def _bgnbd(self, frame: pd.DataFrame) -> np.ndarray:
        x, t_x, big_t = bgnbd_summary(frame, self.time_unit_days)
        t = self.horizon_days / self.time_unit_days
        return btyd.p_no_purchase(self.params, t, x, t_x, big_t)

    def contributions(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Per row: recency's and frequency's share of the log-odds above the reference's.

        The two-input Shapley split of ``logit p(r, f) - logit p(r0, f0)`` (``r0, f0`` the
        retained training customers' medians, the row's own tenure): each input's effect of
        moving from the median to the row's value, averaged over the other input at its median
        and at the row's value.
        ``bias`` is the rest, so the terms add up to the served probability's log-odds.
        """
        rows = frame[["recency_days", "frequency", "tenure_days"]].astype("float64")
        rows = rows.fillna({"recency_days": self.median_recency, "frequency": 1.0})
        rows["tenure_days"] = rows["tenure_days"].fillna(rows["recency_days"])
        usual = np.minimum(self.median_recency, rows["tenure_days"])
        own = _logit(self._bgnbd(rows))
        at_recency = _logit(self._bgnbd(rows.assign(recency_days=usual)))
        at_frequency = _logit(self._bgnbd(rows.assign(frequency=self.median_frequency)))
        at_both = _logit(
            self._bgnbd(rows.assign(recency_days=usual, frequency=self.median_frequency))
        )
        out = pd.DataFrame(
            {
                "recency_days": 0.5 * ((own - at_recency) + (at_frequency - at_both)),
                "frequency": 0.5 * ((own - at_frequency) + (at_recency - at_both)),
            },
            index=frame.index,
        )
        out["bias"] = _logit(self.probability(frame)) - out.sum(axis=1).to_numpy()
        return out

    def importance(self) -> dict[str, float]:
        """Equal weights: the attribution has no global scale."""
        return {"recency_days": 1.0, "frequency": 1.0}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        p = self.params
        return {
            "params": {"r": p.r, "alpha": p.alpha, "a": p.a, "b": p.b},
            "horizon_days": self.horizon_days,
            "time_unit_days": self.time_unit_days,
            "median_recency": self.median_recency,
            "median_frequency": self.median_frequency,
            "fallback": self.fallback,
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], *, where: str) -> BGNBDScorer:
        """Read and check what :meth:`to_dict` wrote."""
        raw = values.get("params")
        if not isinstance(raw, Mapping):
            raise ValueError(f"{where}: bgnbd: expected params r, alpha, a, b; got {raw!r}")
        try:
            params = btyd.BGNBDParams(
                **{k: _number(raw, k, where) for k in ("r", "alpha", "a", "b")}
            )
        except (TypeError, ValueError) as err:
            raise ValueError(f"{where}: bgnbd params: {err}") from err
        return cls(
            params,
            int(_number(values, "horizon_days", where)),
            _number(values, "time_unit_days", where),
            _number(values, "median_recency", where),
            _number(values, "median_frequency", where),
            _number(values, "fallback", where),
        )


SimpleScorer = RecencyScorer | RFMLogisticScorer | BGNBDScorer
_READERS: dict[str, Any] = {
    RECENCY: RecencyScorer,
    RFM_LOGISTIC: RFMLogisticScorer,
    BGNBD: BGNBDScorer,
}


def read_scorer(kind: str, values: Mapping[str, Any], *, where: str) -> SimpleScorer:
    """The scorer of ``kind`` from its ``to_dict`` form.

    Raises:
        ValueError: an unknown kind or malformed parameters.
    """
    reader = _READERS.get(kind)
    if reader is None:
        raise ValueError(f"{where}: expected a scorer kind among {KINDS}; got {kind!r}")
    scorer: SimpleScorer = reader.from_dict(values, where=where)
    return scorer

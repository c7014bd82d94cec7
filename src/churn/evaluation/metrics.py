"""Metrics of churn scorers: ROC-AUC, PR-AUC, Brier, log loss, calibration error, lift and capture.

Pure functions of 0/1 labels ``y`` and probabilities ``p``; :func:`is_better` compares two runs'
metrics in each metric's direction.
"""

from __future__ import annotations

import logging
import math
import numbers
import re
from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.metrics import (
    average_precision_score,
    roc_auc_score,
)

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
Curves = Mapping[str, tuple[npt.ArrayLike, npt.ArrayLike]]

DEFAULT_TOP_FRACTIONS: tuple[float, ...] = (0.05, 0.1, 0.2)
# Probabilities are clipped this far from 0 and 1 so that log loss stays finite.
_LOG_LOSS_EPS = 1e-15
# ceil(fraction * n) must not jump past an integer that the product misses by rounding alone
# (0.1 * 30 is 3.0000000000000004 in floating point).
_TOP_K_RELATIVE_SLACK = 1e-12
_MODEL = "model"

METRIC_DIRECTIONS: dict[str, str] = {
    "roc_auc": "higher",
    "pr_auc": "higher",
    "brier": "lower",
    "log_loss": "lower",
    "ece": "lower",
    **{f"lift_top{round(100 * f)}": "higher" for f in DEFAULT_TOP_FRACTIONS},
    **{f"capture_top{round(100 * f)}": "higher" for f in DEFAULT_TOP_FRACTIONS},
}
_TOP_METRIC = re.compile(r"(lift|capture)_top\d+")


# --- validation -------------------------------------------------------------------------------


def _as_1d(values: npt.ArrayLike, *, where: str, name: str) -> FloatArray:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{where}: {name} must be numeric; got {err}") from err
    if array.ndim != 1:
        raise ValueError(f"{where}: {name} must be one-dimensional; got shape {array.shape}")
    return array


def _labelled(
    y: npt.ArrayLike, p: npt.ArrayLike, *, where: str
) -> tuple[npt.NDArray[np.int64], FloatArray]:
    """Validated 1-D arrays: ``y`` as 0/1 integers, ``p`` finite and within [0, 1]."""
    y_arr = _as_1d(y, where=where, name="y")
    p_arr = _as_1d(p, where=where, name="p")
    if y_arr.size != p_arr.size:
        raise ValueError(
            f"{where}: y and p must have the same length; got {y_arr.size} and {p_arr.size}"
        )
    if y_arr.size == 0:
        raise ValueError(f"{where}: expected at least one row; got none")
    bad_y = y_arr[(y_arr != 0) & (y_arr != 1)]
    if bad_y.size:
        raise ValueError(
            f"{where}: y must hold only 0/1 labels (1 = churned); got {bad_y.size} other values "
            f"(first: {bad_y[0]:g})"
        )
    bad_p = p_arr[~(np.isfinite(p_arr) & (p_arr >= 0.0) & (p_arr <= 1.0))]
    if bad_p.size:
        raise ValueError(
            f"{where}: p must be finite probabilities in [0, 1]; got {bad_p.size} values outside "
            f"(first: {bad_p[0]:g})"
        )
    return y_arr.astype(np.int64), p_arr


def _check_count(value: int, *, where: str, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{where}: {name} must be a whole number >= 1; got {value!r}")


def _is_fraction(value: object) -> bool:
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        return False
    return 0.0 < float(value) <= 1.0


def _percent_suffixes(top_fractions: Sequence[float], *, where: str) -> list[tuple[int, float]]:
    """``(round(100 * fraction), fraction)`` pairs; each fraction in (0, 1], names distinct."""
    if isinstance(top_fractions, str | numbers.Number):
        raise ValueError(
            f"{where}: top_fractions must be a sequence of fractions; got {top_fractions!r}"
        )
    fractions = list(top_fractions)
    bad = [f for f in fractions if not _is_fraction(f)]
    if bad:
        raise ValueError(f"{where}: top_fractions must lie in (0, 1]; got {bad}")
    percents = [round(100 * f) for f in fractions]
    if 0 in percents or len(set(percents)) != len(percents):
        raise ValueError(
            f"{where}: top_fractions must round to distinct whole percents >= 1 (they name the "
            f"lift_top<percent> keys); got {fractions} -> {percents}"
        )
    return list(zip(percents, fractions, strict=True))


# --- metrics ----------------------------------------------------------------------------------


def _bin_stats(
    y: npt.NDArray[np.int64], p: FloatArray, n_bins: int
) -> tuple[npt.NDArray[np.int64], FloatArray, FloatArray]:
    """Row count, mean ``p`` and mean ``y`` per equal-width bin (NaN means in empty bins).

    The edges are ``np.linspace(0, 1, n_bins + 1)`` and a value on an inner edge goes to the
    upper bin, as in ``sklearn.calibration.calibration_curve``; ``p == 1`` is in the last bin.
    """
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    index = np.searchsorted(edges[1:-1], p, side="right")
    counts = np.bincount(index, minlength=n_bins)
    sum_p = np.bincount(index, weights=p, minlength=n_bins)
    sum_y = np.bincount(index, weights=y, minlength=n_bins)
    filled = counts > 0
    mean_p = np.full(n_bins, np.nan)
    mean_y = np.full(n_bins, np.nan)
    mean_p[filled] = sum_p[filled] / counts[filled]
    mean_y[filled] = sum_y[filled] / counts[filled]
    return counts, mean_p, mean_y


def _ece(y: npt.NDArray[np.int64], p: FloatArray, n_bins: int) -> float:
    counts, mean_p, mean_y = _bin_stats(y, p, n_bins)
    filled = counts > 0
    weights = counts[filled] / y.size
    return float(np.sum(weights * np.abs(mean_p[filled] - mean_y[filled])))


def expected_calibration_error(y: npt.ArrayLike, p: npt.ArrayLike, *, n_bins: int = 10) -> float:
    """Expected calibration error over equal-width probability bins.

    The sum over non-empty bins of ``(bin size / n) * |mean p in bin - mean y in bin|``; 0 for a
    perfectly calibrated scorer.

    Args:
        y: 0/1 labels, 1 = churned.
        p: predicted churn probabilities in [0, 1].
        n_bins: the number of equal-width bins on [0, 1]; ``p == 1`` goes into the last one.

    Raises:
        ValueError: on invalid labels or probabilities, or ``n_bins < 1``.
    """
    where = "expected_calibration_error"
    _check_count(n_bins, where=where, name="n_bins")
    y_arr, p_arr = _labelled(y, p, where=where)
    return _ece(y_arr, p_arr, n_bins)


def _top_k(fraction: float, n: int) -> int:
    return max(1, math.ceil(fraction * n * (1.0 - _TOP_K_RELATIVE_SLACK)))


def _lift_capture(
    y: npt.NDArray[np.int64], p: FloatArray, fraction: float, order: npt.NDArray[np.intp]
) -> tuple[float, float]:
    churners = int(y.sum())
    if churners == 0:
        return math.nan, math.nan
    k = _top_k(fraction, y.size)
    caught = int(y[order[:k]].sum())
    lift = (caught / k) / (churners / y.size)
    return float(lift), caught / churners


def _risk_order(p: FloatArray) -> npt.NDArray[np.intp]:
    """Row positions by descending ``p``; tied rows keep their input order (stable sort)."""
    return np.argsort(-p, kind="stable")


def lift_and_capture(y: npt.ArrayLike, p: npt.ArrayLike, *, fraction: float) -> tuple[float, float]:
    """Lift and capture rate of the top ``fraction`` of rows by predicted churn probability.

    The top ``k = ceil(fraction * n)`` rows (at least one) by descending ``p``; ties keep their
    input order, so the result is deterministic.

    Args:
        y: 0/1 labels, 1 = churned.
        p: predicted churn probabilities in [0, 1].
        fraction: the share of rows contacted, in (0, 1].

    Returns:
        ``(lift, capture)``: the churn rate in the top ``k`` divided by the overall churn rate,
        and the share of all churners found in the top ``k``. Both NaN when no row churned.

    Raises:
        ValueError: on invalid labels or probabilities, or ``fraction`` outside (0, 1].
    """
    where = "lift_and_capture"
    if not _is_fraction(fraction):
        raise ValueError(f"{where}: fraction must lie in (0, 1]; got {fraction!r}")
    y_arr, p_arr = _labelled(y, p, where=where)
    return _lift_capture(y_arr, p_arr, fraction, _risk_order(p_arr))


def _metrics(
    y: npt.NDArray[np.int64],
    p: FloatArray,
    top: Sequence[tuple[int, float]],
    n_bins: int,
    *,
    where: str,
) -> dict[str, float]:
    """All metrics of already validated arrays."""
    if np.unique(y).size < 2:
        log.warning(
            "%s: every row has label %d; roc_auc and pr_auc are undefined (NaN)", where, y[0]
        )
        roc_auc = pr_auc = math.nan
    else:
        roc_auc = float(roc_auc_score(y, p))
        pr_auc = float(average_precision_score(y, p))
    clipped = np.clip(p, _LOG_LOSS_EPS, 1.0 - _LOG_LOSS_EPS)
    log_loss = -np.mean(y * np.log(clipped) + (1 - y) * np.log1p(-clipped))
    result = {
        "roc_auc": roc_auc,
        "pr_auc": pr_auc,
        "brier": float(np.mean((p - y) ** 2)),
        "log_loss": float(log_loss),
        "ece": _ece(y, p, n_bins),
    }
    order = _risk_order(p)
    for percent, fraction in top:
        lift, capture = _lift_capture(y, p, fraction, order)
        result[f"lift_top{percent}"] = lift
        result[f"capture_top{percent}"] = capture
    result["n_rows"] = float(y.size)
    result["churn_rate"] = float(y.mean())
    result["mean_p"] = float(p.mean())
    return result


def classification_metrics(
    y: npt.ArrayLike,
    p: npt.ArrayLike,
    *,
    top_fractions: Sequence[float] = DEFAULT_TOP_FRACTIONS,
    n_bins: int = 10,
) -> dict[str, float]:
    """Ranking, probability and targeting metrics of one scorer.

    Args:
        y: 0/1 labels, 1 = churned.
        p: predicted churn probabilities in [0, 1].
        top_fractions: shares of rows contacted for ``lift_top<percent>`` and
            ``capture_top<percent>``, named by ``round(100 * fraction)``.
        n_bins: bins of the expected calibration error.

    Returns:
        ``roc_auc``, ``pr_auc`` (average precision), ``brier``, ``log_loss`` (``p`` clipped to
        ``[1e-15, 1 - 1e-15]``), ``ece``, ``lift_top<percent>`` and ``capture_top<percent>`` for
        each fraction, ``n_rows``, ``churn_rate`` and ``mean_p``. When ``y`` holds a single class,
        ``roc_auc`` and ``pr_auc`` are NaN (with a logged warning); with no churner the lifts and
        captures are NaN too.

    Raises:
        ValueError: on lengths that differ, no rows, labels other than 0/1, probabilities that
            are not finite or outside [0, 1], or invalid options.
    """
    where = "classification_metrics"
    _check_count(n_bins, where=where, name="n_bins")
    top = _percent_suffixes(top_fractions, where=where)
    y_arr, p_arr = _labelled(y, p, where=where)
    return _metrics(y_arr, p_arr, top, n_bins, where=where)


def compare_scorers(
    y: npt.ArrayLike,
    scores: Mapping[str, npt.ArrayLike],
    *,
    top_fractions: Sequence[float] = DEFAULT_TOP_FRACTIONS,
    n_bins: int = 10,
) -> pd.DataFrame:
    """:func:`classification_metrics` of several scorers on the same labelled rows.

    Args:
        y: 0/1 labels, 1 = churned.
        scores: scorer name (``"model"``, ``"recency"``, ...) to its predicted probabilities,
            one per row of ``y``.
        top_fractions: as in :func:`classification_metrics`.
        n_bins: as in :func:`classification_metrics`.

    Returns:
        One row per scorer (index ``scorer``, in the order of ``scores``), one column per metric.

    Raises:
        ValueError: when ``scores`` is empty or any scorer's input is invalid (the message names
            the scorer).
    """
    where = "compare_scorers"
    if not scores:
        raise ValueError(f"{where}: expected at least one scorer; got none")
    _check_count(n_bins, where=where, name="n_bins")
    top = _percent_suffixes(top_fractions, where=where)
    rows = {}
    for name, p in scores.items():
        scorer_where = f"{where}[{name!r}]"
        y_arr, p_arr = _labelled(y, p, where=scorer_where)
        rows[name] = _metrics(y_arr, p_arr, top, n_bins, where=scorer_where)
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "scorer"
    return table


def _direction(metric: str) -> str:
    # Logged metrics are namespaced by split (``test/roc_auc``); the direction is the metric's.
    base = metric.rsplit("/", 1)[-1]
    if base in METRIC_DIRECTIONS:
        return METRIC_DIRECTIONS[base]
    if _TOP_METRIC.fullmatch(base):
        return "higher"
    raise ValueError(
        f"is_better: unknown metric {metric!r}; expected one of {sorted(METRIC_DIRECTIONS)} "
        "(or lift_top<percent>, capture_top<percent>), optionally prefixed by '<split>/'"
    )


def is_better(metric: str, new: float, old: float, *, tolerance: float = 0.0) -> bool:
    """Whether ``new`` is no worse than ``old`` minus ``tolerance`` in the metric's good direction.

    For a metric where higher is better: ``new >= old - tolerance``; where lower is better:
    ``new <= old + tolerance``.

    Args:
        metric: a key of :data:`METRIC_DIRECTIONS` or ``lift_top<percent>`` /
            ``capture_top<percent>``, optionally namespaced by split (``test/roc_auc``).
        new: the candidate's value.
        old: the reference value.
        tolerance: how much worse ``new`` may be, in the metric's units (>= 0).

    Raises:
        ValueError: for an unknown metric, a negative or non-finite tolerance, or a NaN value
            (an undefined metric cannot be compared; the caller decides what that means).
    """
    direction = _direction(metric)
    if not (math.isfinite(tolerance) and tolerance >= 0):
        raise ValueError(f"is_better: tolerance must be finite and >= 0; got {tolerance!r}")
    if math.isnan(new) or math.isnan(old):
        raise ValueError(
            f"is_better: {metric} must be defined in both runs to compare; got new={new}, old={old}"
        )
    if direction == "higher":
        return new >= old - tolerance
    return new <= old + tolerance

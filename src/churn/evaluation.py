"""Metrics and plots that compare churn scorers (the model and its baselines) on labelled rows.

``y`` holds 0/1 labels (1 = churned) and ``p`` predicted churn probabilities in ``[0, 1]``. The
metrics are pure functions of the two; the plots build a matplotlib :class:`Figure` with the
object-oriented API (no pyplot, no backend, no global state), and only :func:`save_figure` writes
a file.
"""

from __future__ import annotations

import logging
import math
import numbers
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib as mpl
import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from sklearn.metrics import (
    average_precision_score,
    precision_recall_curve,
    roc_auc_score,
    roc_curve,
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
_JITTER_SEED = 0
_PNG_DPI = 110
_PNG_MODE = 0o644

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


# --- plots ------------------------------------------------------------------------------------


def _curve_arrays(
    curves: Curves, *, where: str
) -> list[tuple[str, npt.NDArray[np.int64], FloatArray]]:
    """Validated curves, the scorer named ``model`` first, the rest in their given order."""
    if not curves:
        raise ValueError(f"{where}: expected at least one curve; got none")
    names = sorted(curves, key=lambda name: name != _MODEL)
    result = []
    for name in names:
        pair = curves[name]
        if not (isinstance(pair, tuple | list) and len(pair) == 2):
            raise ValueError(f"{where}: curves[{name!r}] must be a (y, p) pair; got {pair!r}")
        y, p = _labelled(pair[0], pair[1], where=f"{where}: curves[{name!r}]")
        result.append((name, y, p))
    return result


def _require_churners(name: str, y: npt.NDArray[np.int64], *, where: str, both: bool) -> None:
    churners = int(y.sum())
    if churners == 0 or (both and churners == y.size):
        need = "both churned and stayed rows" if both else "at least one churned row"
        raise ValueError(
            f"{where}: curves[{name!r}] needs {need}; got {churners} churned of {y.size}"
        )


def _line_style(name: str, position: int) -> dict[str, Any]:
    if name == _MODEL:
        return {"color": f"C{position}", "linewidth": 2.6, "zorder": 4}
    return {"color": f"C{position}", "linewidth": 1.4, "zorder": 3}


_REFERENCE_STYLE: dict[str, Any] = {"color": "grey", "linestyle": "--", "linewidth": 1.0}


def _new_axes(title: str, *, figsize: tuple[float, float] = (6.4, 5.2)) -> tuple[Figure, Axes]:
    fig = Figure(figsize=figsize, layout="constrained")
    ax = fig.add_subplot()
    ax.set_title(title)
    return fig, ax


def plot_roc(curves: Curves, *, title: str = "ROC curve") -> Figure:
    """ROC curves of several scorers with the chance diagonal; the legend shows each AUC.

    Args:
        curves: scorer name to its ``(y, p)`` pair; ``"model"`` is drawn first and thickest.
        title: the figure title.

    Raises:
        ValueError: on invalid inputs, or a curve whose rows are all one class.
    """
    where = "plot_roc"
    fig, ax = _new_axes(title)
    for position, (name, y, p) in enumerate(_curve_arrays(curves, where=where)):
        _require_churners(name, y, where=where, both=True)
        fpr, tpr, _ = roc_curve(y, p)
        auc = float(roc_auc_score(y, p))
        ax.plot(fpr, tpr, label=f"{name} (AUC {auc:.3f})", **_line_style(name, position))
    ax.plot([0, 1], [0, 1], label="random guess (AUC 0.500)", **_REFERENCE_STYLE)
    ax.set_xlabel("share of stayers wrongly flagged (false positive rate)")
    ax.set_ylabel("share of churners flagged (true positive rate)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.legend(loc="lower right")
    return fig


def plot_precision_recall(curves: Curves, *, title: str = "Precision-recall curve") -> Figure:
    """Precision-recall curves with the base-rate line; the legend shows average precision.

    The base-rate line is the churn rate of the first curve (``"model"`` when present): the
    precision of contacting customers at random.

    Args:
        curves: scorer name to its ``(y, p)`` pair; ``"model"`` is drawn first and thickest.
        title: the figure title.

    Raises:
        ValueError: on invalid inputs, or a curve without any churned row.
    """
    where = "plot_precision_recall"
    fig, ax = _new_axes(title)
    arrays = _curve_arrays(curves, where=where)
    for position, (name, y, p) in enumerate(arrays):
        _require_churners(name, y, where=where, both=False)
        precision, recall, _ = precision_recall_curve(y, p)
        ap = float(average_precision_score(y, p))
        ax.plot(
            recall,
            precision,
            drawstyle="steps-post",
            label=f"{name} (AP {ap:.3f})",
            **_line_style(name, position),
        )
    base_rate = float(arrays[0][1].mean())
    ax.axhline(base_rate, label=f"random guess (churn rate {base_rate:.3f})", **_REFERENCE_STYLE)
    ax.set_xlabel("share of churners found (recall)")
    ax.set_ylabel("share of flagged customers who churn (precision)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.legend(loc="upper right")
    return fig


def plot_reliability(
    curves: Curves, *, n_bins: int = 10, title: str = "Do predicted churn rates come true?"
) -> Figure:
    """Reliability diagram: mean predicted vs observed churn rate per equal-width bin.

    The upper axes show one line per scorer (non-empty bins only) and the diagonal of perfect
    calibration, with each scorer's ECE in the legend; the lower axes show how many customers
    the first curve (``"model"`` when present) puts in each probability range.

    Args:
        curves: scorer name to its ``(y, p)`` pair; ``"model"`` is drawn first and thickest.
        n_bins: the number of equal-width bins on [0, 1].
        title: the figure title.

    Raises:
        ValueError: on invalid inputs or ``n_bins < 1``.
    """
    where = "plot_reliability"
    _check_count(n_bins, where=where, name="n_bins")
    arrays = _curve_arrays(curves, where=where)
    fig = Figure(figsize=(6.4, 6.4), layout="constrained")
    grid = fig.add_gridspec(2, 1, height_ratios=(3, 1))
    ax = fig.add_subplot(grid[0])
    hist_ax = fig.add_subplot(grid[1], sharex=ax)
    for position, (name, y, p) in enumerate(arrays):
        counts, mean_p, mean_y = _bin_stats(y, p, n_bins)
        filled = counts > 0
        ece = _ece(y, p, n_bins)
        ax.plot(
            mean_p[filled],
            mean_y[filled],
            marker="o",
            markersize=4,
            label=f"{name} (ECE {ece:.3f})",
            **_line_style(name, position),
        )
    ax.plot([0, 1], [0, 1], label="perfectly calibrated", **_REFERENCE_STYLE)
    ax.set_title(title)
    ax.set_ylabel("observed churn rate")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.legend(loc="upper left")
    ax.tick_params(labelbottom=False)
    first_name, _, first_p = arrays[0]
    hist_ax.hist(first_p, bins=np.linspace(0.0, 1.0, n_bins + 1).tolist(), color="C0", alpha=0.7)
    hist_ax.set_xlabel("predicted churn probability")
    hist_ax.set_ylabel(f"customers\n({first_name})")
    return fig


def plot_cumulative_gain(
    curves: Curves, *, title: str = "How many churners does each outreach size reach?"
) -> Figure:
    """Cumulative gain: share of churners reached vs share of customers contacted.

    Customers are contacted from the highest predicted churn probability down (ties in their
    given order). The random line is contacting at random; the perfect line contacts every
    churner first, for the churn rate of the first curve (``"model"`` when present). The legend
    shows each scorer's capture rate in the top 10%.

    Args:
        curves: scorer name to its ``(y, p)`` pair; ``"model"`` is drawn first and thickest.
        title: the figure title.

    Raises:
        ValueError: on invalid inputs, or a curve without any churned row.
    """
    where = "plot_cumulative_gain"
    fig, ax = _new_axes(title)
    arrays = _curve_arrays(curves, where=where)
    for position, (name, y, p) in enumerate(arrays):
        _require_churners(name, y, where=where, both=False)
        order = _risk_order(p)
        reached = np.concatenate([[0.0], np.cumsum(y[order]) / y.sum()])
        contacted = np.arange(y.size + 1) / y.size
        _, capture = _lift_capture(y, p, 0.1, order)
        ax.plot(
            contacted,
            reached,
            label=f"{name} ({capture:.0%} of churners in top 10%)",
            **_line_style(name, position),
        )
    ax.plot([0, 1], [0, 1], label="contact at random", **_REFERENCE_STYLE)
    rate = float(arrays[0][1].mean())
    ax.plot(
        [0, rate, 1],
        [0, 1, 1],
        label="perfect ranking",
        color="black",
        linestyle=":",
        linewidth=1.0,
    )
    ax.set_xlabel("share of customers contacted (highest predicted risk first)")
    ax.set_ylabel("share of all churners reached")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.legend(loc="lower right")
    return fig


def plot_feature_importance(
    importance: Mapping[str, float],
    *,
    top: int = 25,
    title: str = "Which features drive the churn score",
) -> Figure:
    """Horizontal bars of the ``top`` most important features, the largest on top.

    Args:
        importance: feature name to its importance (e.g. gain or mean |SHAP|); ties keep their
            given order.
        top: how many features to show.
        title: the figure title.

    Raises:
        ValueError: when ``importance`` is empty, a value is not finite, or ``top < 1``.
    """
    where = "plot_feature_importance"
    _check_count(top, where=where, name="top")
    if not importance:
        raise ValueError(f"{where}: expected at least one feature; got none")
    names = list(importance)
    values = _as_1d([importance[name] for name in names], where=where, name="importance")
    bad = [name for name, value in zip(names, values, strict=True) if not np.isfinite(value)]
    if bad:
        raise ValueError(f"{where}: importances must be finite; got non-finite for {bad}")
    order = np.argsort(-values, kind="stable")[:top]
    shown = len(order)
    fig, ax = _new_axes(title, figsize=(6.4, max(2.5, 0.28 * shown + 1.2)))
    positions = np.arange(shown)[::-1]  # the largest bar at the top
    ax.barh(positions, values[order], color="C0")
    ax.set_yticks(positions, [str(names[i]) for i in order])
    ax.set_xlabel("importance")
    return fig


def _value_ranks(column: pd.Series) -> FloatArray:
    """Each value's rank within its column scaled to [0, 1]; NaN for missing or non-numeric."""
    if not pd.api.types.is_numeric_dtype(column):  # booleans count as numeric (0 < 1)
        return np.full(len(column), np.nan)
    numeric = column.astype("float64")
    ranks = numeric.rank(method="average").to_numpy(dtype=np.float64, na_value=np.nan)
    present = int(numeric.notna().sum())
    if present <= 1:
        return np.where(np.isnan(ranks), np.nan, 0.5)
    return np.asarray((ranks - 1.0) / (present - 1.0), dtype=np.float64)


def plot_shap_summary(
    contributions: npt.ArrayLike,
    values: pd.DataFrame,
    *,
    top: int = 20,
    title: str = "What pushes each customer's churn score up or down",
) -> Figure:
    """A beeswarm-like SHAP summary drawn without the shap package.

    One row per feature, ordered by mean |contribution| (largest on top): each customer is a dot
    at their contribution, jittered vertically (fixed seed, so the picture is deterministic) and
    coloured by the rank of their feature value within the column, blue (low) to red (high);
    missing values and non-numeric columns are grey.

    Args:
        contributions: shape ``(n_rows, n_features)``, columns in the order of
            ``values.columns``, in churn log-odds.
        values: the feature values the contributions explain.
        top: how many features to show.
        title: the figure title.

    Raises:
        ValueError: on a shape mismatch, no rows, non-finite contributions or ``top < 1``.
    """
    where = "plot_shap_summary"
    _check_count(top, where=where, name="top")
    try:
        contrib = np.asarray(contributions, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{where}: contributions must be numeric; got {err}") from err
    if contrib.ndim != 2 or contrib.shape != values.shape:
        raise ValueError(
            f"{where}: contributions must have the shape of values (n_rows, n_features) = "
            f"{values.shape}; got {contrib.shape}"
        )
    if contrib.size == 0:
        raise ValueError(f"{where}: expected at least one row and one feature; got {contrib.shape}")
    if not np.all(np.isfinite(contrib)):
        raise ValueError(
            f"{where}: contributions must be finite; got {int((~np.isfinite(contrib)).sum())} "
            "non-finite values"
        )
    order = np.argsort(-np.abs(contrib).mean(axis=0), kind="stable")[:top]
    shown = len(order)
    fig, ax = _new_axes(title, figsize=(7.2, max(2.5, 0.4 * shown + 1.4)))
    cmap = mpl.colormaps["coolwarm"]
    norm = Normalize(vmin=0.0, vmax=1.0)
    rng = np.random.default_rng(_JITTER_SEED)
    n_rows = contrib.shape[0]
    for slot, j in enumerate(order):
        row = shown - 1 - slot  # the largest mean |contribution| at the top
        x = contrib[:, j]
        jitter = row + rng.uniform(-0.35, 0.35, size=n_rows)
        ranks = _value_ranks(values.iloc[:, j])
        grey = np.isnan(ranks)
        if grey.any():
            ax.scatter(x[grey], jitter[grey], s=6, color="lightgrey", linewidths=0, zorder=2)
        if not grey.all():
            ax.scatter(
                x[~grey],
                jitter[~grey],
                c=ranks[~grey],
                cmap=cmap,
                norm=norm,
                s=6,
                linewidths=0,
                zorder=3,
            )
    ax.axvline(0.0, color="grey", linewidth=0.8, zorder=1)
    ax.set_yticks(np.arange(shown)[::-1], [str(values.columns[j]) for j in order], fontsize="small")
    ax.set_ylim(-0.6, shown - 0.4)
    ax.set_xlabel("contribution to churn log-odds (SHAP)")
    colorbar = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, ticks=[0.0, 1.0])
    colorbar.ax.set_yticklabels(["low", "high"])
    colorbar.set_label("feature value (low to high)")
    return fig


def plot_score_distribution(
    y: npt.ArrayLike,
    p: npt.ArrayLike,
    *,
    bins: int = 20,
    title: str = "Predicted churn probability: churned vs stayed customers",
) -> Figure:
    """Histograms of predicted churn probability for churned and for stayed customers.

    Each group's bars sum to 1 (share of that group), so a small churned group stays visible
    next to a large stayed one. A group with no customer is left out.

    Args:
        y: 0/1 labels, 1 = churned.
        p: predicted churn probabilities in [0, 1].
        bins: the number of equal-width bins on [0, 1].
        title: the figure title.

    Raises:
        ValueError: on invalid labels or probabilities, or ``bins < 1``.
    """
    where = "plot_score_distribution"
    _check_count(bins, where=where, name="bins")
    y_arr, p_arr = _labelled(y, p, where=where)
    fig, ax = _new_axes(title)
    edges = np.linspace(0.0, 1.0, bins + 1).tolist()
    for label, name, color in ((0, "stayed", "C0"), (1, "churned", "C3")):
        group = p_arr[y_arr == label]
        if group.size == 0:
            continue
        ax.hist(
            group,
            bins=edges,
            weights=np.full(group.size, 1.0 / group.size),
            histtype="stepfilled",
            alpha=0.5,
            color=color,
            edgecolor=color,
            label=f"{name} ({group.size:,} customers)",
        )
    ax.set_xlim(0, 1)
    ax.set_xlabel("predicted churn probability")
    ax.set_ylabel("share of the group's customers")
    ax.legend(loc="upper center")
    return fig


def save_figure(fig: Figure, path: str | os.PathLike[str]) -> Path:
    """Write ``fig`` as a PNG (dpi 110) atomically, creating the parent folder.

    The image goes to a temporary ``.png`` sibling first, then replaces ``path`` in one rename,
    so a reader never sees a half-written file; on failure the temporary file is removed.

    Args:
        fig: the figure to write.
        path: the destination; it must end in ``.png``.

    Returns:
        The path written.

    Raises:
        ValueError: when ``path`` does not end in ``.png``.
    """
    final = Path(path)
    if final.suffix.lower() != ".png":
        raise ValueError(f"save_figure: path must end in .png; got {str(final)!r}")
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{final.stem}.", suffix=".png", dir=final.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        fig.savefig(tmp, dpi=_PNG_DPI, format="png")
        os.chmod(tmp, _PNG_MODE)  # mkstemp makes it 0600; a figure is a report to share
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    log.info("wrote figure %s", final)
    return final

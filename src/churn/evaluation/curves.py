"""Curves comparing scorers: ROC, precision-recall, reliability and cumulative gain."""

from __future__ import annotations

import logging

import numpy as np
import numpy.typing as npt
from matplotlib.figure import Figure
from sklearn.metrics import (
    average_precision_score,
    precision_recall_curve,
    roc_auc_score,
    roc_curve,
)

from churn.evaluation.figures import _REFERENCE_STYLE, _line_style, _new_axes
from churn.evaluation.metrics import (
    _MODEL,
    Curves,
    FloatArray,
    _bin_stats,
    _check_count,
    _ece,
    _labelled,
    _lift_capture,
    _risk_order,
)

log = logging.getLogger(__name__)


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

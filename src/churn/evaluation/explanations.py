"""Plots that explain one model: feature importance, SHAP summary, scores by tier."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import matplotlib as mpl
import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from churn.evaluation.figures import _new_axes
from churn.evaluation.metrics import FloatArray, _as_1d, _check_count, _labelled

log = logging.getLogger(__name__)

_JITTER_SEED = 0


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

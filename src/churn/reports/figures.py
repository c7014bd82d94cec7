"""The report's figures (KPI trends, cohorts, retention curves, value at risk) as inline images."""

from __future__ import annotations

import base64
import io
import logging
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

log = logging.getLogger(__name__)


def figure_uri(fig: Figure) -> str:
    """A figure as a ``data:image/png;base64`` URI."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def file_uri(path: Path) -> str:
    """A PNG file as a ``data:image/png;base64`` URI."""
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def plot_kpi_trends(kpis: pd.DataFrame) -> Figure:
    """Retention and churn rate per period, with active customers underneath."""
    fig = Figure(figsize=(9, 5))
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [2, 1]})
    labels = [str(p) for p in kpis.index]
    x = np.arange(len(labels))
    top.plot(x, 100 * kpis["retention_rate"], marker="o", label="customer retention rate")
    top.plot(x, 100 * kpis["churn_rate"], marker="o", label="churn rate")
    top.set_ylabel("% of customers at the start")
    top.legend(loc="best")
    top.grid(alpha=0.3)
    bottom.bar(x, kpis["active_customers"], color="#829ab1")
    bottom.set_ylabel("active customers")
    step = max(1, len(labels) // 12)
    bottom.set_xticks(x[::step], labels[::step], rotation=45, ha="right")
    fig.suptitle("Retention and churn by period")
    return fig


def _ages(cohorts: pd.DataFrame) -> pd.DataFrame:
    """The age columns of a cohort table (without its ``customers`` size column)."""
    return cohorts.drop(columns=["customers"], errors="ignore")


def plot_cohort_heatmap(cohorts: pd.DataFrame) -> Figure:
    """Share of each acquisition cohort buying in each period since acquisition."""
    cohorts = _ages(cohorts)
    values = 100 * cohorts.to_numpy(dtype=float)
    height = max(4.0, 0.28 * len(cohorts) + 1.5)
    fig = Figure(figsize=(11, height))
    ax = fig.subplots()
    image = ax.imshow(np.ma.masked_invalid(values), aspect="auto", cmap="YlGnBu", vmin=0, vmax=100)
    ax.set_xticks(range(cohorts.shape[1]), [str(c) for c in cohorts.columns])
    ax.set_yticks(range(len(cohorts)), [str(i) for i in cohorts.index])
    ax.set_xlabel("periods since acquisition")
    ax.set_ylabel("acquisition cohort")
    if cohorts.size <= 600:
        for (i, j), v in np.ndenumerate(values):
            if not np.isnan(v):
                ax.text(
                    j,
                    i,
                    f"{v:.0f}",
                    ha="center",
                    va="center",
                    fontsize=6,
                    color="white" if v > 60 else "#102a43",
                )
    fig.colorbar(image, ax=ax, label="% of the cohort buying")
    ax.set_title("Cohort retention: share of each cohort buying, by period since acquisition")
    return fig


def plot_retention_curves(cohorts: pd.DataFrame, curve: pd.Series, *, show: int = 6) -> Figure:
    """The average retention curve and a few individual cohorts."""
    cohorts = _ages(cohorts)
    fig = Figure(figsize=(9, 4.5))
    ax = fig.subplots()
    picks = cohorts.index[:: max(1, len(cohorts) // show)]
    for cohort in picks:
        row = cohorts.loc[cohort].dropna()
        ax.plot(
            row.index.astype(int),
            100 * row.to_numpy(dtype=float),
            alpha=0.45,
            lw=1,
            label=f"cohort {cohort}",
        )
    ax.plot(
        curve.index.astype(int),
        100 * curve.to_numpy(dtype=float),
        color="#102a43",
        lw=3,
        label="all cohorts (weighted)",
    )
    ax.set_xlabel("periods since acquisition")
    ax.set_ylabel("% of the cohort buying")
    ax.set_ylim(0, 105)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    ax.set_title("Retention curves")
    return fig


def plot_value_at_risk(by_tier: pd.DataFrame) -> Figure:
    """Customers and value at risk per risk tier."""
    fig = Figure(figsize=(9, 3.8))
    left, right = fig.subplots(1, 2)
    labels = [str(t) for t in by_tier.index]
    colors = ["#3ebd93", "#f0b429", "#f7814f", "#cf1124"][: len(labels)]
    left.bar(labels, by_tier["customers"], color=colors)
    left.set_title("customers by risk tier")
    right.bar(labels, by_tier["value_at_risk"], color=colors)
    right.set_title("value at risk by risk tier")
    for ax in (left, right):
        ax.grid(axis="y", alpha=0.3)
    return fig

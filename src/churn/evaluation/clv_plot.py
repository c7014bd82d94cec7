"""The CLV check's figure: predicted and actual purchases and spend per customer by bucket."""

from __future__ import annotations

import logging

import numpy as np
from matplotlib.figure import Figure

from churn.evaluation.clv_check import ClvCheck

log = logging.getLogger(__name__)


def plot_clv_check(check: ClvCheck, *, title: str | None = None) -> Figure:
    """Two panels, purchases and spend per customer by bucket: predicted beside actual bars."""
    table = check.table
    fig = Figure(figsize=(10, 4.4), layout="constrained")
    panels = fig.subplots(1, 2)
    positions = np.arange(len(table))
    ticks = [f"{b}\n({n:,})" for b, n in zip(table["bucket"], table["customers"], strict=True)]
    width = 0.38
    for ax, what in zip(panels, ("purchases", "spend"), strict=True):
        for shift, side, color in ((-1, "predicted", "C0"), (1, "actual", "C1")):
            ax.bar(
                positions + shift * width / 2,
                table[f"{side}_{what}"] / table["customers"],
                width,
                label=side,
                color=color,
            )
        error = check.totals[f"{what}_error"]
        ax.set_title(f"{what} per customer (total error {100 * error:+.1f}%)")
        ax.set_xticks(positions, ticks)
        ax.set_xlabel("repeat purchase days before the cutoff (customers)")
        ax.grid(axis="y", alpha=0.3)
        ax.legend()
    panels[0].set_ylabel(f"purchase days in the next {check.horizon_days} days")
    panels[1].set_ylabel(f"spend in the next {check.horizon_days} days")
    fig.suptitle(
        title
        or f"CLV check: predicted and actual, {check.cutoff.date()} + {check.horizon_days} days"
    )
    return fig

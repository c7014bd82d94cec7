"""Each backtest metric over the as-of dates, one line per scorer."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from churn import evaluation, training

log = logging.getLogger(__name__)

PLOTTED = {
    "roc_auc": "ROC-AUC",
    "pr_auc": "PR-AUC",
    "brier": "Brier score",
    "log_loss": "log loss",
    "ece": "expected calibration error",
    "calibration_in_the_large": "mean prediction minus churn rate",
    "capture_top10": "churners caught in the top 10%",
}


def plot_backtest(per_date: pd.DataFrame, directory: str | os.PathLike[str]) -> dict[str, Path]:
    """One PNG per metric in ``directory``: the metric at each as-of date for every scorer."""
    paths = {}
    for metric, title in PLOTTED.items():
        if metric not in per_date.columns:
            continue
        fig = Figure(figsize=(6.4, 4.4), layout="constrained")
        ax = fig.add_subplot()
        for position, (scorer, group) in enumerate(per_date.groupby("scorer", sort=False)):
            rows = group.sort_values("date")
            is_model = scorer == training.MODEL_SCORER
            ax.plot(
                pd.to_datetime(rows["date"]),
                rows[metric],
                marker="o",
                label=str(scorer),
                color=f"C{position}",
                linewidth=2.6 if is_model else 1.4,
                linestyle="--" if scorer == "oracle" else "-",
                zorder=4 if is_model else 3,
            )
        if metric == "calibration_in_the_large":
            ax.axhline(0.0, color="grey", linewidth=0.8)
        ax.set_title(f"Backtest: {title} by as-of date")
        ax.set_xlabel("as-of date")
        ax.set_ylabel(title)
        ax.legend(fontsize="small")
        fig.autofmt_xdate()
        paths[metric] = evaluation.save_figure(fig, Path(directory) / f"{metric}.png")
    return paths

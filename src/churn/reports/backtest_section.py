"""The report's backtest section: the recipe replayed at past dates against the baselines."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

import pandas as pd

from churn.reports.figures import file_uri
from churn.reports.markup import img, table

if TYPE_CHECKING:
    from churn.reports.html import ReportData

_BACKTEST_KINDS = {
    "as-of date": "text",
    "metric": "text",
    "model": "ratio",
    "best baseline": "text",
    "baseline": "ratio",
    "difference": "ratio",
    "95% interval": "text",
}


def backtest_section(data: ReportData) -> str:
    """The recipe replayed at past dates: the model against the best baseline, per date."""
    if not data.backtest:
        return ""
    rows = pd.DataFrame(data.backtest.get("differences") or [])
    if rows.empty:
        return ""
    frame = pd.DataFrame(
        {
            "as-of date": rows["date"],
            "metric": rows["metric"].str.replace("_", " "),
            "model": rows["model"],
            "best baseline": rows["best_baseline"],
            "baseline": rows["baseline"],
            "difference": rows["difference"],
            "95% interval": [
                f"{lo:+.4f} .. {hi:+.4f}" for lo, hi in zip(rows["low"], rows["high"], strict=True)
            ],
        }
    )
    worse = int(rows["significantly_worse"].sum())
    verdict = (
        f"<p class='flag'>{worse} of {len(rows)} comparisons significantly worse than the best "
        "baseline.</p>"
        if worse
        else "<p class='ok'>Never significantly worse than the best baseline.</p>"
    )
    images = "".join(
        f"<div>{img(file_uri(path), name)}</div>" for name, path in data.backtest_plots.items()
    )
    dates = ", ".join((data.backtest.get("plan") or {}).get("dates", []))
    return (
        "<section><h2>Backtest: the recipe replayed at past dates</h2>"
        f"<p>At each as-of date ({html.escape(dates)}) the recipe was trained on what was known "
        "before it and scored the customers at that date; the label is what they did next. "
        "Difference: model minus the best baseline of that date (ROC-AUC: higher is better; "
        "Brier and calibration error: lower is better), with a paired bootstrap interval.</p>"
        + verdict
        + table(frame, _BACKTEST_KINDS)
        + f'<div class="grid">{images}</div></section>'
    )

"""The backtest's folder: per-date, pooled and difference tables (CSV and JSON) and plots."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from churn.backtest.plan import BacktestPlan
from churn.backtest.plots import plot_backtest
from churn.backtest.replay import Replay
from churn.backtest.summary import BacktestSummary
from churn.files import atomic_directory, canonical_json
from churn.spreadsheet import for_people

log = logging.getLogger(__name__)

RESULTS_FILE = "backtest.json"
TABLES = ("per_date", "pooled", "differences", "staleness")


def write_backtest(
    folder: str | os.PathLike[str],
    plan: BacktestPlan,
    replayed: Replay,
    summary: BacktestSummary,
    *,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write the backtest folder atomically (an existing one is replaced as a whole).

    Layout: ``per_date.csv``, ``pooled.csv``, ``differences.csv``, ``backtest.json`` (the plan,
    each date's recipe, every table and ``extra``) and ``plots/<metric>.png``. Nothing in it
    names a customer: the tables hold aggregate metrics only.
    """
    with atomic_directory(folder, private=False) as tmp:
        for name in TABLES:
            frame: pd.DataFrame = getattr(summary, name)
            # aggregate metrics only, but every CSV of the pipeline gets safe text cells
            for_people(frame).to_csv(tmp / f"{name}.csv", index=False, float_format="%.6g")
        payload = {
            "plan": plan.to_dict(),
            "scorers": {"baselines": replayed.baselines, "references": replayed.references},
            "recipes": replayed.recipes,
            **summary.to_dict(),
            **(extra or {}),
        }
        (tmp / RESULTS_FILE).write_text(canonical_json(payload), encoding="utf-8")
        plot_backtest(summary.per_date, tmp / "plots")
    log.info("backtest results written to %s", folder)
    return Path(folder)

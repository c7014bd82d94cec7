"""A backtest in MLflow: one parent run, a child run per as-of date (docs/backtest.md)."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from churn.secrets import redact, redact_values
from churn.tracking.config import TrackingConfig, _configure, _failure, _tracking_errors

log = logging.getLogger(__name__)

_SKIPPED = {"date", "scorer", "n_rows"}


def log_backtest(
    config: TrackingConfig,
    *,
    params: Mapping[str, Any],
    config_yaml: str,
    per_date: pd.DataFrame,
    pooled: pd.DataFrame,
    differences: pd.DataFrame,
    artifacts: Path,
) -> str:
    """Log a backtest to the experiment ``<tracking.experiment>-backtest``; returns the parent id.

    The parent run holds the config, the pooled metrics (``pooled/<scorer>/<metric>``), the
    pooled differences (``pooled/difference/<metric>`` with ``_low`` and ``_high``) and the
    output folder; each child run (``backtest-<date>``) holds that date's metrics and
    differences. Nothing is registered: a backtest never changes the model registry.

    Raises:
        TrackingError: the tracking store is unreachable or refused a write.
    """
    import mlflow

    try:
        _configure(config)
        experiment = mlflow.set_experiment(f"{config.experiment}-backtest")
        with mlflow.start_run(run_name="backtest", experiment_id=experiment.experiment_id) as run:
            mlflow.log_params({k: str(redact_values(v))[:500] for k, v in params.items()})
            mlflow.log_text(redact(config_yaml), "config.yaml")
            mlflow.log_metrics(_metrics(pooled, differences, "pooled"))
            for date, rows in per_date.groupby("date", sort=False):
                with mlflow.start_run(
                    run_name=f"backtest-{date}",
                    experiment_id=experiment.experiment_id,
                    nested=True,
                ):
                    mlflow.log_param("as_of", str(date))
                    mlflow.log_metrics(_metrics(rows, differences, str(date)))
            mlflow.log_artifacts(str(artifacts), artifact_path="backtest")
            return str(run.info.run_id)
    except _tracking_errors() as err:
        raise _failure(config, err) from err


def _metrics(measured: pd.DataFrame, differences: pd.DataFrame, date: str) -> dict[str, float]:
    """``<scorer>/<metric>`` and ``difference/<metric>[_low|_high]`` of one date (finite only)."""
    prefix = "pooled/" if date == "pooled" else ""
    out: dict[str, float] = {}
    for row in measured.to_dict(orient="records"):
        for name, value in row.items():
            if name not in _SKIPPED:
                out[f"{prefix}{row['scorer']}/{name}"] = float(value)
    for row in differences[differences["date"] == date].to_dict(orient="records"):
        metric = row["metric"]
        out[f"{prefix}difference/{metric}"] = float(row["difference"])
        out[f"{prefix}difference/{metric}_low"] = float(row["low"])
        out[f"{prefix}difference/{metric}_high"] = float(row["high"])
    return {k: v for k, v in out.items() if math.isfinite(v)}

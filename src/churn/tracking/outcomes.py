"""A campaign measurement in MLflow: one run per measured export (docs/outcomes.md)."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from churn.secrets import redact, redact_values
from churn.tracking.config import TrackingConfig, _configure, _failure, _tracking_errors

log = logging.getLogger(__name__)


def log_outcomes(
    config: TrackingConfig,
    *,
    as_of: str,
    params: Mapping[str, Any],
    config_yaml: str,
    metrics: Mapping[str, float],
    artifacts: Path,
) -> str:
    """Log one export's outcomes to the experiment ``<tracking.experiment>-outcomes``.

    The run (``outcomes-<as_of>``) holds the config, the headline numbers (``<offer>/<figure>``,
    ``performance/<metric>``, ``counts/<count>``; finite values only) and the result folder as
    artifacts. Customer rows are never logged. Returns the run id.

    Raises:
        TrackingError: the tracking store is unreachable or refused a write.
    """
    import mlflow

    try:
        _configure(config)
        experiment = mlflow.set_experiment(f"{config.experiment}-outcomes")
        with mlflow.start_run(
            run_name=f"outcomes-{as_of}", experiment_id=experiment.experiment_id
        ) as run:
            mlflow.log_params(
                {"as_of": as_of, **{k: str(redact_values(v))[:500] for k, v in params.items()}}
            )
            mlflow.log_text(redact(config_yaml), "config.yaml")
            mlflow.log_metrics({k: float(v) for k, v in metrics.items() if math.isfinite(v)})
            mlflow.log_artifacts(str(artifacts), artifact_path="outcomes")
            return str(run.info.run_id)
    except _tracking_errors() as err:
        raise _failure(config, err) from err

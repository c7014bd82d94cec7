"""Runs that log a result folder: a campaign measurement per export, an uplift model version."""

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
    return log_folder_run(
        config,
        experiment="outcomes",
        run_name=f"outcomes-{as_of}",
        params={"as_of": as_of, **params},
        config_yaml=config_yaml,
        metrics=metrics,
        artifacts=artifacts,
    )


def log_uplift(
    config: TrackingConfig,
    *,
    version: int,
    params: Mapping[str, Any],
    config_yaml: str,
    metrics: Mapping[str, float],
    artifacts: Path,
) -> str:
    """Log one uplift model version to the experiment ``<tracking.experiment>-uplift``.

    The run (``uplift-v<version>``) holds the config, the out-of-time evaluation
    (``evaluation/<offer>/<targeting>_<metric>``, the pooled Qini and the gate) and the stored
    version's folder (boosters, ``uplift.json``, manifest) as artifacts. Returns the run id.

    Raises:
        TrackingError: the tracking store is unreachable or refused a write.
    """
    return log_folder_run(
        config,
        experiment="uplift",
        run_name=f"uplift-v{version}",
        params={"version": version, **params},
        config_yaml=config_yaml,
        metrics=metrics,
        artifacts=artifacts,
    )


def log_folder_run(
    config: TrackingConfig,
    *,
    experiment: str,
    run_name: str,
    params: Mapping[str, Any],
    config_yaml: str,
    metrics: Mapping[str, float],
    artifacts: Path,
) -> str:
    """One run in ``<tracking.experiment>-<experiment>``: params, config, metrics, a folder.

    Params are redacted and cut to 500 characters; only finite metrics are logged; the folder
    goes under the artifact path ``experiment``.
    """
    import mlflow

    try:
        _configure(config)
        found = mlflow.set_experiment(f"{config.experiment}-{experiment}")
        with mlflow.start_run(run_name=run_name, experiment_id=found.experiment_id) as run:
            mlflow.log_params({k: str(redact_values(v))[:500] for k, v in params.items()})
            mlflow.log_text(redact(config_yaml), "config.yaml")
            mlflow.log_metrics({k: float(v) for k, v in metrics.items() if math.isfinite(v)})
            mlflow.log_artifacts(str(artifacts), artifact_path=experiment)
            return str(run.info.run_id)
    except _tracking_errors() as err:
        raise _failure(config, err) from err

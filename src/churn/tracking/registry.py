"""The registered model's aliases: read the champion, move it, fetch a version's bundle."""

from __future__ import annotations

import logging
from pathlib import Path

from churn.errors import TrackingError
from churn.model import OUT_OF_TIME
from churn.promotion import Champion
from churn.secrets import redact
from churn.tracking.config import TrackingConfig, _configure, _failure, _tracking_errors
from churn.tracking.runs import CHAMPION, HORIZON_TAG

log = logging.getLogger(__name__)


def current_champion(config: TrackingConfig) -> Champion | None:
    """The registered model's ``champion`` version with its run's test metrics, if any."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient(tracking_uri=config.uri, registry_uri=config.uri)
    try:
        version = client.get_model_version_by_alias(config.registered_model, CHAMPION)
    except MlflowException as err:
        if err.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"):
            return None
        raise
    metrics: dict[str, float] = {}
    horizon: int | None = None
    mode = OUT_OF_TIME
    if version.run_id:
        run = client.get_run(version.run_id)
        metrics = dict(run.data.metrics)
        param = run.data.params.get("label.horizon_days")
        horizon = int(param) if param is not None else None
        mode = run.data.params.get("evaluation_mode", OUT_OF_TIME)
    tag = (version.tags or {}).get(HORIZON_TAG)
    if tag is not None:
        horizon = int(tag)
    return Champion(str(version.version), metrics, horizon, mode)


def fetch_champion(config: TrackingConfig) -> Champion | None:
    """:func:`current_champion`, with the store's failures as :class:`TrackingError`.

    Raises:
        TrackingError: the tracking store is unreachable or refused the read.
    """
    try:
        _configure(config)
        return current_champion(config)
    except _tracking_errors() as err:
        raise _failure(config, err) from err


def set_champion(config: TrackingConfig, version: str | None) -> None:
    """Point the registered model's ``champion`` alias at ``version`` (None: remove it).

    Used to mirror the local model store, the source of truth for what is served.

    Raises:
        TrackingError: the tracking store is unreachable or refused the write.
    """
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    try:
        _configure(config)
        client = MlflowClient(tracking_uri=config.uri, registry_uri=config.uri)
        name = config.registered_model
        try:
            current = str(client.get_model_version_by_alias(name, CHAMPION).version)
        except MlflowException:
            current = None
        if current == version:
            return
        if version is None:
            client.delete_registered_model_alias(name, CHAMPION)
        else:
            client.set_registered_model_alias(name, CHAMPION, version)
        log.info("registry %s: champion alias %s -> %s", name, current, version)
    except _tracking_errors() as err:
        raise _failure(config, err) from err


def download_bundle(config: TrackingConfig, alias: str, destination: Path) -> Path:
    """Download the bundle folder logged with the registered model's ``alias`` version.

    Raises:
        TrackingError: the alias does not exist or the store is unreachable.
    """
    import mlflow
    from mlflow import MlflowClient

    try:
        _configure(config)
        client = MlflowClient(tracking_uri=config.uri, registry_uri=config.uri)
        version = client.get_model_version_by_alias(config.registered_model, alias)
        destination.mkdir(parents=True, exist_ok=True)
        local = mlflow.artifacts.download_artifacts(
            run_id=version.run_id, artifact_path="bundle", dst_path=str(destination)
        )
    except _tracking_errors() as err:
        reason = " ".join(str(err).split())[:500]
        raise TrackingError(
            f"registry at {redact(config.uri)}: cannot fetch {config.registered_model}@{alias}: "
            f"{redact(reason)}"
        ) from err
    return Path(local)

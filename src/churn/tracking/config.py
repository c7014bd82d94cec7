"""Where and how to track, and the MLflow settings every tracking call shares."""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from churn.config import Config
from churn.errors import ConfigError, TrackingError
from churn.secrets import redact

log = logging.getLogger(__name__)

ON_ERROR = ("fail", "warn")


@dataclass(frozen=True)
class TrackingConfig(Config):
    """Where and how to track (``conf/tracking``)."""

    section: ClassVar[str] = "tracking"

    enabled: bool = True
    uri: str = "sqlite:///mlflow.db"
    experiment: str = "churn"
    registered_model: str = "churn"
    on_error: str = "fail"
    timeout_s: float = 10.0
    max_retries: int = 0
    log_model: bool = True

    def validate(self) -> None:
        """Raise ConfigError for an unknown failure mode, an empty URI or bad limits."""
        config = self
        if config.on_error not in ON_ERROR:
            raise ConfigError(
                f"tracking.on_error: expected one of {list(ON_ERROR)}; got {config.on_error!r}"
            )
        if config.enabled and not config.uri:
            raise ConfigError("tracking.uri: expected a tracking URI; got an empty value")
        if config.timeout_s <= 0 or config.max_retries < 0:
            raise ConfigError(
                "tracking: expected timeout_s > 0 and max_retries >= 0; got "
                f"{config.timeout_s}, {config.max_retries}"
            )


def flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings as ``a.b.c`` keys; other values as they are."""
    flat: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def _configure(config: TrackingConfig) -> None:
    """Point MLflow at the configured store and bound its HTTP retries and timeouts.

    Telemetry (it cannot reach its host from closed networks) and MLflow's INFO chatter are off
    unless the environment says otherwise.
    """
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    import mlflow

    os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = str(config.max_retries)
    os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] = str(max(1, math.ceil(config.timeout_s)))
    mlflow.set_tracking_uri(config.uri)
    mlflow.set_registry_uri(config.uri)


def _tracking_errors() -> tuple[type[BaseException], ...]:
    import requests
    from mlflow.exceptions import MlflowException

    return (MlflowException, OSError, requests.RequestException)


def _failure(config: TrackingConfig, err: BaseException) -> TrackingError:
    reason = redact(" ".join(str(err).split())[:500])
    return TrackingError(f"tracking at {redact(config.uri)} failed: {reason}")

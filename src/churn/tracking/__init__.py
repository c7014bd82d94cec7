"""MLflow tracking and registry (docs/architecture.md); the only module that imports mlflow.

One run per training: the flattened config as params, the config YAML, the data fingerprint,
metrics, plots, the bundle folder and the deployed model (a pyfunc defined in code that loads
the bundle, no pickle, with signature and an input example holding no customer id), registered
with the alias
``challenger`` and moved to ``champion`` when the caller's :class:`~churn.promotion.Decision`
says so. The caller decides once, from the run's metrics and the record
:func:`fetch_champion` returns; tracking never calls back into the gate.

Every MLflow setting lives here: telemetry off, its log level, HTTP retries and timeouts, the
store's URI. mlflow is imported inside the functions that use it, so importing this module has
no side effects.

Everything is logged after the bundle is written, so an unreachable tracking server loses
nothing: :func:`log_training_run` raises :class:`~churn.errors.TrackingError` and the caller
decides (``tracking.on_error``) whether the run fails or warns.
"""

from churn.tracking.backtest import log_backtest
from churn.tracking.config import ON_ERROR, TrackingConfig, flatten
from churn.tracking.outcomes import log_outcomes, log_uplift
from churn.tracking.registry import current_champion, download_bundle, fetch_champion, set_champion
from churn.tracking.runs import (
    CHALLENGER,
    CHAMPION,
    HORIZON_TAG,
    MODEL_ARTIFACT,
    RunRecord,
    TrainingRun,
    log_report,
    log_scoring_run,
    log_training_run,
    register_stored,
)

__all__ = [
    "CHALLENGER",
    "CHAMPION",
    "HORIZON_TAG",
    "MODEL_ARTIFACT",
    "ON_ERROR",
    "RunRecord",
    "TrackingConfig",
    "TrainingRun",
    "current_champion",
    "download_bundle",
    "fetch_champion",
    "flatten",
    "log_backtest",
    "log_outcomes",
    "log_report",
    "log_scoring_run",
    "log_training_run",
    "log_uplift",
    "register_stored",
    "set_champion",
]

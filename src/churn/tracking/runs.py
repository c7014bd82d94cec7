"""Training, scoring and report runs logged to MLflow, and the model registered with them."""

from __future__ import annotations

import dataclasses
import importlib.metadata
import logging
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from churn.model import ChurnModel
from churn.promotion import Decision
from churn.secrets import redact, redact_values
from churn.tracking.config import TrackingConfig, _configure, _failure, _tracking_errors

log = logging.getLogger(__name__)

MODEL_ARTIFACT = "model"
BUNDLE_ARTIFACT = "bundle"  # the name churn.tracking.pyfunc reads
HORIZON_TAG = "horizon_days"
CHAMPION, CHALLENGER = "champion", "challenger"
_REQUIREMENTS = ("lightgbm", "pandas", "numpy", "scipy", "pyarrow")
_CODE = Path(__file__).resolve().parent / "pyfunc.py"
_PACKAGE = Path(__file__).resolve().parents[1]
_MAX_PARAM_LENGTH = 6000


@dataclass(frozen=True)
class TrainingRun:
    """What one training run logs."""

    run_name: str
    params: Mapping[str, Any]
    config_yaml: str
    fingerprint: Mapping[str, Any]
    metrics: Mapping[str, float]
    model: ChurnModel
    bundle_dir: Path
    input_example: pd.DataFrame
    horizon_days: int
    artifacts: Mapping[str, Path] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    slices: Sequence[Mapping[str, Any]] = ()


@dataclass(frozen=True)
class RunRecord:
    """Where the run went and what the registry now says."""

    run_id: str
    experiment_id: str
    tracking_uri: str
    model_uri: str | None = None
    registered_model: str | None = None
    version: str | None = None
    aliases: tuple[str, ...] = ()
    decision: Decision | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, for the bundle's manifest."""
        return {
            "run_id": self.run_id,
            "experiment_id": self.experiment_id,
            "tracking_uri": redact(self.tracking_uri),
            "model_uri": self.model_uri,
            "registered_model": self.registered_model,
            "version": self.version,
            "aliases": list(self.aliases),
            "promotion": None if self.decision is None else self.decision.to_dict(),
        }


def log_training_run(config: TrackingConfig, run: TrainingRun, *, decision: Decision) -> RunRecord:
    """Log one training run and register its model; ``decision`` gates the champion alias.

    Raises:
        TrackingError: the tracking store is unreachable or refused a write.
    """
    try:
        return _log(config, run, decision)
    except _tracking_errors() as err:
        raise _failure(config, err) from err


def _log(config: TrackingConfig, run: TrainingRun, decision: Decision) -> RunRecord:
    import mlflow
    from mlflow import MlflowClient

    _configure(config)
    client = MlflowClient(tracking_uri=config.uri, registry_uri=config.uri)
    experiment = mlflow.set_experiment(config.experiment)
    with mlflow.start_run(run_name=run.run_name, experiment_id=experiment.experiment_id) as active:
        run_id = active.info.run_id
        mlflow.log_params({k: _param(redact_values(v)) for k, v in run.params.items()})
        mlflow.set_tags({**run.tags, HORIZON_TAG: str(run.horizon_days)})
        mlflow.log_text(redact(run.config_yaml), "config.yaml")
        mlflow.log_dict(dict(run.fingerprint), "data_fingerprint.json")
        if run.slices:
            mlflow.log_dict({"slices": list(run.slices)}, "slices.json")
        finite = {k: float(v) for k, v in run.metrics.items() if math.isfinite(float(v))}
        skipped = sorted(set(run.metrics) - set(finite))
        if skipped:
            log.warning(
                "tracking: %d metrics are not finite and were not logged: %s",
                len(skipped),
                skipped[:5],
            )
        mlflow.log_metrics(finite)
        for name, path in run.artifacts.items():
            if Path(path).is_dir():
                mlflow.log_artifacts(str(path), artifact_path=name)
            else:
                mlflow.log_artifact(str(path), artifact_path=name)
        record = RunRecord(run_id, experiment.experiment_id, config.uri)
        if not config.log_model:
            return record
        example = run.input_example
        signature = _signature(run.model, example)
        info = log_bundle_model(run.bundle_dir, signature, example, config.registered_model)
        version = str(info.registered_model_version)
        name = config.registered_model
        client.set_model_version_tag(name, version, HORIZON_TAG, str(run.horizon_days))
        client.set_registered_model_alias(name, CHALLENGER, version)
        aliases = [CHALLENGER]
        if decision.promote:
            client.set_registered_model_alias(name, CHAMPION, version)
            aliases.append(CHAMPION)
        mlflow.log_dict(decision.to_dict(), "promotion.json")
        mlflow.set_tag("promoted", str(decision.promote).lower())
        log.info(
            "registered %s version %s as %s (%s)",
            name,
            version,
            " and ".join(aliases),
            "; ".join(decision.reasons),
        )
        return dataclasses.replace(
            record,
            model_uri=info.model_uri,
            registered_model=name,
            version=version,
            aliases=tuple(aliases),
            decision=decision,
        )


def register_stored(
    config: TrackingConfig,
    *,
    bundle_dir: Path,
    model: ChurnModel,
    input_example: pd.DataFrame,
    horizon_days: int,
    store_version: int,
) -> RunRecord:
    """Register a stored version that was never registered (its training's tracking failed)
    and make it the registry's ``champion``, so the aliases mirror the model store again.

    Raises:
        TrackingError: the tracking store is unreachable or refused a write.
    """
    import mlflow
    from mlflow import MlflowClient

    try:
        _configure(config)
        client = MlflowClient(tracking_uri=config.uri, registry_uri=config.uri)
        experiment = mlflow.set_experiment(config.experiment)
        name = f"register-store-v{store_version}"
        with mlflow.start_run(run_name=name, experiment_id=experiment.experiment_id) as active:
            mlflow.set_tags({"store_version": str(store_version), HORIZON_TAG: str(horizon_days)})
            mlflow.log_artifacts(str(bundle_dir), artifact_path=BUNDLE_ARTIFACT)
            info = log_bundle_model(
                bundle_dir, _signature(model, input_example), input_example, config.registered_model
            )
            version = str(info.registered_model_version)
            registered = config.registered_model
            client.set_model_version_tag(registered, version, HORIZON_TAG, str(horizon_days))
            client.set_registered_model_alias(registered, CHAMPION, version)
            log.info(
                "registered the store's champion (version %d) as %s version %s, now champion",
                store_version,
                registered,
                version,
            )
            return RunRecord(
                active.info.run_id,
                experiment.experiment_id,
                config.uri,
                model_uri=info.model_uri,
                registered_model=registered,
                version=version,
                aliases=(CHAMPION,),
            )
    except _tracking_errors() as err:
        raise _failure(config, err) from err


def _signature(model: ChurnModel, example: pd.DataFrame) -> Any:
    from mlflow.models import infer_signature

    with warnings.catch_warnings():
        # the hint that integer columns cannot hold missing values: counts never miss
        warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer")
        return infer_signature(example, model.predict_proba(example))


def log_bundle_model(bundle_dir: Path, signature: Any, example: pd.DataFrame, name: str) -> Any:
    """Log the bundle as a pyfunc defined in code (``churn.tracking.pyfunc``) and register it.

    The model's artifacts are the bundle's files and a copy of the ``churn`` package (so the
    registry model loads where churn is not installed); nothing is pickled.
    """
    import mlflow

    return mlflow.pyfunc.log_model(
        name=MODEL_ARTIFACT,
        python_model=str(_CODE),
        artifacts={BUNDLE_ARTIFACT: str(bundle_dir)},
        code_paths=[str(_PACKAGE)],
        signature=signature,
        input_example=example,
        pip_requirements=_requirements(),
        registered_model_name=name,
    )


def _param(value: Any) -> str:
    text = "null" if value is None else str(value)
    return text if len(text) <= _MAX_PARAM_LENGTH else text[: _MAX_PARAM_LENGTH - 3] + "..."


def _requirements() -> list[str]:
    pins = []
    for name in _REQUIREMENTS:
        try:
            pins.append(f"{name}=={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    return pins


def log_scoring_run(config: TrackingConfig, summary: Mapping[str, Any]) -> str:
    """Log a scoring run's counts, budget and drift (never customer rows); returns the run id.

    The run goes to the experiment ``<tracking.experiment>-scoring``.

    Raises:
        TrackingError: the tracking store is unreachable or refused a write.
    """
    import mlflow

    counts = summary.get("counts", {})
    metrics: dict[str, float] = {"customers": float(counts.get("customers", 0))}
    for group in ("by_status", "by_tier", "by_offer"):
        for key, value in (counts.get(group) or {}).items():
            metrics[f"{group}/{key}"] = float(value)
    metrics["at_risk"] = float(counts.get("at_risk", 0))
    metrics["budget_used"] = float(counts.get("budget_used", 0.0))
    for row in summary.get("drift_by_column", []):
        metrics[f"psi/{row['column']}"] = float(row["psi"])
    try:
        _configure(config)
        experiment = mlflow.set_experiment(f"{config.experiment}-scoring")
        with mlflow.start_run(
            run_name=f"score-{summary.get('as_of')}", experiment_id=experiment.experiment_id
        ) as active:
            mlflow.log_params(
                {
                    "as_of": summary.get("as_of"),
                    "model_version": summary.get("model", {}).get("version"),
                    "model_sha256": summary.get("model", {}).get("sha256"),
                }
            )
            mlflow.log_metrics({k: v for k, v in metrics.items() if math.isfinite(v)})
            mlflow.log_dict(dict(summary), "scoring_manifest.json")
            return str(active.info.run_id)
    except _tracking_errors() as err:
        raise _failure(config, err) from err


def log_report(config: TrackingConfig, path: Path, *, as_of: str | None) -> str:
    """Log a report file to the experiment ``<tracking.experiment>-reports``; returns the run id.

    Raises:
        TrackingError: the tracking store is unreachable or refused a write.
    """
    import mlflow

    try:
        _configure(config)
        experiment = mlflow.set_experiment(f"{config.experiment}-reports")
        with mlflow.start_run(
            run_name=f"report-{as_of or 'no-scoring'}", experiment_id=experiment.experiment_id
        ) as active:
            if as_of:
                mlflow.log_param("as_of", as_of)
            mlflow.log_artifact(str(path))
            return str(active.info.run_id)
    except _tracking_errors() as err:
        raise _failure(config, err) from err

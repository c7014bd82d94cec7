"""The last stage of training: describe the model, store it, decide promotion, track.

:func:`describe` turns a :class:`churn.training.TrainingOutcome` into the bundle's typed
:class:`churn.bundle.Manifest`; :func:`publish` decides promotion once, from the run's metrics,
the baselines and the local store's champion, stores the model as a new version (champion when
it passed), and only then logs the run, so an unreachable tracking server loses nothing and
blocks no promotion. In-time metrics never pass the gate (:mod:`churn.promotion`); the run's
params and tags carry ``evaluation_mode``, ``calibration_mode`` and the selected candidate, its
metrics each candidate's validation scores (``selection/<candidate>/brier``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from churn import bundle, promotion, tracking
from churn.errors import TrackingError
from churn.model import OUT_OF_TIME
from churn.timing import Stopwatch
from churn.training import TrainingOutcome

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Published:
    """The stored version, the promotion decision and the tracking record (None when off)."""

    bundle: bundle.Bundle
    decision: promotion.Decision
    record: tracking.RunRecord | None
    version: int


def describe(
    outcome: TrainingOutcome,
    *,
    name: str,
    settings: bundle.TrainingSettings,
    end: pd.Timestamp,
    fingerprint: Mapping[str, Any],
    vs_baselines: promotion.Decision,
) -> bundle.Manifest:
    """The deployed model's manifest (its files and digests are filled in by the save).

    ``model.params`` holds LightGBM's parameters, or a deployed baseline's own.
    """
    deployed = outcome.deployment.model
    params = dict(outcome.params) if deployed.simple is None else deployed.simple.to_dict()
    return bundle.Manifest(
        name=name,
        created_at=pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
        data_end=str(pd.Timestamp(end).date()),
        model=bundle.ModelSpec(kind=deployed.kind, files={}, params=params),
        features=tuple(bundle.FeatureSpec(n, d) for n, d in outcome.feature_dtypes.items()),
        training=settings,
        metrics={k: v for k, v in outcome.metrics.items() if k.startswith("test/")},
        evaluation={
            **outcome.evaluation.summary(),
            "slices": outcome.slices,
            **({} if outcome.clv_check is None else {"clv_check": outcome.clv_check.to_dict()}),
        },
        deployment=outcome.deployment.summary(),
        promotion=vs_baselines.to_dict(),
        data_fingerprint=dict(fingerprint),
        reference_distributions=outcome.references,
        selection=outcome.evaluation.selection,
    )


def publish(
    outcome: TrainingOutcome,
    settings: bundle.TrainingSettings,
    *,
    end: pd.Timestamp,
    fingerprint: Mapping[str, Any],
    model_dir: str | Path,
    plots: Mapping[str, Path],
    policy: promotion.PromotionConfig,
    tracking_config: tracking.TrackingConfig,
    params: Mapping[str, Any],
    config_yaml: str,
    artifacts: Mapping[str, Path],
    keep_versions: int | None = None,
    stopwatch: Stopwatch | None = None,
) -> Published:
    """Describe the model, store it as a new version, decide promotion, then log the run.

    The gate runs once, against the baselines and the local store's champion; a promoted
    version becomes the store's champion before tracking starts, so a tracking failure never
    blocks it. Tracking then mirrors the store: the registry's ``champion`` alias moves to this
    run's version when promoted, and back to the store champion's registered version otherwise.

    Args:
        outcome: the training run's result.
        settings: the label and feature settings and the calibration method it was trained with.
        end: the data end.
        fingerprint: the input's fingerprint.
        model_dir: the model store (:class:`churn.bundle.ModelStore`); its name is the model's.
        plots: plot name -> image file, copied into the bundle's ``plots/``.
        policy: the promotion rules.
        tracking_config: where and whether to track.
        params: the run's flattened config, logged as MLflow params.
        config_yaml: the run's resolved config, logged as an artifact.
        artifacts: extra folders to log (name -> path), e.g. the plots.
        keep_versions: prune the store to this many versions (the champion is always kept).
        stopwatch: times the ``bundle`` and ``tracking`` stages when given.

    Raises:
        TrackingError: tracking failed and ``tracking.on_error`` is ``fail`` (the version is
            stored, and promoted when it passed the gate, all the same).
    """
    store = bundle.ModelStore(model_dir)
    mode = outcome.evaluation.roles.evaluation_mode
    vs_baselines = promotion.against_baselines(
        outcome.metrics,
        baselines=list(outcome.evaluation.baselines),
        policy=policy,
        evaluation_mode=mode,
    )
    manifest = describe(
        outcome,
        name=Path(model_dir).name,
        settings=settings,
        end=end,
        fingerprint=fingerprint,
        vs_baselines=vs_baselines,
    )
    champion = _local_champion(store)
    decision = promotion.against_champion(
        vs_baselines,
        outcome.metrics,
        horizon_days=manifest.horizon_days,
        policy=policy,
        champion=champion,
        evaluation_mode=mode,
    )
    watch = stopwatch if stopwatch is not None else Stopwatch()
    with watch.stage("bundle"):
        number, saved = store.add(
            outcome.deployment.model,
            manifest.with_updates(promotion=decision.to_dict()),
            extra_files={f"plots/{path.name}": path for path in plots.values()},
            keep=keep_versions,
        )
        if decision.promote:
            store.promote(number, reason="passed the gate: " + "; ".join(decision.reasons))
        else:
            served = store.champion
            log.warning(
                "version %d is not promoted; scoring keeps serving %s",
                number,
                f"version {served}" if served else "nothing until one is promoted",
            )
    if not tracking_config.enabled:
        return Published(saved, decision, None, number)
    run = tracking.TrainingRun(
        run_name=f"train-{saved.manifest.data_end}",
        params={**params, **_modes(outcome)},
        config_yaml=config_yaml,
        fingerprint=manifest.data_fingerprint,
        metrics={
            **outcome.metrics,
            **{
                f"deploy/{k}": float(v)
                for k, v in outcome.deployment.summary().items()
                if isinstance(v, int | float) and not isinstance(v, bool)
            },
            **selection_metrics(outcome.evaluation.selection),
        },
        model=outcome.deployment.model,
        bundle_dir=saved.path,
        input_example=outcome.input_example,
        horizon_days=manifest.horizon_days,
        artifacts={**artifacts, "bundle": saved.path},
        slices=outcome.slices,
        tags={
            "data_end": saved.manifest.data_end,
            "calibration": manifest.training.calibration,
            "store_version": str(number),
            **_modes(outcome),
        },
    )
    with watch.stage("tracking"):
        return _track(store, number, saved, decision, run, tracking_config)


def _modes(outcome: TrainingOutcome) -> dict[str, str]:
    """How the evaluation was measured, how the deployed model was calibrated, what it is."""
    selection = outcome.evaluation.selection
    return {
        "evaluation_mode": outcome.evaluation.roles.evaluation_mode,
        "calibration_mode": outcome.deployment.roles.calibration_mode,
        "selection/chosen": outcome.deployment.selection.chosen,
        "selection/rule": selection.rule,
        "selection/validation": selection.validation,
    }


def selection_metrics(selection: bundle.Selection) -> dict[str, float]:
    """``selection/<candidate>/<metric>`` of each candidate's validation, finite values only."""
    out: dict[str, float] = {}
    for score in selection.candidates:
        for name in ("brier", "roc_auc", "ece"):
            value = float(getattr(score, name))
            if math.isfinite(value):  # an undefined metric (one class) is left out
                out[f"selection/{score.name}/{name}"] = value
        out[f"selection/{score.name}/rows"] = float(score.rows)
    return out


def _local_champion(store: bundle.ModelStore) -> promotion.Champion | None:
    number = store.champion
    if number is None:
        return None
    manifest = bundle.read_manifest(store.path(number))
    return promotion.Champion(
        str(number),
        dict(manifest.metrics),
        manifest.horizon_days,
        str(manifest.evaluation.get("evaluation_mode", OUT_OF_TIME)),
    )


def _track(
    store: bundle.ModelStore,
    number: int,
    saved: bundle.Bundle,
    decision: promotion.Decision,
    run: tracking.TrainingRun,
    tracking_config: tracking.TrackingConfig,
) -> Published:
    try:
        record = tracking.log_training_run(tracking_config, run, decision=decision)
        if not decision.promote and record.version is not None:
            _mirror_champion(store, tracking_config, run.input_example)
    except TrackingError as err:
        where = f"version {number} was stored in {store.root}"
        if tracking_config.on_error == "fail":
            raise TrackingError(f"{err}; {where}") from err
        log.warning("%s; %s", err, where)
        return Published(saved, decision, None, number)
    updated = bundle.update_manifest(saved.path, mlflow=record.to_dict())
    return Published(bundle.Bundle(saved.path, saved.model, updated), decision, record, number)


def _mirror_champion(
    store: bundle.ModelStore, config: tracking.TrackingConfig, example: pd.DataFrame
) -> None:
    """Point the registry's ``champion`` alias at the store champion's registered version,
    registering the champion first when its own training could not (tracking failed then)."""
    number = store.champion
    if number is None:
        tracking.set_champion(config, None)
        return
    record = bundle.read_manifest(store.path(number)).mlflow or {}
    if record.get("registered_model") == config.registered_model and record.get("version"):
        tracking.set_champion(config, str(record["version"]))
        return
    champion = bundle.load(store.path(number))
    features = list(champion.model.features)
    if not set(features) <= set(example.columns):
        log.warning(
            "registry %s: the store's champion (version %d) was never registered and has other "
            "features than this run, so the champion alias is left where it is",
            config.registered_model,
            number,
        )
        return
    registered = tracking.register_stored(
        config,
        bundle_dir=champion.path,
        model=champion.model,
        input_example=example[features],
        horizon_days=champion.manifest.horizon_days,
        store_version=number,
    )
    bundle.update_manifest(champion.path, mlflow=registered.to_dict())

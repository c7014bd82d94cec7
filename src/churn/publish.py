"""The last stage of training: describe the model, write its bundle, decide promotion, track.

:func:`describe` turns a :class:`churn.training.TrainingOutcome` into the bundle's typed
:class:`churn.bundle.Manifest`; :func:`publish` writes the bundle first (so an unreachable
tracking server loses nothing), then decides promotion once, from the run's metrics, the
baselines and the current champion's record that tracking returns, and logs the run.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from churn import bundle, promotion, tracking
from churn.errors import TrackingError
from churn.timing import Stopwatch
from churn.training import TrainingOutcome

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Published:
    """The written bundle, the promotion decision and the tracking record (None when off)."""

    bundle: bundle.Bundle
    decision: promotion.Decision
    record: tracking.RunRecord | None


def describe(
    outcome: TrainingOutcome,
    *,
    name: str,
    settings: bundle.TrainingSettings,
    end: pd.Timestamp,
    fingerprint: Mapping[str, Any],
    vs_baselines: promotion.Decision,
) -> bundle.Manifest:
    """The deployed model's manifest (its files and digests are filled in by the save)."""
    return bundle.Manifest(
        name=name,
        created_at=pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
        data_end=str(pd.Timestamp(end).date()),
        model=bundle.ModelSpec(kind=bundle.MODEL_KIND, files={}, params=dict(outcome.params)),
        features=tuple(bundle.FeatureSpec(n, d) for n, d in outcome.feature_dtypes.items()),
        training=settings,
        metrics={k: v for k, v in outcome.metrics.items() if k.startswith("test/")},
        evaluation=outcome.evaluation.summary(),
        deployment=outcome.deployment.summary(),
        promotion=vs_baselines.to_dict(),
        data_fingerprint=dict(fingerprint),
        reference_distributions=outcome.references,
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
    stopwatch: Stopwatch | None = None,
) -> Published:
    """Describe the model, write the bundle, then decide promotion and log the run.

    The decision against the baselines goes into the bundle's manifest; the decision against
    the champion is taken once, from the record tracking returns.

    Args:
        outcome: the training run's result.
        settings: the label and feature settings and the calibration method it was trained with.
        end: the data end.
        fingerprint: the input's fingerprint.
        model_dir: the bundle folder (replaced atomically); its name is the model's.
        plots: plot name -> image file, copied into the bundle's ``plots/``.
        policy: the promotion rules.
        tracking_config: where and whether to track.
        params: the run's flattened config, logged as MLflow params.
        config_yaml: the run's resolved config, logged as an artifact.
        artifacts: extra folders to log (name -> path), e.g. the plots.
        stopwatch: times the ``bundle`` and ``tracking`` stages when given.

    Raises:
        TrackingError: tracking failed and ``tracking.on_error`` is ``fail`` (the bundle is
            written all the same).
    """
    vs_baselines = promotion.against_baselines(
        outcome.metrics, baselines=list(outcome.evaluation.baselines), policy=policy
    )
    manifest = describe(
        outcome,
        name=Path(model_dir).name,
        settings=settings,
        end=end,
        fingerprint=fingerprint,
        vs_baselines=vs_baselines,
    )
    watch = stopwatch if stopwatch is not None else Stopwatch()
    with watch.stage("bundle"):
        saved = bundle.save(
            outcome.deployment.model,
            manifest,
            model_dir,
            extra_files={f"plots/{path.name}": path for path in plots.values()},
        )
    untracked = promotion.against_champion(
        vs_baselines,
        outcome.metrics,
        horizon_days=manifest.horizon_days,
        policy=policy,
        champion=None,
    )
    if not tracking_config.enabled:
        return Published(saved, untracked, None)
    run = tracking.TrainingRun(
        run_name=f"train-{saved.manifest.data_end}",
        params=params,
        config_yaml=config_yaml,
        fingerprint=manifest.data_fingerprint,
        metrics={
            **outcome.metrics,
            **{
                f"deploy/{k}": float(v)
                for k, v in outcome.deployment.summary().items()
                if isinstance(v, int | float) and not isinstance(v, bool)
            },
        },
        model=outcome.deployment.model,
        input_example=outcome.input_example,
        horizon_days=manifest.horizon_days,
        artifacts={**artifacts, "bundle": saved.path},
        tags={"data_end": saved.manifest.data_end, "calibration": manifest.training.calibration},
    )
    with watch.stage("tracking"):
        return _track(saved, untracked, run, outcome, vs_baselines, policy, tracking_config)


def _track(
    saved: bundle.Bundle,
    untracked: promotion.Decision,
    run: tracking.TrainingRun,
    outcome: TrainingOutcome,
    vs_baselines: promotion.Decision,
    policy: promotion.PromotionConfig,
    tracking_config: tracking.TrackingConfig,
) -> Published:
    manifest = saved.manifest
    try:
        champion = tracking.fetch_champion(tracking_config) if tracking_config.log_model else None
        decision = promotion.against_champion(
            vs_baselines,
            outcome.metrics,
            horizon_days=manifest.horizon_days,
            policy=policy,
            champion=champion,
        )
        record = tracking.log_training_run(tracking_config, run, decision=decision)
    except TrackingError as err:
        if tracking_config.on_error == "fail":
            raise TrackingError(f"{err}; the bundle was written to {saved.path}") from err
        log.warning("%s; the bundle was written to %s", err, saved.path)
        return Published(saved, untracked, None)
    updated = bundle.update_manifest(saved.path, mlflow=record.to_dict())
    return Published(
        bundle.Bundle(saved.path, saved.model, updated), record.decision or decision, record
    )

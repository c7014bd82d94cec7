"""Train the churn model: ``python -m pipelines.train`` (docs/training.md).

Builds the labelled table over every cutoff, evaluates the recipe on the latest labelled cutoff
against the baselines (and, on demo data, the oracle), refits it up to the data end, writes the
bundle to ``model_dir`` and then logs one MLflow run and registers the model. The bundle is
written before tracking starts, so an unreachable tracking server loses nothing.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hydra
import numpy as np
import pandas as pd
from omegaconf import DictConfig, OmegaConf

from churn import bundle, data, labels, promotion, synthetic, tracking, training, training_table
from churn.calibration import validate_method
from churn.errors import TrackingError
from churn.features import FeatureConfig
from churn.files import atomic_file
from churn.model import ModelConfig
from churn.timing import Stopwatch
from pipelines.common import load_data, run_main, schedule

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainResult:
    """The headline of a training run."""

    model_dir: Path
    metrics: dict[str, float]
    decision: promotion.Decision
    run: tracking.RunRecord | None
    seconds: dict[str, float]


def _container(node: Any) -> dict[str, Any]:
    return OmegaConf.to_container(node, resolve=True)  # type: ignore[return-value]


def run(cfg: DictConfig) -> TrainResult:
    """Load, build the training table, train and evaluate, save the bundle, track."""
    watch = Stopwatch()
    out = Path(cfg.output_dir)
    seed = int(cfg.seed)
    label_config = labels.LabelConfig.from_mapping(_container(cfg.label))
    feature_config = FeatureConfig.from_mapping(_container(cfg.features))
    model_config = ModelConfig.from_mapping(_container(cfg.model))
    tracking_config = tracking.TrackingConfig.from_mapping(_container(cfg.tracking))
    policy = promotion.PromotionConfig.from_mapping(_container(cfg.promotion))
    settings = training.TrainConfig(
        horizon_days=label_config.horizon_days,
        step_days=label_config.step_days,
        calibration_method=validate_method(str(cfg.calibration.method)),
        max_customers=cfg.train.max_customers,
        btyd_time_unit_days=feature_config.btyd_time_unit_days,
        btyd_penalizer=feature_config.btyd_penalizer,
        top_fractions=tuple(cfg.train.top_fractions),
        ece_bins=int(cfg.train.ece_bins),
        reference_bins=int(cfg.train.reference_bins),
    )

    with watch.stage("load"):
        dataset = load_data(cfg.data, seed=seed, output_dir=out)
    with watch.stage("training_table"):
        planned = schedule(cfg, dataset, label_config)
        end = planned.end
        table = training_table.build_for(planned, feature_config, label_config).to_pandas()
    references = _oracle(cfg, label_config.horizon_days) if cfg.train.oracle else {}
    outcome = training.train(
        table, model_config, settings, end=end, seed=seed, references=references, stopwatch=watch
    )
    with watch.stage("plots"):
        plots = training.plot_outcome(
            outcome, table, out / "plots", shap_rows=int(cfg.train.shap_rows), seed=seed
        )
    vs_baselines = promotion.against_baselines(
        outcome.metrics, baselines=list(outcome.evaluation.baselines), policy=policy
    )
    fingerprint = data.fingerprint(dataset.transactions)
    manifest = _manifest(cfg, outcome, settings, fingerprint, end, vs_baselines)
    with watch.stage("bundle"):
        saved = bundle.save(
            outcome.deployment.model,
            manifest,
            cfg.model_dir,
            extra_files={f"plots/{path.name}": path for path in plots.values()},
        )
    _write_json(out / "metrics.json", outcome.metrics)

    record: tracking.RunRecord | None = None
    decision = promotion.against_champion(
        vs_baselines,
        outcome.metrics,
        horizon_days=settings.horizon_days,
        policy=policy,
        champion=None,
    )
    if tracking_config.enabled:
        with watch.stage("tracking"):
            record = _track(
                cfg,
                tracking_config,
                outcome,
                saved,
                plots,
                out,
                fingerprint,
                policy,
                settings,
                vs_baselines,
            )
        if record is not None and record.decision is not None:
            decision = record.decision
            bundle.update_manifest(saved.path, {"mlflow": record.to_dict()})
    log.info(
        "trained in %.1f s; bundle %s; test ROC-AUC %.4f, Brier %.4f, ECE %.4f; %s",
        watch.total,
        saved.path,
        outcome.metrics.get("test/roc_auc", float("nan")),
        outcome.metrics.get("test/brier", float("nan")),
        outcome.metrics.get("test/ece", float("nan")),
        "champion" if decision.promote else "not promoted: " + "; ".join(decision.reasons),
    )
    return TrainResult(saved.path, outcome.metrics, decision, record, dict(watch.seconds))


def _oracle(cfg: DictConfig, horizon_days: int) -> dict[str, Callable[[pd.DataFrame], np.ndarray]]:
    """The demo generator's true probabilities, when the data is the generated demo world."""
    generate = cfg.data.get("generate")
    if generate is None:
        return {}
    folder = Path(generate.output_dir)
    if not (folder / "ground_truth.parquet").exists():
        log.warning("no ground truth in %s: the oracle is not reported", folder)
        return {}
    truth, world = synthetic.load_truth(folder)

    def oracle(keys: pd.DataFrame) -> np.ndarray:
        return synthetic.oracle_for_rows(truth, world, keys, horizon_days=horizon_days)

    return {"oracle": oracle}


def _manifest(
    cfg: DictConfig,
    outcome: training.TrainingOutcome,
    settings: training.TrainConfig,
    fingerprint: dict[str, Any],
    end: pd.Timestamp,
    decision: promotion.Decision,
) -> dict[str, Any]:
    deployed = outcome.deployment
    return {
        "name": Path(cfg.model_dir).name,
        "created_at": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
        "features": [
            {"name": name, "dtype": dtype} for name, dtype in outcome.feature_dtypes.items()
        ],
        "horizon_days": settings.horizon_days,
        "data_end": str(end.date()),
        "calibration": settings.calibration_method,
        "deployment": deployed.summary(),
        "evaluation": outcome.evaluation.summary(),
        "lightgbm_params": outcome.params,
        "metrics": {k: v for k, v in outcome.metrics.items() if k.startswith("test/")},
        "promotion_vs_baselines": decision.to_dict(),
        "data_fingerprint": fingerprint,
        "config": _container(cfg),
        "reference_distributions": outcome.references,
    }


def _track(
    cfg: DictConfig,
    config: tracking.TrackingConfig,
    outcome: training.TrainingOutcome,
    saved: bundle.Bundle,
    plots: dict[str, Path],
    out: Path,
    fingerprint: dict[str, Any],
    policy: promotion.PromotionConfig,
    settings: training.TrainConfig,
    vs_baselines: promotion.Decision,
) -> tracking.RunRecord | None:
    """Log the run; on failure fail or warn as configured (the bundle is already written)."""
    deployed = outcome.deployment
    run = tracking.TrainingRun(
        run_name=f"train-{saved.manifest['data_end']}",
        params=tracking.flatten(_container(cfg)),
        config_yaml=OmegaConf.to_yaml(cfg, resolve=True),
        fingerprint=fingerprint,
        metrics={
            **outcome.metrics,
            **{f"deploy/{k}": float(v) for k, v in deployed.summary().items() if _is_number(v)},
        },
        model=deployed.model,
        input_example=outcome.input_example,
        horizon_days=settings.horizon_days,
        artifacts={"plots": out / "plots", "bundle": saved.path},
        tags={
            "data_end": str(saved.manifest["data_end"]),
            "calibration": settings.calibration_method,
        },
    )

    try:
        champion = tracking.fetch_champion(config) if config.log_model else None
        decision = promotion.against_champion(
            vs_baselines,
            outcome.metrics,
            horizon_days=settings.horizon_days,
            policy=policy,
            champion=champion,
        )
        return tracking.log_training_run(config, run, decision=decision)
    except TrackingError as err:
        if config.on_error == "fail":
            raise TrackingError(f"{err}; the bundle was written to {saved.path}") from err
        log.warning("%s; the bundle was written to %s", err, saved.path)
        return None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _write_json(path: Path, payload: dict[str, Any]) -> None:
    with atomic_file(path, private=False) as tmp:
        tmp.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n", encoding="utf-8")


@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
def main(cfg: DictConfig) -> None:
    """Command-line entry point."""
    run_main(run, cfg)


if __name__ == "__main__":
    main()

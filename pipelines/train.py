"""Train the churn model: ``python -m pipelines.train`` (docs/training.md).

Builds the labelled table, evaluates the recipe on the latest labelled cutoff against the
baselines (and the demo's oracle), refits it up to the data end, stores it as a new version in
``model_dir`` (champion when it passes the gate), then logs one MLflow run: tracking comes last,
so an unreachable tracking server loses nothing."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from churn import bundle, data, promotion, publish, synthetic, tracking, training, training_table
from churn.config import whole_number
from churn.features import FeatureConfig
from churn.files import write_json
from churn.labels import LabelConfig
from churn.model import ModelConfig
from churn.timing import Stopwatch
from pipelines.cli import launch, run_main
from pipelines.common import container, load_data, schedule

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainResult:
    """The headline of a training run (``model_dir``: the stored version's folder)."""

    model_dir: Path
    version: int
    metrics: dict[str, float]
    decision: promotion.Decision
    run: tracking.RunRecord | None
    seconds: dict[str, float]


def run(cfg: DictConfig) -> TrainResult:
    """Load, build the training table, train and evaluate, save the bundle, track."""
    watch, out, seed = Stopwatch(), Path(cfg.output_dir), int(cfg.seed)
    label, features, settings, model = _settings(cfg)  # every value checked before any work
    policy = promotion.PromotionConfig.from_mapping(container(cfg.promotion))
    tracking_config = tracking.TrackingConfig.from_mapping(container(cfg.tracking))
    shap_rows = whole_number("train.shap_rows", cfg.train.shap_rows, minimum=0)
    keep = whole_number("store.keep_versions", cfg.store.keep_versions, minimum=1)
    with watch.stage("load"):
        dataset = load_data(cfg.data, seed=seed, output_dir=out)
    with watch.stage("training_table"):
        planned = schedule(cfg, dataset, label)
        built = training_table.build_for(planned, features, label, settings=settings, seed=seed)
        table = built.table.to_pandas()
    outcome = training.train(
        table,
        model,
        settings,
        end=planned.end,
        seed=seed,
        references=oracle_references(cfg, label.horizon_days),
        stopwatch=watch,
        sample=built.sample,
        clv=training.ClvInputs(planned.tables.transactions, features, label.purchase_rule),
        transactions=planned.tables.transactions,
    )
    with watch.stage("plots"):
        plots = training.plot_outcome(outcome, table, out / "plots", shap_rows=shap_rows, seed=seed)
    write_json(out / "metrics.json", outcome.metrics, private=False)
    published = publish.publish(
        outcome,
        bundle.TrainingSettings(label, features, settings.calibration_method),
        end=planned.end,
        fingerprint=data.fingerprint(dataset.transactions),
        model_dir=cfg.model_dir,
        plots=plots,
        policy=policy,
        tracking_config=tracking_config,
        params=tracking.flatten(container(cfg)),
        config_yaml=OmegaConf.to_yaml(cfg, resolve=True),
        artifacts={"plots": out / "plots"},
        keep_versions=keep,
        stopwatch=watch,
    )
    training.log_headline(outcome, published.bundle.path, published.decision, watch.total)
    result = published.bundle.path, published.version, outcome.metrics, published.decision
    return TrainResult(*result, published.record, watch.seconds)


def _settings(
    cfg: DictConfig,
) -> tuple[LabelConfig, FeatureConfig, training.TrainConfig, ModelConfig]:
    """The label, feature, training and model settings, each validated."""
    label = LabelConfig.from_mapping(container(cfg.label))
    features = FeatureConfig.from_mapping(container(cfg.features))
    settings = training.TrainConfig.from_settings(
        label, features, calibration_method=str(cfg.calibration.method), train=container(cfg.train)
    )
    return label, features, settings, ModelConfig.from_mapping(container(cfg.model))


def oracle_references(cfg: DictConfig, horizon_days: int) -> dict[str, training.ReferenceScorer]:
    """The demo generator's true probabilities, when the data is the generated demo world."""
    if not cfg.train.oracle or cfg.data.get("generate") is None:
        return {}
    rows = cfg.train.get("oracle_rows")  # the backtest sets none: every test row of each date
    folder, seed = cfg.data.generate.output_dir, int(cfg.seed)
    scorer = synthetic.oracle_scorer(folder, horizon_days=horizon_days, max_rows=rows, seed=seed)
    return {} if scorer is None else {"oracle": scorer}


@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
def main(cfg: DictConfig) -> None:
    """Command-line entry point."""
    run_main(run, cfg)


if __name__ == "__main__":
    launch(main, "train")

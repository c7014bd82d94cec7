"""Replay the recipe at past dates: ``python -m pipelines.backtest`` (docs/backtest.md).

Builds one labelled table over the cutoffs of every as-of date, fits the deployed recipe at each
date on what was known before it, scores the customers at that date with the model, every
baseline and (on demo data) the oracle, and writes per-date and pooled metrics with bootstrap
intervals to ``<output_dir>/backtest/`` and one MLflow parent run with a child run per date.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig, OmegaConf

from churn import backtest, tracking, training
from churn.errors import TrackingError
from churn.features import FeatureConfig
from churn.labels import LabelConfig
from churn.model import ModelConfig
from churn.timing import Stopwatch
from pipelines.cli import launch, run_main
from pipelines.common import container, load_data, schedule
from pipelines.train import oracle_references

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BacktestResult:
    """Where the results went, the pooled differences and the time per stage."""

    folder: Path
    differences: list[dict[str, Any]]
    run_id: str | None
    seconds: dict[str, float]


def run(cfg: DictConfig) -> BacktestResult:
    """Load, build one table over every date's cutoffs, replay the recipe, measure, write."""
    watch, out, seed = Stopwatch(), Path(cfg.output_dir), int(cfg.seed)
    label = LabelConfig.from_mapping(container(cfg.label))
    features = FeatureConfig.from_mapping(container(cfg.features))
    settings = training.TrainConfig.from_settings(
        label, features, calibration_method=str(cfg.calibration.method), train=container(cfg.train)
    )
    config = backtest.BacktestConfig.from_mapping(container(cfg.backtest))
    model_config = ModelConfig.from_mapping(container(cfg.model))
    tracking_config = tracking.TrackingConfig.from_mapping(container(cfg.tracking))
    with watch.stage("load"):
        dataset = load_data(cfg.data, seed=seed, output_dir=out)
    with watch.stage("training_table"):
        plan, table = backtest.backtest_table(
            schedule(cfg, dataset, label), label, features, config
        )
    references = oracle_references(cfg, label.horizon_days)
    replayed = backtest.replay(
        table, plan, model_config, settings, seed=seed, references=references, stopwatch=watch
    )
    with watch.stage("summary"):
        summary = backtest.summarise(
            replayed,
            top_fractions=settings.top_fractions,
            n_bins=settings.ece_bins,
            bootstrap=config.bootstrap,
            confidence=config.confidence,
            seed=seed,
        )
        folder = backtest.write_backtest(
            out / "backtest", plan, replayed, summary, extra={"seconds": watch.seconds}
        )
    run_id = _track(cfg, tracking_config, summary, folder)
    log.info("backtest done in %.1f s: %s", watch.total, folder)
    return BacktestResult(folder, summary.pooled_differences(), run_id, watch.seconds)


def _track(
    cfg: DictConfig,
    config: tracking.TrackingConfig,
    summary: backtest.BacktestSummary,
    folder: Path,
) -> str | None:
    """Log the backtest to MLflow when tracking is on; ``tracking.on_error`` decides failures."""
    if not config.enabled:
        return None
    try:
        return tracking.log_backtest(
            config,
            params=tracking.flatten(container(cfg)),
            config_yaml=OmegaConf.to_yaml(cfg, resolve=True),
            per_date=summary.per_date,
            pooled=summary.pooled,
            differences=summary.differences,
            artifacts=folder,
        )
    except TrackingError as err:
        if config.on_error == "fail":
            raise
        log.warning("%s; the backtest's results are in %s", err, folder)
        return None


@hydra.main(version_base="1.3", config_path="../conf", config_name="backtest")
def main(cfg: DictConfig) -> None:
    """Command-line entry point."""
    run_main(run, cfg)


if __name__ == "__main__":
    launch(main, "backtest")

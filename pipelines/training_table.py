"""Build the labelled training table: ``python -m pipelines.training_table``.

Features of the population at every labelled cutoff (``conf/label``, ``conf/features``) with
the churn label, written to ``training_table.parquet`` in the run folder.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import hydra
from omegaconf import DictConfig

from churn import labels, training_table
from churn.features import FeatureConfig
from pipelines.cli import launch, run_main
from pipelines.common import container, load_data, schedule

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainingTableResult:
    """The table's location, size and cutoffs."""

    path: Path
    rows: int
    cutoffs: Sequence[datetime]
    churn_share: float


def run(cfg: DictConfig) -> TrainingTableResult:
    """Load, validate, compute features and labels at every cutoff, write the table."""
    started = time.perf_counter()
    out = Path(cfg.output_dir)
    dataset = load_data(cfg.data, seed=int(cfg.seed), output_dir=out)
    label_config = labels.LabelConfig.from_mapping(container(cfg.label))
    feature_config = FeatureConfig.from_mapping(container(cfg.features))
    path = out / "training_table.parquet"
    # written in batches: the table is never held in memory whole
    planned = schedule(cfg, dataset, label_config)
    rows = training_table.write_for(planned, feature_config, label_config, path)
    cutoffs = planned.cutoffs
    share = training_table.churn_share(path)
    log.info("wrote %s: %d rows, in %.1f s", path, rows, time.perf_counter() - started)
    return TrainingTableResult(path, rows, cutoffs, share)


@hydra.main(version_base="1.3", config_path="../conf", config_name="training_table")
def main(cfg: DictConfig) -> None:
    """Command-line entry point."""
    run_main(run, cfg)


if __name__ == "__main__":
    launch(main, "training_table")

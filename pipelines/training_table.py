"""Build the labelled training table: ``python -m pipelines.training_table``.

Features of the population at every labelled cutoff (``conf/label``, ``conf/features``) with
the churn label, written to ``training_table.parquet`` in the run folder.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import hydra
import pandas as pd
import pyarrow.parquet as pq
from omegaconf import DictConfig, OmegaConf

from churn import labels
from churn.features import FeatureConfig
from pipelines.common import load_data, run_main, write_labelled_table

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainingTableResult:
    """The table's location, size and cutoffs."""

    path: Path
    rows: int
    cutoffs: list[pd.Timestamp]
    churn_share: float


def run(cfg: DictConfig) -> TrainingTableResult:
    """Load, validate, compute features and labels at every cutoff, write the table."""
    started = time.perf_counter()
    out = Path(cfg.output_dir)
    dataset = load_data(cfg.data, seed=int(cfg.seed), output_dir=out)
    label_config = labels.LabelConfig.from_mapping(OmegaConf.to_container(cfg.label))  # type: ignore[arg-type]
    feature_config = FeatureConfig.from_mapping(OmegaConf.to_container(cfg.features))  # type: ignore[arg-type]
    path = out / "training_table.parquet"
    # written in batches: the table is never held in memory whole
    rows, cutoffs = write_labelled_table(cfg, dataset, label_config, feature_config, path)
    labelled = pq.read_table(path, columns=["cutoff", "churned"])
    labels.log_churn_shares(labelled)
    churned = labelled["churned"].to_numpy()
    share = float(churned.mean()) if len(churned) else float("nan")
    log.info(
        "wrote %s: %d rows, %d columns, churn share %.3f, in %.1f s",
        path,
        rows,
        len(pq.read_schema(path)),
        share,
        time.perf_counter() - started,
    )
    return TrainingTableResult(path, rows, cutoffs, share)


@hydra.main(version_base="1.3", config_path="../conf", config_name="training_table")
def main(cfg: DictConfig) -> None:
    """Command-line entry point."""
    run_main(run, cfg)


if __name__ == "__main__":
    main()

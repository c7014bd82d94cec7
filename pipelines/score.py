"""Score customers: ``python -m pipelines.score`` (docs/scoring-and-offers.md), for schedulers.

Loads the bundle (``model_dir``, or the MLflow registry alias) and verifies it, loads and
validates the data, scores every customer at the as-of date (:func:`churn.scoring.score_dataset`)
and writes ``exports/<as_of>/`` atomically. One log line per stage with counts and timings; exit
codes in the README.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig

from churn import bundle, export, scoring, tracking
from churn.errors import ConfigError
from churn.timing import Stopwatch
from pipelines.cli import launch, run_main
from pipelines.common import container, load_data, row_rejects_path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScoreResult:
    """The headline of a scoring run."""

    folder: Path
    as_of: datetime
    counts: dict[str, Any]
    drift: dict[str, Any]
    seconds: dict[str, float]


def run(cfg: DictConfig) -> ScoreResult:
    """Score every customer at the as-of date and write the exports."""
    watch = Stopwatch()
    options = scoring.ScoreOptions.from_config(container(cfg))  # all checked first: exit 2
    if "postgres" in options.targets:
        export.check_reachable(options.database)  # before any work: exit 7
    with tempfile.TemporaryDirectory(prefix="churn-bundle-") as work, watch.stage("bundle"):
        loaded = _load_bundle(cfg, Path(work), options.require_signature)
    with watch.stage("load"):
        dataset = load_data(cfg.data, seed=options.seed, output_dir=Path(cfg.output_dir))
    scored = scoring.score_dataset(
        dataset,
        loaded,
        options,
        container(cfg.engine),
        cfg.as_of,
        end_date=cfg.data.get("end_date"),
        stopwatch=watch,
    )
    manifest = export.build_manifest(
        scored,
        bundle=loaded.manifest,
        source=str(cfg.source),
        dataset=dataset,
        options=options,
        rejected_rows=row_rejects_path(cfg.output_dir),
    )
    if options.shadow is not None and cfg.source == "bundle":
        manifest = manifest.with_updates(shadow=_shadow(cfg, options, dataset, scored, watch))
    folder = export.export_folder(options.export_dir, scored.as_of)
    with watch.stage("export"):
        manifest = manifest.with_updates(seconds=dict(watch.seconds))
        export.write_run(folder, scored, manifest)
    if "postgres" in options.targets:
        with watch.stage("database"):
            export.write_at_risk(scored.outcome.at_risk, options.database, as_of=scored.as_of)
    if cfg.score.log_to_mlflow:
        config = tracking.TrackingConfig.from_mapping(container(cfg.tracking))
        tracking.log_scoring_run(config, manifest.to_dict())
    scoring.log_headline(scored, options, folder, watch.total)
    return ScoreResult(
        folder, scored.as_of, dict(manifest.counts), scored.drift, dict(watch.seconds)
    )


def _shadow(
    cfg: DictConfig, options: scoring.ScoreOptions, dataset: Any, scored: Any, watch: Stopwatch
) -> Any:
    challenger = bundle.load_shadow(
        cfg.model_dir, str(options.shadow), require_signature=options.require_signature
    )
    if challenger is None:
        return None
    with watch.stage("shadow"):
        engine, end = container(cfg.engine), cfg.data.get("end_date")
        return scoring.shadow_score(
            dataset, scored, challenger, options, engine, cfg.as_of, end_date=end
        )


def _load_bundle(cfg: DictConfig, work: Path, signed: bool) -> bundle.Bundle:
    if cfg.source == "bundle":
        return bundle.load_served(cfg.model_dir, require_signature=signed)
    if cfg.source == "registry":
        config = tracking.TrackingConfig.from_mapping(container(cfg.tracking))
        folder = tracking.download_bundle(config, str(cfg.registry.alias), work)
        return bundle.load(folder, require_signature=signed)
    raise ConfigError(f"source: expected bundle or registry; got {cfg.source!r}")


@hydra.main(version_base="1.3", config_path="../conf", config_name="score")
def main(cfg: DictConfig) -> None:
    """Command-line entry point."""
    run_main(run, cfg)


if __name__ == "__main__":
    launch(main, "score")

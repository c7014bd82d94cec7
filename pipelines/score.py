"""Score customers: ``python -m pipelines.score`` (docs/scoring-and-offers.md), for schedulers.

Loads the bundle (``model_dir``, or the MLflow registry alias) and verifies its checksum, loads
and validates the data, builds the features at the as-of date with the bundle's own feature
config, checks the feature schema, scores in batches, assigns tiers and offers, explains the
at-risk scores, checks drift against the training reference and writes ``exports/<as_of>/``
atomically. One log line per stage with counts and timings; exit codes in the README.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hydra
import pandas as pd
from omegaconf import DictConfig, OmegaConf

from churn import (
    bundle,
    data,
    engine,
    export,
    labels,
    monitoring,
    scoring,
    tracking,
)
from churn.errors import ConfigError, DriftError
from churn.features import FeatureConfig, build_features
from churn.timing import Stopwatch
from pipelines.common import load_data, run_main

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScoreResult:
    """The headline of a scoring run."""

    folder: Path
    as_of: pd.Timestamp
    counts: dict[str, Any]
    drift: dict[str, Any]
    seconds: dict[str, float]


def _container(node: Any) -> dict[str, Any]:
    return OmegaConf.to_container(node, resolve=True)  # type: ignore[return-value]


def _load_bundle(cfg: DictConfig, work: Path) -> bundle.Bundle:
    if cfg.source == "bundle":
        return bundle.load(cfg.model_dir)
    if cfg.source == "registry":
        config = tracking.TrackingConfig.from_mapping(_container(cfg.tracking))
        folder = tracking.download_bundle(config, str(cfg.registry.alias), work)
        return bundle.load(folder)
    raise ConfigError(f"source: expected bundle or registry; got {cfg.source!r}")


def run(cfg: DictConfig) -> ScoreResult:
    """Score every customer at the as-of date and write the exports."""
    watch = Stopwatch()
    seed = int(cfg.seed)
    options = _options(cfg)
    tiers, offer_config, thresholds = options.tiers, options.offers, options.thresholds

    with tempfile.TemporaryDirectory(prefix="churn-bundle-") as work, watch.stage("bundle"):
        loaded = _load_bundle(cfg, Path(work))
    manifest = loaded.manifest
    trained = manifest.get("config", {})
    feature_config = FeatureConfig.from_mapping(trained["features"])
    label_config = labels.LabelConfig.from_mapping(trained["label"])
    version = str((manifest.get("mlflow") or {}).get("version") or manifest["model_sha256"][:12])

    with watch.stage("load"):
        dataset = load_data(cfg.data, seed=seed, output_dir=Path(cfg.output_dir))
        con = engine.connect(_container(cfg.engine))
        tables = engine.register(
            con, dataset.transactions, customers=dataset.customers, events=dataset.events
        )
        end = labels.data_end(tables.transactions, end_date=cfg.data.get("end_date"))
        as_of = scoring.resolve_as_of(cfg.as_of, end, dataset.transactions)
        scoring.warn_if_old(manifest.get("data_end"), as_of, int(cfg.score.max_model_age_days))

    with watch.stage("features"):
        if options.distributed:
            lazy, finish = scoring.features_on_spark(
                con,
                tables.transactions,
                as_of,
                feature_config,
                events=tables.events,
                horizon_days=label_config.horizon_days,
            )
            buyers = scoring.buyers_before(dataset.transactions, as_of)
        else:
            features = build_features(
                tables.transactions,
                [as_of],
                feature_config,
                events=tables.events,
                horizon_days=label_config.horizon_days,
                active_within_days=None,
            ).to_pandas()
            buyers = features["customer_id"].tolist()
        log.info("features at %s: %d buyers", as_of.date(), len(buyers))

    with watch.stage("population"):
        people = _population(cfg, dataset, as_of, buyers, offer_config.cooldown_days)

    settings = scoring.ScoreConfig(
        as_of=as_of,
        horizon_days=label_config.horizon_days,
        active_within_days=label_config.active_within_days,
        batch_size=options.batch_size,
        reasons_for=options.reasons_for,
        seed=seed,
        model_version=version,
    )
    extra: Callable[[Path], None] | None = None
    with watch.stage("scoring"):
        if options.distributed:
            outcome, extra = _score_on_spark(lazy, finish, loaded, settings, options, people)
        else:
            outcome = scoring.score(
                features,
                loaded.model,
                manifest,
                settings=settings,
                tiers=tiers,
                offer_config=offer_config,
                thresholds=thresholds,
                **people.contact(),
            )
    drift = monitoring.summarise_drift(outcome.drift) if len(outcome.drift) else {}
    folder = export.export_folder(cfg.export.dir, as_of)
    run_manifest = export.build_manifest(
        as_of=as_of,
        end=end,
        bundle_manifest=manifest,
        version=version,
        source=str(cfg.source),
        outcome=outcome,
        rejects=people.rejects,
        dataset=dataset,
        options=options,
        drift=drift,
        tiers=_container(cfg.tiers),
        suppressed=len(people.suppressed),
        cooled=len(people.cooled),
    )
    if drift.get("flagged") and cfg.drift.fail_on_flag:
        raise DriftError(
            f"drift above {thresholds.flag} (PSI) in {drift['flagged']}; nothing exported "
            "(drift.fail_on_flag=true)"
        )
    with watch.stage("export"):
        run_manifest["seconds"] = dict(watch.seconds)
        export.write_exports(
            folder,
            scores=None if options.distributed else outcome.scores,
            at_risk=outcome.at_risk,
            rejects=people.rejects,
            manifest=run_manifest,
            extra=extra,
        )
    if "postgres" in options.targets:
        with watch.stage("database"):
            export.write_at_risk(outcome.at_risk, options.database, as_of=as_of)
    if cfg.score.log_to_mlflow:
        _log_run(cfg, run_manifest)
    log.info(
        "scored %s in %.1f s: %s; at-risk list %d; budget used %.2f of %.2f; exports in %s",
        as_of.date(),
        watch.total,
        outcome.counts["by_status"],
        outcome.counts["at_risk"],
        outcome.assignment.budget_used,
        offer_config.budget,
        folder,
    )
    return ScoreResult(folder, as_of, run_manifest["counts"], drift, dict(watch.seconds))


def _population(
    cfg: DictConfig, dataset: data.Dataset, as_of: pd.Timestamp, buyers: list[str], cooldown: int
) -> scoring.Population:
    return scoring.population_at(
        dataset,
        as_of,
        buyers,
        customer_id_column=str(cfg.data.columns.transactions.customer_id),
        suppressed=export.read_suppression(cfg.offers.suppression_file),
        cooled=export.recently_offered(cfg.export.dir, as_of=as_of, cooldown_days=cooldown),
    )


def _score_on_spark(
    lazy: Any,
    finish: scoring.Finish,
    loaded: bundle.Bundle,
    settings: scoring.ScoreConfig,
    options: scoring.ScoreOptions,
    people: scoring.Population,
) -> tuple[scoring.ScoringOutcome, Callable[[Path], None]]:
    """Scores stay on the cluster; the export folder gets Spark's datasets written into it."""
    outcome, scored, signups = scoring.score_distributed(
        lazy,
        finish,
        loaded.model,
        loaded.manifest,
        settings=settings,
        tiers=options.tiers,
        offer_config=options.offers,
        thresholds=options.thresholds,
        **people.contact(),
    )

    def write(folder: Path) -> None:
        scoring.write_scores(scored, folder, as_of=settings.as_of, no_purchase=signups)
        at_risk = scored.filter(scored.risk_tier.isin(list(options.tiers.at_risk)))
        scoring.write_partitioned(
            at_risk.drop("eligible"), folder / "at_risk_by_tier", by="risk_tier"
        )

    return outcome, write


def _options(cfg: DictConfig) -> scoring.ScoreOptions:
    """Validate every scoring option before any work starts (exit 2 on a bad one)."""
    return scoring.ScoreOptions.from_mappings(
        tiers=_container(cfg.tiers),
        offer_values=_container(cfg.offers),
        drift={"warn": cfg.drift.warn, "flag": cfg.drift.flag},
        score=_container(cfg.score),
        targets=list(cfg.export.targets),
        postgres=_container(cfg.export.postgres),
        engine_name=str(cfg.engine.name),
    )


def _log_run(cfg: DictConfig, run_manifest: dict[str, Any]) -> None:
    config = tracking.TrackingConfig.from_mapping(_container(cfg.tracking))
    tracking.log_scoring_run(config, run_manifest)


@hydra.main(version_base="1.3", config_path="../conf", config_name="score")
def main(cfg: DictConfig) -> None:
    """Command-line entry point."""
    run_main(run, cfg)


if __name__ == "__main__":
    main()

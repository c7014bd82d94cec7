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
    database,
    engine,
    export,
    labels,
    monitoring,
    offers,
    scoring,
    tracking,
)
from churn.errors import ConfigError, DataError, DriftError
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
        as_of = _as_of(cfg.as_of, end, dataset)
        _warn_if_old(manifest, as_of, int(cfg.score.max_model_age_days))

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
        reasons_for=str(cfg.score.reasons_for),
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
    run_manifest = _run_manifest(
        cfg,
        as_of,
        end,
        manifest,
        version,
        outcome,
        people.rejects,
        dataset,
        options,
        drift,
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
            database.write_at_risk(outcome.at_risk, options.database, as_of=as_of)
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


@dataclass(frozen=True)
class _Population:
    """Who else the input knows, and the contact policy's lists."""

    no_purchase: list[str]
    rejects: pd.DataFrame
    attributes: pd.DataFrame | None
    suppressed: set[str]
    cooled: set[str]

    def contact(self) -> dict[str, Any]:
        """The keyword arguments the scorers take."""
        return {
            "no_purchase": self.no_purchase,
            "attributes": self.attributes,
            "suppressed": self.suppressed,
            "cooled": self.cooled,
        }


def _population(
    cfg: DictConfig, dataset: data.Dataset, as_of: pd.Timestamp, buyers: list[str], cooldown: int
) -> _Population:
    rejected_ids = _rejected_ids(dataset.rejects, cfg.data.columns.transactions.customer_id)
    no_purchase, rejects = scoring.account_for_customers(
        dataset.transactions,
        as_of=as_of,
        buyers=buyers,
        customers=dataset.customers,
        rejected_ids=rejected_ids,
    )
    return _Population(
        no_purchase,
        rejects,
        _attributes(dataset.customers),
        export.read_suppression(cfg.offers.suppression_file),
        export.recently_offered(cfg.export.dir, as_of=as_of, cooldown_days=cooldown),
    )


def _score_on_spark(
    lazy: Any,
    finish: scoring.Finish,
    loaded: bundle.Bundle,
    settings: scoring.ScoreConfig,
    options: _Options,
    people: _Population,
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


def _run_manifest(
    cfg: DictConfig,
    as_of: pd.Timestamp,
    end: pd.Timestamp,
    manifest: dict[str, Any],
    version: str,
    outcome: scoring.ScoringOutcome,
    rejects: pd.DataFrame,
    dataset: data.Dataset,
    options: _Options,
    drift: dict[str, Any],
    *,
    suppressed: int,
    cooled: int,
) -> dict[str, Any]:
    """The export's manifest.json."""
    offer_config, thresholds = options.offers, options.thresholds
    return {
        "as_of": str(as_of.date()),
        "data_end": str(end.date()),
        "created_at": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
        "model": {
            "version": version,
            "source": str(cfg.source),
            "sha256": manifest["model_sha256"],
            "data_end": manifest.get("data_end"),
            "horizon_days": manifest["horizon_days"],
            "test_metrics": {
                k: manifest.get("metrics", {}).get(f"test/{k}") for k in ("roc_auc", "brier", "ece")
            },
        },
        "counts": {**outcome.counts, "rejected_customers": len(rejects)},
        "input": {
            "fingerprint": data.fingerprint(dataset.transactions),
            "rows": {
                name: {
                    "input": r.input_rows,
                    "used": r.used_rows,
                    "rejected": r.rejected_rows,
                }
                for name, r in dataset.reports.items()
            },
        },
        "tiers": _container(cfg.tiers),
        "offers": {
            "budget": offer_config.budget,
            "budget_used": outcome.assignment.budget_used,
            "control_fraction": offer_config.control_fraction,
            "cooldown_days": offer_config.cooldown_days,
            "suppressed": suppressed,
            "in_cooldown": cooled,
        },
        "drift": {**drift, "thresholds": {"warn": thresholds.warn, "flag": thresholds.flag}},
        "drift_by_column": outcome.drift.to_dict("records"),
    }


@dataclass(frozen=True)
class _Options:
    tiers: scoring.TierConfig
    offers: offers.OfferConfig
    thresholds: monitoring.DriftConfig
    batch_size: int
    targets: list[str]
    database: database.DatabaseConfig
    distributed: bool


def _options(cfg: DictConfig) -> _Options:
    """Validate every scoring option before any work starts (exit 2 on a bad one)."""
    tiers = scoring.TierConfig.from_mapping(_container(cfg.tiers))
    offer_config = offers.OfferConfig.from_mapping(_container(cfg.offers), tiers=tiers.names)
    thresholds = monitoring.DriftConfig.from_mapping(
        {"warn": cfg.drift.warn, "flag": cfg.drift.flag}
    )
    if cfg.score.reasons_for not in ("at_risk", "all", "none"):
        raise ConfigError(
            f"score.reasons_for: expected at_risk, all or none; got {cfg.score.reasons_for!r}"
        )
    targets = list(cfg.export.targets)
    if sorted(set(targets) - {"files", "postgres"}) or "files" not in targets:
        raise ConfigError(f"export.targets: expected files and optionally postgres; got {targets}")
    batch_size = int(cfg.score.batch_size)
    if batch_size < 1:
        raise ConfigError(f"score.batch_size: expected >= 1; got {batch_size}")
    target = database.DatabaseConfig.from_mapping(_container(cfg.export.postgres))
    distributed = bool(cfg.score.distributed)
    if distributed and cfg.engine.name != "spark":
        raise ConfigError(
            f"score.distributed=true scores on Spark: it needs engine=spark; got {cfg.engine.name}"
        )
    if distributed and tiers.method != "thresholds":
        raise ConfigError("score.distributed=true needs tiers.method=thresholds (no global rank)")
    return _Options(tiers, offer_config, thresholds, batch_size, targets, target, distributed)


def _as_of(value: Any, end: pd.Timestamp, dataset: data.Dataset) -> pd.Timestamp:
    """The as-of date: the configured date, or the data end (the day after the last purchase)."""
    if value is None:
        return end
    try:
        as_of = pd.Timestamp(str(value))
    except ValueError as err:
        raise ConfigError(f"as_of: expected a date YYYY-MM-DD; got {value!r}") from err
    if as_of != as_of.normalize():
        raise ConfigError(f"as_of: expected a date without a time; got {value!r}")
    first = dataset.transactions["timestamp"].to_pandas().min()
    if pd.isna(first) or as_of <= pd.Timestamp(first):
        raise DataError(
            f"as_of {as_of.date()} is before the data: the first transaction is at {first}; "
            "nobody can be scored"
        )
    if as_of > end:
        log.warning("as_of %s is after the data end %s", as_of.date(), end.date())
    return as_of


def _warn_if_old(manifest: dict[str, Any], as_of: pd.Timestamp, max_days: int) -> None:
    trained_end = manifest.get("data_end")
    if trained_end is None:
        return
    age = (as_of - pd.Timestamp(trained_end)).days
    if age > max_days:
        log.warning(
            "the model was trained on data up to %s, %d days before the as-of date %s "
            "(score.max_model_age_days=%d): retrain it",
            trained_end,
            age,
            as_of.date(),
            max_days,
        )
    if age < 0:
        log.warning(
            "the model was trained on data up to %s, after the as-of date %s",
            trained_end,
            as_of.date(),
        )


def _rejected_ids(rejects: pd.DataFrame, source_column: str) -> list[str]:
    if rejects.empty or "table" not in rejects.columns or source_column not in rejects.columns:
        return []
    rows = rejects[rejects["table"] == "transactions"][source_column]
    return sorted(set(rows.dropna().astype(str).str.strip()) - {""})


def _attributes(customers: Any) -> pd.DataFrame | None:
    if customers is None:
        return None
    frame = customers.to_pandas().drop_duplicates("customer_id")
    return frame.set_index(frame["customer_id"].astype(str)).drop(columns="customer_id")


def _log_run(cfg: DictConfig, run_manifest: dict[str, Any]) -> None:
    config = tracking.TrackingConfig.from_mapping(_container(cfg.tracking))
    tracking.log_scoring_run(config, run_manifest)


@hydra.main(version_base="1.3", config_path="../conf", config_name="score")
def main(cfg: DictConfig) -> None:
    """Command-line entry point."""
    run_main(run, cfg)


if __name__ == "__main__":
    main()

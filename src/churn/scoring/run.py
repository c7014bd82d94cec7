"""The scoring stage: a loaded dataset and a verified bundle in, a :class:`ScoringRun` out.

:func:`score_dataset` resolves the as-of date, builds the features with the bundle's own feature
config, accounts for every customer, and scores in memory or on Spark: the one place that
choice is made. Both paths apply the same row rules (:mod:`churn.scoring.rows`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

from churn import engine, labels, monitoring
from churn.bundle import Bundle, Manifest
from churn.bundle.compat import check_compatibility
from churn.data import Dataset
from churn.errors import ConfigError, DriftError
from churn.export.files import open_campaigns, read_suppression, recently_offered
from churn.features import build_features
from churn.save_rates import planned_rates
from churn.scoring.as_of import resolve_as_of, warn_if_old
from churn.scoring.local import score
from churn.scoring.options import ScoreOptions
from churn.scoring.population import Population, buyers_before, population_at
from churn.scoring.settings import ScoreConfig, ScoringOutcome
from churn.scoring.spark import features_on_spark, score_distributed, write_partitioned
from churn.scoring.spark import write_scores as write_spark_scores
from churn.timing import Stopwatch
from churn.uplift.targeting import champion as uplift_champion
from churn.uplift.targeting import targeting

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScoringRun:
    """One scoring run's result: what the export and its manifest are made of."""

    as_of: pd.Timestamp
    data_end: pd.Timestamp
    outcome: ScoringOutcome
    population: Population
    drift: dict[str, Any]
    model_version: str
    # writes Spark's datasets into the export folder (None: the scores are in ``outcome``)
    write_extra: Callable[[Path], None] | None = None
    save_rates: Mapping[str, Any] = field(default_factory=dict)  # each offer's planned rate

    @property
    def scores(self) -> pd.DataFrame | None:
        """Every customer's scores, when they are held in memory."""
        return None if self.write_extra is not None else self.outcome.scores


def score_dataset(
    dataset: Dataset,
    bundle: Bundle,
    options: ScoreOptions,
    engine_config: Mapping[str, Any],
    as_of: Any = None,
    *,
    end_date: Any = None,
    stopwatch: Stopwatch | None = None,
) -> ScoringRun:
    """Score every customer the input knows at the as-of date.

    Args:
        dataset: the loaded, validated input.
        bundle: the verified model bundle.
        options: the validated scoring options.
        engine_config: the ``engine`` node (DuckDB, or Spark for ``score.distributed``).
        as_of: ``YYYY-MM-DD``, or None for the day after the last purchase.
        end_date: the data end when the config fixes it (``data.end_date``).
        stopwatch: times the stages (``features``, ``population``, ``scoring``) when given.

    Raises:
        DriftError: drift above the flag threshold with ``drift.fail_on_flag`` (exit 6).
    """

    def stage(name: str) -> AbstractContextManager[Any]:
        return stopwatch.stage(name) if stopwatch is not None else nullcontext()

    manifest = bundle.manifest
    check_compatibility(
        manifest, where=f"bundle {bundle.path}", allow_library_change=options.allow_library_change
    )
    _check_references(manifest, options)
    con = engine.connect(engine_config)
    tables = engine.register(
        con, dataset.transactions, customers=dataset.customers, events=dataset.events
    )
    rule = manifest.training.label.purchase_rule  # the bundle's, as at training
    end = labels.data_end(tables.transactions, end_date=end_date, purchase_rule=rule)
    day = resolve_as_of(as_of, end, dataset.transactions)
    warn_if_old(manifest.data_end, day, options.max_model_age_days)
    offer_config, save_rates = planned_rates(options.offers, as_of=day)
    options = replace(options, offers=offer_config)
    if options.distributed and offer_config.objective == "uplift":
        raise ConfigError(
            "offers.objective=uplift is planned on one machine only for now; score with "
            "score.distributed=false, or offers.objective=net_benefit on Spark"
        )
    stored, unavailable = uplift_champion(offer_config)
    horizon = manifest.horizon_days
    with stage("features"):
        if options.distributed:
            lazy, finish = features_on_spark(
                con,
                tables.transactions,
                day,
                manifest.training.features,
                events=tables.events,
                horizon_days=horizon,
                purchase_rule=rule,
            )
            buyers = buyers_before(dataset.transactions, day, purchase_rule=rule)
        else:
            features = build_features(
                tables.transactions,
                [day],
                manifest.training.features,
                events=tables.events,
                horizon_days=horizon,
                active_within_days=None,
                purchase_rule=rule,
            ).to_pandas()
            buyers = features["customer_id"].tolist()
        log.info("features at %s: %d buyers", day.date(), len(buyers))
    with stage("population"):
        people = population_at(
            dataset,
            day,
            buyers,
            customer_id_column=options.customer_id_column,
            id_normalization=options.id_normalization,
            suppressed=read_suppression(options.offers.suppression_file),
            cooled=recently_offered(
                options.export_dir, as_of=day, cooldown_days=options.offers.cooldown_days
            ),
            earlier=open_campaigns(options.export_dir, as_of=day),
        )
    settings = ScoreConfig(
        as_of=day,
        horizon_days=horizon,
        active_within_days=manifest.training.active_within_days,
        batch_size=options.batch_size,
        reasons_for=options.reasons_for,
        seed=options.seed,
        model_version=manifest.version,
    )
    extra: Callable[[Path], None] | None = None
    with stage("scoring"):
        if options.distributed:
            outcome, extra = _on_spark(lazy, finish, bundle, settings, options, people)
        else:
            outcome = score(
                features,
                bundle.model,
                manifest,
                settings=settings,
                tiers=options.tiers,
                offer_config=options.offers,
                thresholds=options.thresholds,
                value_config=options.value,
                uplift=partial(
                    targeting, config=offer_config, stored=stored, unavailable=unavailable
                ),
                **people.contact(),
            )
    drift = monitoring.summarise_drift(outcome.drift) if len(outcome.drift) else {}
    if drift.get("flagged") and options.fail_on_drift:
        raise DriftError(
            f"drift above {options.thresholds.flag} (PSI) in {drift['flagged']}; nothing "
            "exported (drift.fail_on_flag=true)"
        )
    return ScoringRun(day, end, outcome, people, drift, manifest.version, extra, save_rates)


def _on_spark(
    lazy: Any,
    finish: Any,
    bundle: Bundle,
    settings: ScoreConfig,
    options: ScoreOptions,
    people: Population,
) -> tuple[ScoringOutcome, Callable[[Path], None]]:
    """Scores stay on the cluster; the export folder gets Spark's datasets written into it."""
    outcome, scored, driver_rows = score_distributed(
        lazy,
        finish,
        bundle.model,
        bundle.manifest,
        settings=settings,
        tiers=options.tiers,
        offer_config=options.offers,
        thresholds=options.thresholds,
        value_config=options.value,
        **people.contact(),
    )

    def write(folder: Path) -> None:
        write_spark_scores(scored, folder, as_of=settings.as_of, driver_rows=driver_rows)
        at_risk = scored.filter(scored.risk_tier.isin(list(options.tiers.at_risk)))
        write_partitioned(at_risk.drop("eligible"), folder / "at_risk_by_tier", by="risk_tier")

    return outcome, write


def log_headline(run: ScoringRun, options: ScoreOptions, folder: Path, seconds: float) -> None:
    """One log line that sums a scoring run up for the scheduler's log."""
    counts = run.outcome.counts
    log.info(
        "scored %s in %.1f s: %s; at-risk list %d; budget used %.2f of %.2f; exports in %s",
        run.as_of.date(),
        seconds,
        counts["by_status"],
        counts["at_risk"],
        run.outcome.assignment.budget_used,
        options.offers.budget,
        folder,
    )


def _check_references(manifest: Manifest, options: ScoreOptions) -> None:
    """Say when drift cannot be measured: no reference distributions in the manifest."""
    if manifest.reference_distributions:
        return
    message = (
        "the model's manifest holds no reference distributions: drift cannot be measured for "
        "this run"
    )
    if options.fail_on_drift:
        raise DriftError(f"{message}, and drift.fail_on_flag is true; train the model again")
    log.warning("%s (drift.fail_on_flag=true would stop here)", message)

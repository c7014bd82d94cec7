"""The export's ``manifest.json``: what was scored, with which model, and what came of it."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd

from churn.data import Dataset, fingerprint

if TYPE_CHECKING:
    from churn.scoring import ScoreOptions, ScoringOutcome

log = logging.getLogger(__name__)

TEST_METRICS = ("roc_auc", "brier", "ece")


def build_manifest(
    *,
    as_of: pd.Timestamp,
    end: pd.Timestamp,
    bundle_manifest: Mapping[str, Any],
    version: str,
    source: str,
    outcome: ScoringOutcome,
    rejects: pd.DataFrame,
    dataset: Dataset,
    options: ScoreOptions,
    drift: Mapping[str, Any],
    tiers: Mapping[str, Any],
    suppressed: int,
    cooled: int,
) -> dict[str, Any]:
    """The manifest of one export folder, JSON-ready.

    Args:
        as_of: the as-of date.
        end: the data end.
        bundle_manifest: the scoring bundle's manifest.
        version: the model version (the registry's, or the start of the model's digest).
        source: where the bundle came from (``bundle`` or ``registry``).
        outcome: the scoring run's result.
        rejects: the customers that could not be scored, with a reason.
        dataset: the loaded input (its fingerprint and row counts).
        options: the validated scoring options.
        drift: the drift summary.
        tiers: the tier config as given.
        suppressed: how many customers the suppression list holds.
        cooled: how many customers were in the cooldown.
    """
    offer_config, thresholds = options.offers, options.thresholds
    metrics = bundle_manifest.get("metrics", {})
    return {
        "as_of": str(as_of.date()),
        "data_end": str(end.date()),
        "created_at": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
        "model": {
            "version": version,
            "source": source,
            "sha256": bundle_manifest["model_sha256"],
            "data_end": bundle_manifest.get("data_end"),
            "horizon_days": bundle_manifest["horizon_days"],
            "test_metrics": {k: metrics.get(f"test/{k}") for k in TEST_METRICS},
        },
        "counts": {**outcome.counts, "rejected_customers": len(rejects)},
        "input": {
            "fingerprint": fingerprint(dataset.transactions),
            "rows": {
                name: {"input": r.input_rows, "used": r.used_rows, "rejected": r.rejected_rows}
                for name, r in dataset.reports.items()
            },
        },
        "tiers": dict(tiers),
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

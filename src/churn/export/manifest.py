"""The export's ``manifest.json`` as a typed record: what was scored, with which model, and what
came of it. Written as canonical JSON (sorted keys, fixed separators)."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from churn.data import Dataset, fingerprint
from churn.errors import ExportError
from churn.power import min_detectable_save_rate

if TYPE_CHECKING:
    from churn.bundle import Manifest
    from churn.offers import OfferConfig
    from churn.scoring import ScoreOptions, ScoringRun

log = logging.getLogger(__name__)

TEST_METRICS = ("roc_auc", "brier", "ece")
EXPORT_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class ScoredWith:
    """The model an export was scored with."""

    version: str
    source: str
    sha256: str
    data_end: str
    horizon_days: int
    test_metrics: Mapping[str, float | None] = field(default_factory=dict)


@dataclass(frozen=True)
class ExportManifest:
    """An export folder's manifest (``exports/<as_of>/manifest.json``)."""

    as_of: str
    data_end: str
    created_at: str
    model: ScoredWith
    counts: Mapping[str, Any]
    input: Mapping[str, Any]
    tiers: Mapping[str, Any]
    offers: Mapping[str, Any]
    drift: Mapping[str, Any]
    drift_by_column: tuple[Mapping[str, Any], ...] = ()
    seconds: Mapping[str, float] = field(default_factory=dict)
    shadow: Mapping[str, Any] | None = None  # the challenger scored beside (score.shadow)
    value: Mapping[str, Any] = field(default_factory=dict)  # value method and its parameters
    schema_version: int = EXPORT_SCHEMA_VERSION

    def with_updates(self, **changes: Any) -> ExportManifest:
        """A copy with some fields replaced (e.g. the stage timings before writing)."""
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; :meth:`from_dict` gives the same manifest back."""
        model = self.model
        return {
            "schema_version": self.schema_version,
            "as_of": self.as_of,
            "data_end": self.data_end,
            "created_at": self.created_at,
            "model": {
                "version": model.version,
                "source": model.source,
                "sha256": model.sha256,
                "data_end": model.data_end,
                "horizon_days": model.horizon_days,
                "test_metrics": dict(model.test_metrics),
            },
            "counts": dict(self.counts),
            "input": dict(self.input),
            "tiers": dict(self.tiers),
            "offers": dict(self.offers),
            "drift": dict(self.drift),
            "drift_by_column": [dict(row) for row in self.drift_by_column],
            "seconds": dict(self.seconds),
            "shadow": None if self.shadow is None else dict(self.shadow),
            "value": dict(self.value),
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], *, where: str = "manifest") -> ExportManifest:
        """The manifest from its JSON form.

        Raises:
            ExportError: another schema version or a missing field (named).
        """
        version = values.get("schema_version") if isinstance(values, Mapping) else None
        if version != EXPORT_SCHEMA_VERSION:
            raise ExportError(
                f"{where}: expected schema_version {EXPORT_SCHEMA_VERSION}; got {version!r} "
                "(an export from another release: score the date again)"
            )
        try:
            model = values["model"]
            return cls(
                as_of=str(values["as_of"]),
                data_end=str(values["data_end"]),
                created_at=str(values["created_at"]),
                model=ScoredWith(
                    version=str(model["version"]),
                    source=str(model["source"]),
                    sha256=str(model["sha256"]),
                    data_end=str(model["data_end"]),
                    horizon_days=int(model["horizon_days"]),
                    test_metrics=dict(model.get("test_metrics") or {}),
                ),
                counts=dict(values["counts"]),
                input=dict(values["input"]),
                tiers=dict(values["tiers"]),
                offers=dict(values["offers"]),
                drift=dict(values["drift"]),
                drift_by_column=tuple(dict(r) for r in values.get("drift_by_column") or ()),
                seconds=dict(values.get("seconds") or {}),
                shadow=_mapping_or_none(values.get("shadow")),
                value=dict(values.get("value") or {}),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise ExportError(f"{where}: a field is missing or malformed: {err}") from err


def build_manifest(
    run: ScoringRun,
    *,
    bundle: Manifest,
    source: str,
    dataset: Dataset,
    options: ScoreOptions,
    rejected_rows: str | os.PathLike[str] | None = None,
) -> ExportManifest:
    """The manifest of one scoring run's export folder.

    Args:
        run: the scoring run.
        bundle: the manifest of the bundle it scored with.
        source: where the bundle came from (``bundle`` or ``registry``).
        dataset: the loaded input (its fingerprint and row counts).
        options: the validated scoring options.
        rejected_rows: the file the load's rejected rows were written to (named in
            ``input.rejected_rows_file``; the export's ``rejects.csv`` lists customers).
    """
    outcome, people = run.outcome, run.population
    rows_file = {} if rejected_rows is None else {"rejected_rows_file": _shown(rejected_rows)}
    offer_config, thresholds = options.offers, options.thresholds
    return ExportManifest(
        as_of=str(run.as_of.date()),
        data_end=str(run.data_end.date()),
        created_at=pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
        model=ScoredWith(
            version=run.model_version,
            source=source,
            sha256=bundle.model.digest,
            data_end=bundle.data_end,
            horizon_days=bundle.horizon_days,
            test_metrics={k: bundle.metrics.get(f"test/{k}") for k in TEST_METRICS},
        ),
        counts={**outcome.counts, "rejected_customers": len(people.rejects)},
        input={
            "fingerprint": fingerprint(dataset.transactions),
            "rows": {
                name: {"input": r.input_rows, "used": r.used_rows, "rejected": r.rejected_rows}
                for name, r in dataset.reports.items()
            },
            **rows_file,
        },
        tiers=options.tiers.to_dict(),
        offers={
            "budget": offer_config.budget,
            "budget_used": outcome.assignment.budget_used,
            "control_fraction": offer_config.control_fraction,
            "cooldown_days": offer_config.cooldown_days,
            "suppressed": len(people.suppressed),
            "in_cooldown": len(people.cooled),
            "in_earlier_campaign": len(people.earlier),
            "by_offer": offer_arms(outcome.at_risk, offer_config),
            "save_rates": dict(run.save_rates),
            "plan": dict(outcome.assignment.plan),
            "exploration": _exploration(outcome.at_risk, offer_config),
        },
        drift={**run.drift, "thresholds": {"warn": thresholds.warn, "flag": thresholds.flag}},
        drift_by_column=tuple(
            {str(k): v for k, v in row.items()} for row in outcome.drift.to_dict("records")
        ),
        value=dict(outcome.value),
    )


def offer_arms(at_risk: pd.DataFrame, offer_config: OfferConfig) -> dict[str, Any]:
    """Per offer: contacted and control customers, and the smallest save rate they can show.

    The control churn expected is the mean predicted churn of the offer's control customers
    (``p = 1`` for those without a probability); the detectable save rate is at 80% power and
    the 5% level (:func:`churn.power.min_detectable_save_rate`), None when no rate is.
    """
    p = at_risk["churn_probability"].astype("float64").fillna(1.0)
    out: dict[str, Any] = {}
    for offer in offer_config.catalog:
        contacted = int((at_risk["offer"] == offer.name).fillna(False).sum())
        control = (at_risk["control_offer"] == offer.name).fillna(False).to_numpy(dtype=bool)
        if not contacted and not control.any():
            continue
        churn = float(p[control].mean()) if control.any() else None
        fraction = offer.control_fraction
        out[offer.name] = {
            "contacted": contacted,
            "control": int(control.sum()),
            "control_fraction": offer_config.control_fraction if fraction is None else fraction,
            "save_rate": offer.save_rate,
            "expected_control_churn": churn,
            "min_detectable_save_rate": None
            if churn is None
            else min_detectable_save_rate(churn, int(control.sum()), contacted),
        }
    return out


def _exploration(at_risk: pd.DataFrame, offer_config: OfferConfig) -> dict[str, Any]:
    """Customers exploration gave a random offer (offers.explore_fraction), and its cost."""
    explored = (at_risk["contact_status"] == "explore").fillna(False).to_numpy(dtype=bool)
    return {
        "fraction": offer_config.explore_fraction,
        "customers": int(explored.sum()),
        "cost": float(at_risk.loc[explored, "offer_cost"].sum()),
    }


def _shown(path: str | os.PathLike[str]) -> str:
    """A path as handed out: relative to the working directory when inside it, else its name."""
    resolved = Path(path).resolve()
    try:
        return resolved.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return resolved.name


def _mapping_or_none(value: Any) -> dict[str, Any] | None:
    return dict(value) if isinstance(value, Mapping) else None

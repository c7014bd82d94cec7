"""One past campaign measured: its arms per offer and tier, the plan's value, the model's quality.

:func:`measure_campaign` joins an export's rows with what happened in its outcome window and
returns a :class:`CampaignOutcome`: the tables people read (``by_offer``, ``by_offer_tier``,
``performance_by_tier``), the JSON summary and the metrics MLflow logs. Nothing in it depends on
when it runs, so measuring the same export on the same data twice gives the same result.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from churn.outcomes.exits import Answers
from churn.outcomes.exits import exit_reasons as count_exit_reasons
from churn.outcomes.exports import PastExport
from churn.outcomes.measure import TOTAL, analysed, itt_table, total_row
from churn.outcomes.performance import Performance, realised_performance
from churn.outcomes.realised import Observed, join_outcomes, window_outcomes
from churn.outcomes.settings import OutcomeConfig

log = logging.getLogger(__name__)

OUTCOMES_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class CampaignOutcome:
    """What one export's campaign achieved and how its predictions held up.

    Attributes:
        as_of: the export's as-of date.
        summary: the JSON-ready record written as ``outcomes.json``.
        by_offer: one row per offer and a last row ``all``
            (:data:`churn.outcomes.measure.CELL_COLUMNS`).
        by_offer_tier: one row per offer and risk tier.
        performance: the model's realised quality.
        exit_reasons: the exit reasons given, long (``exit_reasons.csv``); None without answers.
    """

    as_of: pd.Timestamp
    summary: Mapping[str, Any]
    by_offer: pd.DataFrame = field(repr=False)
    by_offer_tier: pd.DataFrame = field(repr=False)
    performance: Performance = field(repr=False)
    exit_reasons: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def warnings(self) -> list[str]:
        """Every warning of the measurement (also in ``summary['warnings']``)."""
        return list(self.summary["warnings"])

    def metrics(self) -> dict[str, float]:
        """Finite headline numbers to track: ``<offer>/<figure>``, ``performance/<metric>``."""
        out: dict[str, float] = {}
        for row in self.by_offer.to_dict(orient="records"):
            for name in ("save_rate", "save_rate_low", "save_rate_high", "customers_saved"):
                out[f"{row['offer']}/{name}"] = row[name]
            for name in ("incremental_value", "cost", "roi", "realised_net_benefit"):
                out[f"{row['offer']}/{name}"] = row[name]
            out[f"{row['offer']}/contacted"] = row["contacted"]
            out[f"{row['offer']}/control"] = row["control"]
            out[f"{row['offer']}/measurable"] = float(bool(row["measurable"]))
        for name, value in self.performance.metrics.items():
            out[f"performance/{name}"] = value  # type: ignore[assignment]
        for name, value in self.summary["counts"].items():
            out[f"counts/{name}"] = value
        return {
            k: float(v)
            for k, v in out.items()
            if v is not None and not isinstance(v, str) and math.isfinite(float(v))
        }


def measure_campaign(
    past: PastExport,
    observed: Observed,
    settings: OutcomeConfig,
    *,
    margin: float,
    save_rates: Mapping[str, float],
    answers: Answers | None = None,
) -> CampaignOutcome:
    """Measure one due export against the data.

    Args:
        past: the export (its window must end by the data end).
        observed: the data (:func:`churn.outcomes.realised.observe`).
        settings: the validated ``outcomes`` settings.
        margin: ``offers.margin``: the share of realised spend that is margin.
        save_rates: each offer's configured save rate (``offers.catalog``).
        answers: the data's exit survey answers (:func:`churn.outcomes.exits.survey_answers`);
            with answers from the export's customers the summary gains ``exit_reasons``.
    """
    window = window_outcomes(observed, past.as_of, past.horizon_days)
    joined = join_outcomes(past.scores, window, observed.known, margin=margin)
    # customers without a tier (lapsed, no purchase) are grouped under their status
    joined["risk_tier"] = joined["risk_tier"].fillna(joined["status"]).fillna("none").astype(str)
    kept, dropped = analysed(joined, overlap=settings.overlap)
    by_offer = itt_table(kept, save_rates=save_rates, settings=settings)
    total = total_row(kept, save_rates=save_rates, settings=settings)
    by_offer = pd.DataFrame(
        [*by_offer.to_dict(orient="records"), total], columns=by_offer.columns
    ).astype({"required_control": "Int64"})
    by_offer_tier = itt_table(kept, save_rates=save_rates, settings=settings, by=("risk_tier",))
    performance = realised_performance(
        kept,
        past.test_metrics,
        tolerance=settings.performance_tolerance,
        n_bins=settings.ece_bins,
    )
    counts = {
        "customers": len(joined),
        "not_in_data": int((~joined["in_data"]).sum()),
        "contacted": int(joined["offer"].notna().sum()),
        "control": int(joined["control_group"].sum()),
        **dropped,
    }
    warnings = [*past.notes, *performance.warnings]
    if dropped["left_data"]:
        warnings.append(
            f"{dropped['left_data']} contacted or control customers are no longer in the data "
            "(left_data): excluded from both arms"
        )
    summary = {
        "schema_version": OUTCOMES_SCHEMA_VERSION,
        "as_of": str(past.as_of.date()),
        "window": {"start": str(past.as_of.date()), "end": str(past.window_end.date())},
        "horizon_days": past.horizon_days,
        "data_end": str(observed.end.date()),
        "export": {"folder": str(past.folder), "model_version": past.model_version},
        "settings": {k: v for k, v in settings.to_dict().items() if k != "dir"},
        "margin": margin,
        "counts": counts,
        "by_offer": _records(by_offer[by_offer["offer"] != TOTAL]),
        "total": _records(by_offer[by_offer["offer"] == TOTAL])[0],
        "by_offer_tier": _records(by_offer_tier),
        "plan": _plan(by_offer),
        "performance": performance.to_dict(),
        "warnings": warnings,
    }
    exits = None
    if answers is not None and len(answers.rows):
        exits = count_exit_reasons(
            joined,
            answers,
            start=past.as_of,
            end=past.window_end,
            grace_days=settings.survey_grace_days,
            data_end=observed.end,
            top_reasons=past.top_reasons,
        )
    if exits is not None:
        summary["exit_reasons"] = exits.summary
    log.info(
        "outcomes %s: %d contacted, %d control, save rate %s, %d warnings",
        past.as_of.date(),
        counts["contacted"],
        counts["control"],
        _format(total["save_rate"]),
        len(warnings),
    )
    return CampaignOutcome(
        past.as_of,
        summary,
        by_offer,
        by_offer_tier,
        performance,
        None if exits is None else exits.table,
    )


def _plan(by_offer: pd.DataFrame) -> dict[str, Any]:
    """Expected (sum of expected_net_benefit) against realised (incremental value - cost)."""
    rows = _records(by_offer[["offer", "expected_net_benefit", "realised_net_benefit"]])
    total = next(r for r in rows if r["offer"] == TOTAL)
    return {
        "expected": total["expected_net_benefit"],
        "realised": total["realised_net_benefit"],
        "by_offer": [r for r in rows if r["offer"] != TOTAL],
    }


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): _plain(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]


def _plain(value: Any) -> Any:
    """A JSON value: numpy scalars as Python numbers, NaN and missing as null."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, bool | str):
        return value
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _format(value: float | None) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.3f}"

"""The report's campaign section: what the last campaigns achieved, and the model on real outcomes.

It reads ``outcomes.json`` of ``pipelines.outcomes`` (``report.outcomes``: the outcomes folder):
per campaign, the contacted and control customers, the measured save rate with its interval and
whether the fixed rule deems it measurable, the plan's expected and realised net benefit; for
the latest campaign, the same per offer, and the exit reasons its customers gave (when any
answered an exit survey) by risk tier next to the model's top reasons for the same customers;
and over all measured campaigns, the model's realised ROC-AUC, Brier and calibration error on
the customers nobody contacted, against its recorded test metrics.
"""

from __future__ import annotations

import html
import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from churn.errors import ExportError
from churn.reports.markup import table

if TYPE_CHECKING:
    from churn.reports.html import ReportData

log = logging.getLogger(__name__)

OUTCOMES_FILE = "outcomes.json"
_CAMPAIGN_KINDS = {
    "as-of date": "text",
    "contacted": "int",
    "control": "int",
    "save rate": "percent",
    "95% interval": "text",
    "measurable": "text",
    "expected net benefit": "money",
    "realised net benefit": "money",
}
_OFFER_KINDS = {
    "offer": "text",
    "contacted": "int",
    "control": "int",
    "churn contacted": "percent",
    "churn control": "percent",
    "save rate": "percent",
    "95% interval": "text",
    "configured": "percent",
    "measurable": "text",
    "ROI": "ratio",
}
_QUALITY_KINDS = {
    "as-of date": "text",
    "customers": "int",
    "ROC-AUC": "ratio",
    "test ROC-AUC": "ratio",
    "Brier": "ratio",
    "test Brier": "ratio",
    "ECE": "ratio",
    "test ECE": "ratio",
}


def read_outcomes(folder: str | os.PathLike[str] | None, *, last: int) -> list[dict[str, Any]]:
    """The ``last`` measured campaigns in ``folder`` (oldest first); none without a folder.

    Raises:
        ExportError: an ``outcomes.json`` that cannot be read.
    """
    if folder is None or not Path(folder).is_dir():
        return []
    paths = sorted(Path(folder).glob(f"*/{OUTCOMES_FILE}"))[-last:]
    found = []
    for path in paths:
        try:
            found.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError) as err:
            raise ExportError(f"report: cannot read the campaign outcomes {path}: {err}") from err
    log.info("report: %d measured campaigns from %s", len(found), folder)
    return found


def _interval(row: dict[str, Any]) -> str:
    low, high = row.get("save_rate_low"), row.get("save_rate_high")
    return "-" if low is None or high is None else f"{100 * low:.1f}% .. {100 * high:.1f}%"


def _measurable(row: dict[str, Any]) -> str:
    return "yes" if row.get("measurable") else (row.get("reason") or "no")


def _model_reasons(counts: Mapping[str, Any]) -> str:
    """``inactivity 12, complaints 3``: the model's top-reason families, most frequent first."""
    ranked = sorted(counts.items(), key=lambda item: (-int(item[1]), str(item[0])))
    return ", ".join(f"{name.replace('_', ' ')} {count}" for name, count in ranked) or "-"


def exit_reasons_part(campaign: Mapping[str, Any]) -> str:
    """The exit reasons given in one campaign, by risk tier, next to the model's top reasons."""
    exits = campaign.get("exit_reasons")
    if not exits:
        return ""
    reasons = [str(r) for r in exits["reasons"]]
    rows = exits["by_tier"]
    frame = pd.DataFrame(
        {
            "risk tier": [r["risk_tier"] for r in rows],
            "answered": [r["answered"] for r in rows],
            **{reason.replace("_", " "): [r.get(reason, 0) for r in rows] for reason in reasons},
            "model's top reasons": [_model_reasons(r.get("model_reasons", {})) for r in rows],
        }
    )
    kinds = {
        "risk tier": "text",
        "answered": "int",
        **{reason.replace("_", " "): "int" for reason in reasons},
        "model's top reasons": "text",
    }
    window = exits["window"]
    state = "" if exits.get("complete") else " (answers may still arrive: the window is open)"
    return (
        f"<h3>Why they left, campaign of {html.escape(str(campaign['as_of']))}</h3>"
        f"<p>{int(exits['answered'])} customers of the export answered an exit survey in "
        f"[{html.escape(window['start'])}, {html.escape(window['end'])}){html.escape(state)}: "
        "the reasons they gave by risk tier, and the model's top reason for the same customers "
        "(its family; not listed: off the at-risk list).</p>" + table(frame, kinds)
    )


def campaigns_section(data: ReportData) -> str:
    """What the last campaigns achieved against their control groups; the model's realised trend."""
    campaigns = list(data.campaigns)
    if not campaigns:
        return ""
    overview = pd.DataFrame(
        {
            "as-of date": [c["as_of"] for c in campaigns],
            "contacted": [c["total"].get("contacted") for c in campaigns],
            "control": [c["total"].get("control") for c in campaigns],
            "save rate": [c["total"].get("save_rate") for c in campaigns],
            "95% interval": [_interval(c["total"]) for c in campaigns],
            "measurable": [_measurable(c["total"]) for c in campaigns],
            "expected net benefit": [c["plan"].get("expected") for c in campaigns],
            "realised net benefit": [c["plan"].get("realised") for c in campaigns],
        }
    )
    latest = campaigns[-1]
    offers = pd.DataFrame(
        {
            "offer": [r["offer"] for r in latest["by_offer"]],
            "contacted": [r["contacted"] for r in latest["by_offer"]],
            "control": [r["control"] for r in latest["by_offer"]],
            "churn contacted": [r["churn_rate_contacted"] for r in latest["by_offer"]],
            "churn control": [r["churn_rate_control"] for r in latest["by_offer"]],
            "save rate": [r["save_rate"] for r in latest["by_offer"]],
            "95% interval": [_interval(r) for r in latest["by_offer"]],
            "configured": [r["configured_save_rate"] for r in latest["by_offer"]],
            "measurable": [_measurable(r) for r in latest["by_offer"]],
            "ROI": [r["roi"] for r in latest["by_offer"]],
        }
    )
    quality = pd.DataFrame(
        {
            "as-of date": [c["as_of"] for c in campaigns],
            "customers": [c["performance"]["metrics"].get("n_rows") for c in campaigns],
            **{
                f"{label}{name}": [(c["performance"].get(part) or {}).get(key) for c in campaigns]
                for key, name in (("roc_auc", "ROC-AUC"), ("brier", "Brier"), ("ece", "ECE"))
                for part, label in (("metrics", ""), ("test_metrics", "test "))
            },
        }
    )[list(_QUALITY_KINDS)]
    warnings = [w for c in campaigns for w in c["performance"].get("warnings", [])]
    verdict = (
        "<p class='flag'>" + html.escape("; ".join(warnings)) + "</p>"
        if warnings
        else "<p class='ok'>Realised quality within tolerance of the recorded test metrics.</p>"
    )
    return (
        "<section><h2>Campaigns: what they achieved</h2>"
        "<p>Each campaign against its control group, once its outcome window has passed "
        "(intention to treat: contacted means assigned an offer). Save rate: the share of "
        "would-be churners the offers kept, with a 95% interval; a result counts only when the "
        "rule fixed in config deems it measurable.</p>"
        + table(overview, _CAMPAIGN_KINDS)
        + f"<h3>By offer, campaign of {html.escape(str(latest['as_of']))}</h3>"
        + table(offers, _OFFER_KINDS)
        + exit_reasons_part(latest)
        + "<h3>The model on real outcomes</h3><p>Scored customers nobody contacted (the control "
        "group and those without an offer), against the model's recorded test metrics.</p>"
        + verdict
        + table(quality, _QUALITY_KINDS)
        + "</section>"
    )

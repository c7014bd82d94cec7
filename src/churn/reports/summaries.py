"""What the report tells of a scoring run (reasons by tier, the offer plan) and of the model."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from churn.bundle import Selection

log = logging.getLogger(__name__)

TIER_ORDER = ("low", "medium", "high", "very_high")


def reason_kind(text: str) -> str:
    """A reason with its numbers replaced by ``#``, so that reasons of one kind group together."""
    return re.sub(r"\d[\d,.]*%?", "#", text)


def top_reasons_by_tier(at_risk: pd.DataFrame, *, top: int = 3) -> pd.DataFrame:
    """The most frequent reason kinds among the three reasons, per risk tier."""
    scored = at_risk[at_risk["risk_tier"].notna()]
    long = scored.melt(
        id_vars=["risk_tier"], value_vars=["reason_1", "reason_2", "reason_3"], value_name="reason"
    ).dropna(subset=["reason"])
    if long.empty:
        return pd.DataFrame(columns=["tier", "reason", "customers"])
    long["reason"] = long["reason"].astype(str).map(reason_kind)
    counts = long.groupby(["risk_tier", "reason"]).size().rename("customers").reset_index()
    counts = counts.sort_values(["risk_tier", "customers"], ascending=[True, False])
    best = counts.groupby("risk_tier").head(top).rename(columns={"risk_tier": "tier"})
    order = {t: i for i, t in enumerate(TIER_ORDER)}
    best = best.assign(_o=best["tier"].map(order).fillna(99)).sort_values(
        ["_o", "customers"], ascending=[True, False]
    )
    return best.drop(columns="_o").reset_index(drop=True)


def offer_plan(at_risk: pd.DataFrame) -> pd.DataFrame:
    """Customers, cost and expected net benefit per offer, and the control group."""
    offered = at_risk[at_risk["offer"].notna()]
    plan = offered.groupby("offer").agg(
        customers=("customer_id", "size"),
        cost=("offer_cost", "sum"),
        expected_net_benefit=("expected_net_benefit", "sum"),
    )
    plan = plan.sort_values("expected_net_benefit", ascending=False)
    control = int(at_risk["control_group"].sum()) if "control_group" in at_risk else 0
    total = pd.DataFrame(
        {
            "customers": [plan["customers"].sum()],
            "cost": [plan["cost"].sum()],
            "expected_net_benefit": [plan["expected_net_benefit"].sum()],
        },
        index=["total"],
    )
    held = pd.DataFrame(
        {"customers": [control], "cost": [0.0], "expected_net_benefit": [float("nan")]},
        index=["control group (not contacted)"],
    )
    return pd.concat([plan, total, held])


def segment_table(slices: list[dict[str, Any]]) -> pd.DataFrame:
    """The model card's quality by segment: one row per segment with metrics, model against
    the best baseline (the evaluation's ``slices`` records)."""
    columns = {
        "rows": "rows",
        "churn_rate": "churn rate",
        "roc_auc": "ROC-AUC",
        "best_baseline_roc_auc": "best baseline ROC-AUC",
        "brier": "Brier",
        "best_baseline_brier": "best baseline Brier",
        "ece": "calibration error",
    }
    kept = [r for r in slices if "roc_auc" in r]
    if not kept:
        return pd.DataFrame()
    frame = pd.DataFrame(kept)
    frame["segment"] = frame["slice"].str.replace("_", " ") + ": " + frame["segment"]
    return frame.set_index("segment")[list(columns)].rename(columns=columns).reset_index()


def recipe_text(roles: Mapping[str, Any], *, test: bool) -> str:
    """One line on a recipe of the manifest: its cutoffs, calibration and (``test``) its test."""
    training = roles.get("training", [])
    span = f"{training[-1]} to {training[0]}" if training else "?"
    calibrated = (
        "calibrated out of fold by customer (cross-fitted)"
        if roles.get("calibration_mode") == "cross_fitted"
        else f"calibrated on {roles.get('calibration')}"
    )
    text = (
        f"trained on {len(training)} cutoffs {span} ({roles.get('training_rows', '?')} rows), "
        + calibrated
    )
    if not test:
        return text
    if roles.get("evaluation_mode") == "in_time":
        return f"{text}, tested in time on {roles.get('target')} (out of fold by customer)"
    return f"{text}, tested on {roles.get('target')}"


def evaluation_note(*, in_time: bool) -> str:
    """How the model card's test figures were measured."""
    if in_time:
        return (
            "<strong>In-time evaluation</strong> (too little history for an out-of-time test): "
            "measured on the latest cutoff whose outcome is known, each customer scored by a "
            "model fitted without that customer but on the same period, so these figures are "
            "optimistic and the promotion gate never compares them."
        )
    return (
        "Measured on the latest cutoff whose outcome is known, with a model trained only on "
        "earlier data."
    )


def clv_check_text(check: Mapping[str, Any] | None) -> str | None:
    """The CLV check's totals in one sentence (``evaluation.clv_check`` of a bundle), or None.

    None when the bundle has no check (the value model could not be fitted, or an older bundle).
    """
    if not check or not check.get("totals"):
        return None
    totals = check["totals"]

    def share(name: str) -> str:
        v = totals.get(name)
        return "n/a" if v is None else f"{100 * v:+.1f}%"

    def ratio(name: str) -> str:
        v = totals.get(name)
        return "n/a" if v is None else f"{v:.3f}"

    return (
        f"CLV check on the test window ({check.get('cutoff')} + {check.get('horizon_days')} "
        f"days, {int(totals.get('customers') or 0):,} buyers): predicted against actual spend "
        f"{share('spend_error')}, purchases {share('purchases_error')}; customer-level "
        f"correlation of predicted and actual spend {ratio('spend_pearson')} (Spearman "
        f"{ratio('spend_spearman')}). The value model (BG/NBD x Gamma-Gamma) is fitted on the "
        "data before the test cutoff; figures are undiscounted and not conditional on staying."
    )


_KIND_NAMES = {
    "calibrated-lightgbm": "calibrated LightGBM",
    "recency": "the recency baseline",
    "rfm_logistic": "the RFM logistic baseline",
    "bgnbd": "the BG/NBD baseline",
}


def deployed_name(kind: str) -> str:
    """The deployed scorer's kind in words."""
    return _KIND_NAMES.get(kind, kind)


def selection_text(selection: Selection | None) -> str:
    """How the deployed scorer was chosen (a :class:`churn.bundle.Selection`, or None)."""
    if selection is None:
        return "not recorded (trained before candidates were compared)"
    scores = ", ".join(
        f"{c.name} {c.brier:.4f}" for c in sorted(selection.candidates, key=lambda c: c.brier)
    )
    where = f" on {selection.validation} ({selection.rows} rows)" if selection.rows else ""
    text = f"{selection.chosen}: {selection.rule}{where}"
    return f"{text}; Brier {scores}" if scores else f"{text}; {selection.reason}"

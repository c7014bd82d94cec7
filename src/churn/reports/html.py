"""The report's HTML: sections, tables, cards and the self-contained page."""

from __future__ import annotations

import html
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from churn.reports.backtest_section import backtest_section as _backtest_section
from churn.reports.campaigns_section import campaigns_section as _campaigns_section
from churn.reports.figures import (
    figure_uri,
    file_uri,
    plot_cohort_heatmap,
    plot_kpi_trends,
    plot_retention_curves,
    plot_value_at_risk,
)
from churn.reports.markup import cards as _cards
from churn.reports.markup import fmt as _fmt
from churn.reports.markup import img as _img
from churn.reports.markup import table as _table
from churn.reports.style import CSS as _CSS
from churn.reports.summaries import (
    TIER_ORDER,
    clv_check_text,
    deployed_name,
    evaluation_note,
    offer_plan,
    recipe_text,
    segment_table,
    selection_text,
    top_reasons_by_tier,
)

if TYPE_CHECKING:
    from churn.bundle import Manifest
    from churn.export.manifest import ExportManifest

log = logging.getLogger(__name__)


@dataclass
class ReportData:
    """What the report shows; each part is optional but the KPIs."""

    title: str
    generated_at: str
    data_summary: Mapping[str, Any]
    freq: str
    period_kpis: pd.DataFrame
    summary: Mapping[str, float]
    cohorts: pd.DataFrame
    curve: pd.Series
    nps_value: float | None = None
    nps_groups: pd.DataFrame | None = None
    scoring: ExportManifest | None = None
    at_risk: pd.DataFrame | None = None
    model: Manifest | None = None
    model_plots: Mapping[str, Path] = field(default_factory=dict)
    churn_after_days: int = 90
    data_end: pd.Timestamp | None = None
    backtest: Mapping[str, Any] | None = None  # backtest.json of pipelines.backtest
    backtest_plots: Mapping[str, Path] = field(default_factory=dict)
    campaigns: Sequence[Mapping[str, Any]] = ()  # outcomes.json of the last measured campaigns

    def settled(self) -> np.ndarray:
        """Periods whose losses are all known: they end ``churn_after_days`` before the data end."""
        if self.data_end is None or self.period_kpis.empty:
            return np.ones(len(self.period_kpis), dtype=bool)
        ends = pd.PeriodIndex(self.period_kpis.index).end_time.normalize() + pd.Timedelta(days=1)
        limit = self.data_end - pd.Timedelta(days=self.churn_after_days)
        return np.asarray(ends <= limit)


def _kpi_section(data: ReportData) -> str:
    settled = data.settled()
    kpis = data.period_kpis.copy()
    summary = data.summary
    known = kpis[settled]
    latest = known.iloc[-1] if len(known) else None
    unit = {"M": "month", "Q": "quarter", "Y": "year"}.get(data.freq, data.freq)
    # periods whose losses are not all known yet are marked: their churn is understated
    kpis.index = [f"{p} *" if not ok else str(p) for p, ok in zip(kpis.index, settled, strict=True)]
    cards = [
        ("customers to date", _fmt(summary.get("customers"), "int")),
        ("repeat purchase rate (to date)", _fmt(summary.get("repeat_purchase_rate"), "percent")),
        ("orders per customer (to date)", _fmt(summary.get("purchase_frequency"))),
        ("average order value", _fmt(summary.get("average_order_value"))),
        ("average customer lifespan", f"{_fmt(summary.get('average_lifespan_days'), 'int')} days"),
    ]
    if latest is not None:
        cards[:0] = [
            (f"retention rate, {known.index[-1]}", _fmt(latest["retention_rate"], "percent")),
            (f"churn rate, {known.index[-1]}", _fmt(latest["churn_rate"], "percent")),
        ]
    if data.nps_value is not None and not math.isnan(data.nps_value):
        cards.append(("Net Promoter Score (latest answers)", f"{data.nps_value:+.0f}"))
    shown = kpis.tail(12)
    table = _table(
        shown[
            [
                "customers_start",
                "new_customers",
                "lost_customers",
                "customers_end",
                "retention_rate",
                "churn_rate",
                "repeat_purchase_rate",
                "purchase_frequency",
                "average_order_value",
            ]
        ].rename(
            columns={
                "customers_start": "customers at start",
                "new_customers": "new",
                "lost_customers": "lost",
                "customers_end": "customers at end",
                "retention_rate": "retention rate",
                "churn_rate": "churn rate",
                "repeat_purchase_rate": "repeat purchase rate",
                "purchase_frequency": "orders per active customer",
                "average_order_value": "average order value",
            }
        ),
        {
            "customers at start": "int",
            "new": "int",
            "lost": "int",
            "customers at end": "int",
            "retention rate": "percent",
            "churn rate": "percent",
            "repeat purchase rate": "percent",
        },
        index_name=unit,
    )
    nps = ""
    if data.nps_groups is not None and len(data.nps_groups):
        nps = (
            "<h3>Churn by NPS group</h3>"
            "<p class='note'>Each customer's latest NPS answer: promoters 9-10, passives 7-8, "
            "detractors 0-6; NPS = % promoters - % detractors.</p>"
            + _table(
                data.nps_groups,
                {"customers": "int", "lost_customers": "int", "churn_rate": "percent"},
                index_name="group",
            )
        )
    return (
        "<section><h2>Retention KPIs</h2>"
        + _cards(cards)
        + _img(figure_uri(plot_kpi_trends(kpis)), "retention and churn by period")
        + f"<h3>The last {len(shown)} full {unit}s</h3>"
        + table
        + "<p class='note'>Customer retention rate = (customers at end - new customers) / "
        "customers at start. Churn rate = customers lost in the period / customers at start; a "
        "customer is lost in the period of their last purchase once the data shows no purchase "
        f"for {data.churn_after_days} days after it, so the latest periods (marked *) are "
        "provisional: some of their customers may still turn out to be lost. Repeat purchase "
        "rate = share of the period's buyers who bought more than once in it.</p>"
        + nps
        + "</section>"
    )


def _cohort_section(data: ReportData) -> str:
    if data.cohorts.empty:
        return ""
    return (
        "<section><h2>Cohorts</h2>"
        "<p class='note'>Customers grouped by the period of their first purchase; each cell is "
        "the share of the cohort who bought in that period after acquisition.</p>"
        + _img(figure_uri(plot_cohort_heatmap(data.cohorts)), "cohort retention heatmap")
        + _img(figure_uri(plot_retention_curves(data.cohorts, data.curve)), "retention curves")
        + "</section>"
    )


def _scoring_section(data: ReportData) -> str:
    if data.scoring is None or data.at_risk is None:
        return (
            "<section><h2>Latest scoring run</h2><p>No scoring run found: run "
            "<code>python -m pipelines.score</code> first.</p></section>"
        )
    manifest = data.scoring
    counts = manifest.counts
    by_tier = (
        pd.DataFrame(
            {
                "customers": pd.Series(counts.get("by_tier", {}), dtype=float),
                "value_at_risk": pd.Series(counts.get("value_at_risk_by_tier", {}), dtype=float),
            }
        )
        .reindex([t for t in TIER_ORDER if t in counts.get("by_tier", {})])
        .fillna(0.0)
    )
    status = counts.get("by_status", {})
    offers_info = manifest.offers
    cards = [
        ("as-of date", manifest.as_of),
        ("customers scored", _fmt(status.get("scored", 0), "int")),
        ("lapsed (win-back targets)", _fmt(status.get("lapsed", 0), "int")),
        ("never bought (onboarding)", _fmt(status.get("no_purchase", 0), "int")),
        ("on the at-risk list", _fmt(counts.get("at_risk", 0), "int")),
        (
            "budget used",
            f"{_fmt(offers_info.get('budget_used'), 'money')} of "
            f"{_fmt(offers_info.get('budget'), 'money')}",
        ),
    ]
    drift_rows = [r for r in manifest.drift_by_column if r.get("status") != "ok"]
    if drift_rows:
        drift = _table(
            pd.DataFrame(drift_rows)[["column", "psi", "status"]].set_index("column"),
            {"psi": "ratio", "status": "text"},
            index_name="feature",
        )
    else:
        drift = (
            "<p class='ok'>No drift: every feature and the score are within the warning level "
            f"(PSI {manifest.drift.get('thresholds', {}).get('warn', 0.1)}) of the "
            "training data.</p>"
        )
    reasons = top_reasons_by_tier(data.at_risk)
    return (
        "<section><h2>Latest scoring run</h2>"
        + _cards(cards)
        + _img(figure_uri(plot_value_at_risk(by_tier)), "customers and value at risk by tier")
        + _table(by_tier, {"customers": "int", "value_at_risk": "money"}, index_name="risk tier")
        + "<h3>Offer plan</h3>"
        + _table(
            offer_plan(data.at_risk),
            {"customers": "int", "cost": "money", "expected_net_benefit": "money"},
            index_name="offer",
        )
        + "<p class='note'>Expected net benefit = churn probability x value x save rate - cost. "
        "The control group is a random share of the planned contacts, not contacted, so that "
        "next month's results show what the offers really saved.</p>"
        + "<h3>Most frequent reasons per tier</h3>"
        + _table(
            reasons.set_index("tier"), {"reason": "text", "customers": "int"}, index_name="tier"
        )
        + "<h3>Drift since training</h3>"
        + drift
        + "</section>"
    )


_SEGMENT_KINDS = {"segment": "text", "rows": "int", "churn rate": "percent"}


def _model_section(data: ReportData) -> str:
    model = data.model
    if model is None:
        return "<section><h2>Model card</h2><p>No trained model found.</p></section>"
    metrics = model.metrics
    scorers = {
        f"model ({deployed_name(model.model.kind)})": "test",
        "recency baseline": "test/recency",
        "RFM logistic baseline": "test/rfm_logistic",
        "BG/NBD baseline": "test/bgnbd",
        "oracle (true probabilities)": "test/oracle",
    }
    rows = {
        name: {
            "ROC-AUC": metrics.get(f"{prefix}/roc_auc"),
            "PR-AUC": metrics.get(f"{prefix}/pr_auc"),
            "Brier": metrics.get(f"{prefix}/brier"),
            "calibration error": metrics.get(f"{prefix}/ece"),
            "capture top 10%": metrics.get(f"{prefix}/capture_top10"),
        }
        for name, prefix in scorers.items()
        if f"{prefix}/roc_auc" in metrics
    }
    table = _table(
        pd.DataFrame.from_dict(rows, orient="index"),
        {k: "ratio" for k in ("ROC-AUC", "PR-AUC", "Brier", "calibration error")}
        | {"capture top 10%": "percent"},
        index_name="scorer",
    )
    facts = pd.DataFrame(
        {
            "value": [
                model.created_at,
                model.data_end,
                f"churn = no purchase in the next {model.horizon_days} days",
                recipe_text(model.evaluation, test=True),
                recipe_text(model.deployment, test=False),
                selection_text(model.selection),
                model.training.calibration,
                str((model.mlflow or {}).get("version", "not registered")),
            ]
        },
        index=[
            "trained",
            "data up to",
            "horizon",
            "evaluation (the figures below)",
            "deployed model (scores customers)",
            "deployed scorer, chosen by validation",
            "calibration method",
            "registry version",
        ],
    )
    images = "".join(
        f"<div>{_img(file_uri(path), name)}</div>"
        for name, path in data.model_plots.items()
        if path.is_file()
    )
    segments = segment_table(model.evaluation.get("slices") or [])
    by_segment = (
        ""
        if segments.empty
        else "<h3>Test cutoff: quality by segment</h3>"
        + _table(segments, dict.fromkeys(segments.columns, "ratio") | _SEGMENT_KINDS)
    )
    in_time = model.evaluation.get("evaluation_mode") == "in_time"
    clv_text = clv_check_text(model.evaluation.get("clv_check"))
    clv_note = "" if clv_text is None else f"<p class='note'>{html.escape(clv_text)}</p>"
    return (
        "<section><h2>Model card</h2>"
        + _table(facts, {"value": "text"}, index_name="")
        + f"<h3>Test cutoff{' (in-time)' if in_time else ''}: the model against simple "
        "baselines</h3>" + table + f"<p class='note'>{evaluation_note(in_time=in_time)} "
        "ROC-AUC and PR-AUC: how well the score ranks churners first (higher is better); "
        "Brier and calibration error: how close the probabilities "
        "are to what happened (lower is better); capture: share of all churners among the "
        "riskiest 10%.</p>"
        + by_segment
        + clv_note
        + f'<div class="grid">{images}</div>'
        + "</section>"
    )


def render(data: ReportData) -> str:
    """The whole report as one HTML document."""
    summary = data.data_summary
    subtitle = (
        f"Generated {data.generated_at} · data from {summary.get('first')} to "
        f"{summary.get('last')} · {summary.get('customers', 0):,} customers, "
        f"{summary.get('rows', 0):,} transactions"
    )
    body = (
        _kpi_section(data)
        + _cohort_section(data)
        + _scoring_section(data)
        + _model_section(data)
        + _campaigns_section(data)
        + _backtest_section(data)
    )
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(data.title)}</title><style>{_CSS}</style></head><body>"
        f"<header><h1>{html.escape(data.title)}</h1><p>{html.escape(subtitle)}</p></header>"
        f"<main>{body}</main></body></html>"
    )

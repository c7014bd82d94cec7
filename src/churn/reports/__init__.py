"""The retention report: one self-contained HTML file for a retention team.

Everything is inline (CSS, and plots as base64 PNG), so the file opens offline in any browser
and references no external resource. Sections: retention KPIs by period, cohorts and retention
curves, the latest scoring run (customers and value at risk by tier, the offer plan, the most
frequent reasons per tier, drift flags) and a model card (training window and cutoffs, horizon,
metrics against the baselines, reliability diagram, cumulative gain chart).
"""

from churn.reports.build import (
    FREQS,
    LatestExport,
    ReportConfig,
    backtest_folder,
    build_report,
    latest_backtest,
    latest_export,
    model_card,
)
from churn.reports.figures import (
    figure_uri,
    file_uri,
    plot_cohort_heatmap,
    plot_kpi_trends,
    plot_retention_curves,
    plot_value_at_risk,
)
from churn.reports.html import ReportData, render
from churn.reports.summaries import TIER_ORDER, offer_plan, reason_kind, top_reasons_by_tier

__all__ = [
    "FREQS",
    "TIER_ORDER",
    "LatestExport",
    "ReportConfig",
    "ReportData",
    "backtest_folder",
    "build_report",
    "figure_uri",
    "file_uri",
    "latest_backtest",
    "latest_export",
    "model_card",
    "offer_plan",
    "plot_cohort_heatmap",
    "plot_kpi_trends",
    "plot_retention_curves",
    "plot_value_at_risk",
    "reason_kind",
    "render",
    "top_reasons_by_tier",
]

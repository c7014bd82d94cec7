"""The model card's sentences drawn from a bundle's evaluation record."""

from __future__ import annotations

from churn.reports.build import MODEL_PLOTS
from churn.reports.summaries import clv_check_text


def test_clv_check_text_states_the_totals() -> None:
    check = {
        "cutoff": "2025-10-03",
        "horizon_days": 90,
        "totals": {
            "customers": 16911.0,
            "spend_error": -0.27,
            "purchases_error": 0.046,
            "spend_pearson": 0.8434,
            "spend_spearman": None,  # not finite when recorded
        },
    }
    text = clv_check_text(check)
    assert text is not None
    assert "2025-10-03 + 90 days, 16,911 buyers" in text
    assert "spend -27.0%, purchases +4.6%" in text
    assert "0.843 (Spearman n/a)" in text


def test_clv_check_text_without_a_check_is_none() -> None:
    assert clv_check_text(None) is None
    assert clv_check_text({"cutoff": "2025-10-03"}) is None


def test_model_plots_include_the_clv_check() -> None:
    assert "clv_check" in MODEL_PLOTS

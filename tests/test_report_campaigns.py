"""The report's campaign section: past campaigns' outcomes and the model's realised quality."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from churn.errors import ExportError
from churn.reports.campaigns_section import campaigns_section, read_outcomes


def _cell(offer: str, save: float | None, measurable: bool) -> dict[str, Any]:
    return {
        "offer": offer,
        "contacted": 400,
        "control": 40,
        "churn_rate_contacted": 0.5,
        "churn_rate_control": 0.6,
        "save_rate": save,
        "save_rate_low": None if save is None else save - 0.1,
        "save_rate_high": None if save is None else save + 0.1,
        "configured_save_rate": 0.15,
        "measurable": measurable,
        "reason": "" if measurable else "not enough control customers to tell (4 < 30)",
        "roi": 0.4,
    }


def _outcomes(as_of: str, roc: float, warnings: list[str]) -> dict[str, Any]:
    return {
        "as_of": as_of,
        "total": _cell("all", 0.12, True),
        "by_offer": [_cell("discount_voucher", 0.2, True), _cell("personal_call", None, False)],
        "plan": {"expected": 1000.0, "realised": 400.0},
        "performance": {
            "metrics": {"roc_auc": roc, "brier": 0.1, "ece": 0.02, "n_rows": 900},
            "test_metrics": {"roc_auc": 0.9, "brier": 0.1, "ece": 0.01},
            "warnings": warnings,
        },
    }


def _write(root: Path, document: dict[str, Any]) -> None:
    (root / document["as_of"]).mkdir(parents=True)
    (root / document["as_of"] / "outcomes.json").write_text(json.dumps(document))


def test_read_outcomes_keeps_the_last_campaigns_in_date_order(tmp_path: Path) -> None:
    for day in ("2026-03-02", "2026-01-01", "2026-01-31"):
        _write(tmp_path, _outcomes(day, 0.9, []))
    (tmp_path / "2026-04-01").mkdir()  # a campaign not measured yet
    got = read_outcomes(tmp_path, last=2)
    assert [c["as_of"] for c in got] == ["2026-01-31", "2026-03-02"]
    assert read_outcomes(tmp_path / "none", last=6) == []
    assert read_outcomes(None, last=6) == []
    (tmp_path / "2026-05-01").mkdir()
    (tmp_path / "2026-05-01" / "outcomes.json").write_text("{broken")
    with pytest.raises(ExportError, match="cannot read the campaign outcomes"):
        read_outcomes(tmp_path, last=6)


def test_campaigns_section_shows_results_offers_and_the_quality_trend() -> None:
    campaigns = [_outcomes("2026-01-01", 0.91, []), _outcomes("2026-01-31", 0.80, ["below"])]
    page = campaigns_section(SimpleNamespace(campaigns=campaigns))  # type: ignore[arg-type]
    assert "Campaigns: what they achieved" in page
    assert "2026-01-01" in page
    assert "2026-01-31" in page
    assert "12.0%" in page  # the total save rate
    assert "2.0% .. 22.0%" in page  # its interval
    assert "By offer, campaign of 2026-01-31" in page
    assert "not enough control customers to tell" in page
    assert "0.800" in page  # realised ROC-AUC over time
    assert "0.910" in page
    assert "class='flag'>below" in page
    assert campaigns_section(SimpleNamespace(campaigns=[])) == ""  # type: ignore[arg-type]


def _exit_reasons() -> dict[str, Any]:
    return {
        "reasons": ["price", "service", "other"],
        "window": {"start": "2026-01-31", "end": "2026-05-31"},
        "grace_days": 30,
        "complete": False,
        "answered": 9,
        "by_tier": [
            {
                "risk_tier": "high",
                "answered": 7,
                "price": 1,
                "service": 5,
                "other": 1,
                "model_reasons": {"complaints": 4, "inactivity": 2, "not_listed": 1},
            },
            {
                "risk_tier": "low",
                "answered": 2,
                "price": 2,
                "service": 0,
                "other": 0,
                "model_reasons": {"not_listed": 2},
            },
        ],
        "by_arm": [],
        "by_model_reason": [],
    }


def test_campaigns_section_shows_the_exit_reasons_of_the_latest_campaign() -> None:
    older = _outcomes("2026-01-01", 0.9, [])
    older["exit_reasons"] = {**_exit_reasons(), "answered": 1234}
    latest = _outcomes("2026-01-31", 0.9, [])
    latest["exit_reasons"] = _exit_reasons()
    page = campaigns_section(SimpleNamespace(campaigns=[older, latest]))  # type: ignore[arg-type]
    assert "Why they left, campaign of 2026-01-31" in page
    assert "9 customers of the export answered an exit survey" in page
    assert "1234" not in page  # only the latest campaign's reasons
    assert "answers may still arrive" in page
    assert '<th class="">service</th>' in page
    assert "complaints 4, inactivity 2, not listed 1" in page
    assert ">not listed 2<" in page


def test_campaigns_section_without_exit_reasons_has_no_reasons_part() -> None:
    data = SimpleNamespace(campaigns=[_outcomes("2026-01-31", 0.9, [])])
    assert "Why they left" not in campaigns_section(data)  # type: ignore[arg-type]

"""The report's backtest section and how the report finds a backtest's results."""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from churn import reports
from churn.errors import ConfigError
from churn.reports.backtest_section import backtest_section


def _results(worse: bool) -> dict[str, object]:
    row = {
        "date": "2025-10-03",
        "metric": "roc_auc",
        "best_baseline": "bgnbd",
        "model": 0.91,
        "baseline": 0.92 if worse else 0.90,
        "difference": -0.01 if worse else 0.01,
        "low": -0.02 if worse else 0.005,
        "high": -0.005 if worse else 0.015,
        "significantly_worse": worse,
    }
    return {"plan": {"dates": ["2025-10-03"]}, "differences": [row]}


@pytest.mark.parametrize("worse", [False, True])
def test_backtest_section_says_whether_the_model_lost(worse: bool) -> None:
    page = backtest_section(SimpleNamespace(backtest=_results(worse), backtest_plots={}))  # type: ignore[arg-type]
    assert "Backtest: the recipe replayed at past dates" in page
    assert "2025-10-03" in page
    assert "bgnbd" in page
    if worse:
        assert "1 of 1 comparisons significantly worse" in page
    else:
        assert "Never significantly worse than the best baseline" in page


def test_backtest_section_is_empty_without_results() -> None:
    assert backtest_section(SimpleNamespace(backtest=None, backtest_plots={})) == ""  # type: ignore[arg-type]


def test_backtest_folder_latest_named_and_none(tmp_path: Path) -> None:
    older = tmp_path / "outputs" / "2026-01-01" / "10-00-00" / "backtest"
    newer = tmp_path / "outputs" / "2026-01-02" / "09-00-00" / "backtest"
    for i, folder in enumerate((older, newer)):
        folder.mkdir(parents=True)
        (folder / "backtest.json").write_text(json.dumps(_results(False)), encoding="utf-8")
        os.utime(folder / "backtest.json", (1_000_000 + i, 1_000_000 + i))
    assert reports.backtest_folder("latest", root=tmp_path / "outputs") == newer
    assert reports.backtest_folder(str(older), root=tmp_path / "outputs") == older
    assert reports.backtest_folder(None, root=tmp_path / "outputs") is None
    assert reports.backtest_folder("latest", root=tmp_path / "nothing") is None
    with pytest.raises(ConfigError, match=r"report\.backtest: expected a backtest folder"):
        reports.backtest_folder(str(tmp_path), root=tmp_path)

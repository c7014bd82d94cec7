"""``python -m pipelines.report`` after a small train and score, and the HTML in a real browser."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from mlflow import MlflowClient

from churn import reports
from pipelines import report, score, train
from tests.conftest import compose_config

FAST_TRAIN = [
    "model.n_jobs=1",
    "model.early_stopping_rounds=20",
    "train.shap_rows=200",
    "engine.threads=1",
    "promotion.metrics=[brier]",
]
# Anything that would make the browser fetch something: the report must open offline.
EXTERNAL = re.compile(
    r"""(?:src|href)\s*=\s*["']?(?!data:|#)[^"'\s>]+|url\(\s*["']?(?!data:)|@import""",
    re.IGNORECASE,
)


@pytest.fixture(scope="module")
def reported(small_demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> report.ReportResult:
    """Train, score and report on the small demo world, tracking to SQLite in one folder."""
    work = tmp_path_factory.mktemp("report")
    common = [
        f"data.generate.output_dir={small_demo_dir}",
        f"model_dir={work}/models/churn",
        f"tracking.uri=sqlite:///{work}/mlflow.db",
    ]
    cwd = Path.cwd()
    os.chdir(work)
    try:
        train.run(compose_config("train", [*common, f"output_dir={work}/train", *FAST_TRAIN]))
        score.run(
            compose_config(
                "score", [*common, f"output_dir={work}/score", f"export.dir={work}/exports"]
            )
        )
        return report.run(
            compose_config(
                "report",
                [*common, f"output_dir={work}/report", f"export.dir={work}/exports"],
            )
        )
    finally:
        os.chdir(cwd)


def test_report_written_next_to_the_latest_export(reported: report.ReportResult) -> None:
    assert reported.export_folder is not None
    assert reported.path == reported.export_folder / "report.html"
    assert oct(reported.path.stat().st_mode & 0o777) == "0o600"


def test_report_is_self_contained(reported: report.ReportResult) -> None:
    page = reported.path.read_text(encoding="utf-8")
    assert EXTERNAL.findall(page) == []
    images = re.findall(r'<img src="data:image/png;base64,', page)
    assert len(images) >= 6  # trends, heatmap, curves, value at risk, reliability, gain
    for heading in (
        "Retention KPIs",
        "Cohorts",
        "Latest scoring run",
        "Offer plan",
        "Most frequent reasons per tier",
        "Drift since training",
        "Model card",
    ):
        assert heading in page, heading
    assert "Net Promoter Score" in page
    assert "BG/NBD baseline" in page
    assert "Test cutoff: quality by segment" in page
    assert "lifecycle stage: established" in page
    assert "CLV check on the test window" in page


def test_report_logged_to_mlflow(reported: report.ReportResult) -> None:
    assert reported.mlflow_run_id is not None
    work = reported.path.parents[2]
    client = MlflowClient(tracking_uri=f"sqlite:///{work}/mlflow.db")
    artifacts = {a.path for a in client.list_artifacts(reported.mlflow_run_id)}
    assert artifacts == {"report.html"}


def test_report_without_scoring_or_model(small_demo_dir: Path, tmp_path: Path) -> None:
    result = report.run(
        compose_config(
            "report",
            [
                f"data.generate.output_dir={small_demo_dir}",
                f"model_dir={tmp_path}/none",
                f"export.dir={tmp_path}/exports",
                f"output_dir={tmp_path}/run",
                "tracking=none",
                "report.freq=Q",
            ],
        )
    )
    assert result.path == tmp_path / "run" / "report.html"
    page = result.path.read_text(encoding="utf-8")
    assert "No scoring run found" in page
    assert "No trained model found" in page
    assert EXTERNAL.findall(page) == []


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def test_report_renders_in_headless_chromium(reported: report.ReportResult, tmp_path: Path) -> None:
    browser = _chromium()
    if browser is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is not installed (apt-get install chromium); required in CI")
        pytest.skip("chromium is not installed (Debian: apt-get install chromium)")
    shot = tmp_path / "report.png"
    with tempfile.TemporaryDirectory() as profile:
        proc = subprocess.run(
            [
                browser,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                f"--user-data-dir={profile}",
                f"--screenshot={shot}",
                "--window-size=1280,2000",
                reported.path.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 50_000  # a page of charts and tables, not a blank screen


def test_reason_kind_groups_numbers() -> None:
    assert reports.reason_kind("no purchase for 74 days, usually every 21") == (
        "no purchase for # days, usually every #"
    )
    assert reports.reason_kind("spent only 1,234.50 in the last 30 days") == (
        "spent only # in the last # days"
    )


def test_top_reasons_by_tier_and_offer_plan() -> None:
    at_risk = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d"],
            "risk_tier": ["high", "high", "very_high", None],
            "reason_1": ["no purchase for 10 days", "no purchase for 12 days", "x", None],
            "reason_2": ["1 complaint", None, "no purchase for 5 days", None],
            "reason_3": [None, None, None, None],
            "offer": ["call", "call", None, "win_back"],
            "offer_cost": [25.0, 25.0, 0.0, 3.0],
            "expected_net_benefit": [10.0, 5.0, float("nan"), 1.0],
            "control_group": [False, False, True, False],
        }
    )

    reasons = reports.top_reasons_by_tier(at_risk, top=1)
    plan = reports.offer_plan(at_risk)

    assert reasons.to_dict("records") == [
        {"tier": "high", "reason": "no purchase for # days", "customers": 2},
        {"tier": "very_high", "reason": "no purchase for # days", "customers": 1},
    ]
    assert plan.loc["call", "customers"] == 2
    assert plan.loc["total", "cost"] == 53.0
    assert plan.loc["control group (not contacted)", "customers"] == 1

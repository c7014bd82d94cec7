"""Progress: a bar on a terminal only; elsewhere at most one log line per interval."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from churn import engine
from churn.export.files import write_exports
from churn.features import FeatureConfig, build_features
from churn.progress import Progress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_no_bar_when_stderr_is_not_a_terminal(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("CHURN_PROGRESS", raising=False)
    stream, clock = io.StringIO(), _Clock()
    caplog.set_level(logging.INFO, logger="churn.progress")
    with Progress("scoring", total=1000, unit="customers", stream=stream, clock=clock) as p:
        for _ in range(100):  # 100 updates over 99 s: lines at 30, 60 and 90 s only
            p.update(10)
            clock.now += 1.0
    assert p.mode == "log"
    assert stream.getvalue() == ""
    lines = [r.getMessage() for r in caplog.records if r.name == "churn.progress"]
    assert len(lines) == p.lines == 3
    assert lines[0] == "scoring: 310 customers of 1,000 (31%), 10 customers/s, about 67 s left"


def test_a_short_stage_logs_nothing(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("CHURN_PROGRESS", raising=False)
    caplog.set_level(logging.INFO, logger="churn.progress")
    with Progress("export", total=3, stream=io.StringIO()) as p:
        p.update(3)
    assert not [r for r in caplog.records if r.name == "churn.progress"]


def test_bar_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHURN_PROGRESS", raising=False)
    stream = _Terminal()
    with Progress("scoring", total=50, unit="customers", stream=stream) as p:
        p.update(50)
    assert p.mode == "bar"
    assert "scoring" in stream.getvalue()


@pytest.mark.parametrize("mode", ["off", "log"])
def test_environment_overrides_the_terminal(monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    monkeypatch.setenv("CHURN_PROGRESS", mode)
    stream = _Terminal()
    with Progress("scoring", total=5, stream=stream) as p:
        p.update(5)
    assert p.mode == mode
    assert stream.getvalue() == ""


def test_feature_batches_and_export_files_report_progress(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("CHURN_PROGRESS", "bar")
    tx = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b"],
            "timestamp": pd.to_datetime(["2025-01-01", "2025-02-01", "2025-01-15"]),
            "amount": [10.0, 20.0, 5.0],
        }
    )
    con = engine.connect({"name": "duckdb"})
    tables = engine.register(con, pa.Table.from_pandas(tx, preserve_index=False))
    features = build_features(
        tables.transactions,
        [pd.Timestamp("2025-03-01")],
        FeatureConfig(btyd_enabled=False),
        horizon_days=30,
    )
    assert features.num_rows == 2
    frame = pd.DataFrame({"customer_id": ["a"]})
    write_exports(tmp_path / "out", scores=frame, at_risk=frame, rejects=frame, manifest={})
    err = capsys.readouterr().err
    assert "feature batches" in err
    assert "export" in err

"""Stage timings: one line per stage, ``done`` or ``failed``, never ``done`` for a failure."""

from __future__ import annotations

import logging

import pytest

from churn.timing import Stopwatch


def test_a_stage_logs_done_with_its_time(caplog: pytest.LogCaptureFixture) -> None:
    watch = Stopwatch()
    with caplog.at_level(logging.INFO, logger="churn.timing"), watch.stage("load"):
        pass
    assert [r.getMessage()[: len("stage load: done in")] for r in caplog.records] == [
        "stage load: done in"
    ]
    assert set(watch.seconds) == {"load"}


def test_a_failing_stage_logs_failed_and_never_done(caplog: pytest.LogCaptureFixture) -> None:
    watch = Stopwatch()
    with (
        caplog.at_level(logging.INFO, logger="churn.timing"),
        pytest.raises(OSError, match="disk"),
        watch.stage("export"),
    ):
        raise OSError("disk full")
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 1
    assert messages[0].startswith("stage export: failed after ")
    assert messages[0].endswith("s (OSError)")
    assert caplog.records[0].levelno == logging.ERROR
    assert "export" in watch.seconds

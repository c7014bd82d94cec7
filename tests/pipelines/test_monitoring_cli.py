"""Monitoring that says when it is off, through the command line: library versions compared at
load, missing drift references, and the model's age."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from churn import bundle
from tests.pipelines.conftest import copy_store, edit_manifest, score_cli


def _copy_with(store: Path, tmp_path: Path, edit: Any) -> Path:
    copy = copy_store(store, tmp_path)
    edit_manifest(copy / "champion", edit)
    return copy


def _score(
    demo: Path, store: Path, tmp_path: Path, *extra: str
) -> subprocess.CompletedProcess[str]:
    return score_cli(demo, store, tmp_path, *extra, env={bundle.KEY_VARIABLE: None})


def _log(tmp_path: Path) -> str:
    return (tmp_path / "score" / "score.log").read_text(encoding="utf-8")


def test_a_bundle_claiming_an_old_lightgbm_is_refused(
    store: Path, small_demo_dir: Path, tmp_path: Path
) -> None:
    copy = _copy_with(store, tmp_path, lambda m: m["libraries"].update(lightgbm="3.0"))
    proc = _score(small_demo_dir, copy, tmp_path)
    assert proc.returncode == 5, proc.stderr[-2000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert "lightgbm 3.0 at training" in last
    assert "score.allow_library_change=true" in last
    allowed = _score(small_demo_dir, copy, tmp_path, "score.allow_library_change=true")
    assert allowed.returncode == 0, allowed.stderr[-2000:]
    assert "library versions changed since training: lightgbm 3.0 at training" in _log(tmp_path)


def test_other_feature_definitions_are_refused(
    store: Path, small_demo_dir: Path, tmp_path: Path
) -> None:
    copy = _copy_with(store, tmp_path, lambda m: m["libraries"].update({"churn-features": "0"}))
    proc = _score(small_demo_dir, copy, tmp_path, "score.allow_library_change=true")
    assert proc.returncode == 5, proc.stderr[-2000:]
    assert "feature definitions version 0" in proc.stderr.strip().splitlines()[-1]


def test_missing_drift_references_warn_and_fail_under_fail_on_flag(
    store: Path, small_demo_dir: Path, tmp_path: Path
) -> None:
    copy = _copy_with(store, tmp_path, lambda m: m.update(reference_distributions={}))
    proc = _score(small_demo_dir, copy, tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "holds no reference distributions: drift cannot be measured" in _log(tmp_path)
    strict = _score(small_demo_dir, copy, tmp_path, "drift.fail_on_flag=true", "as_of=2025-12-02")
    assert strict.returncode == 6, strict.stderr[-2000:]
    assert "drift.fail_on_flag is true" in strict.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize(
    ("as_of", "extra", "expected"),
    [
        ("2026-12-01", "score.max_model_age_days=90", "days before the as-of date 2026-12-01"),
        ("2025-06-01", "score.max_model_age_days=90", "after the as-of date 2025-06-01"),
    ],
    ids=["stale", "trained-after-as-of"],
)
def test_the_model_age_warnings(
    store: Path, small_demo_dir: Path, tmp_path: Path, as_of: str, extra: str, expected: str
) -> None:
    proc = _score(small_demo_dir, store, tmp_path, f"as_of={as_of}", extra)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert expected in _log(tmp_path)

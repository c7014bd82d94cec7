"""Atomic, private writes: all or nothing, never a partial file or folder."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from churn.files import atomic_directory, atomic_file


def _leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.startswith(".")]


def test_atomic_file_replaces_and_is_private(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "out.csv"
    with atomic_file(target) as tmp:
        tmp.write_text("first")
    with atomic_file(target) as tmp:
        tmp.write_text("second")
    assert target.read_text() == "second"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert _leftovers(target.parent) == []


def test_atomic_file_public_mode(tmp_path: Path) -> None:
    with atomic_file(tmp_path / "summary.json", private=False) as tmp:
        tmp.write_text("{}")
    assert stat.S_IMODE((tmp_path / "summary.json").stat().st_mode) == 0o644


def test_atomic_file_crash_keeps_old_content(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="disk full"), atomic_file(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("disk full")
    assert target.read_text() == "old"
    assert _leftovers(tmp_path) == []


def test_atomic_directory_replaces_whole_folder(tmp_path: Path) -> None:
    target = tmp_path / "exports" / "2026-01-01"
    with atomic_directory(target) as tmp:
        (tmp / "a.csv").write_text("a")
        (tmp / "stale.csv").write_text("stale")
    with atomic_directory(target) as tmp:
        (tmp / "a.csv").write_text("new a")
    assert sorted(p.name for p in target.iterdir()) == ["a.csv"]
    assert (target / "a.csv").read_text() == "new a"
    assert stat.S_IMODE(target.stat().st_mode) == 0o700
    assert stat.S_IMODE((target / "a.csv").stat().st_mode) == 0o600
    assert _leftovers(target.parent) == []


def test_atomic_directory_crash_leaves_no_partial_files(tmp_path: Path) -> None:
    target = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt), atomic_directory(target) as tmp:
        (tmp / "scores.parquet").write_text("partial")
        raise KeyboardInterrupt
    assert not target.exists()
    assert _leftovers(tmp_path) == []


def test_atomic_directory_crash_keeps_previous_folder(tmp_path: Path) -> None:
    target = tmp_path / "out"
    with atomic_directory(target) as tmp:
        (tmp / "a.csv").write_text("good")
    with pytest.raises(ValueError, match="boom"), atomic_directory(target) as tmp:
        (tmp / "a.csv").write_text("bad")
        raise ValueError("boom")
    assert (target / "a.csv").read_text() == "good"

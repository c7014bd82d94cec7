"""Atomic, private writes: all or nothing, never a partial file or folder."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from churn import files
from churn.errors import LockedError
from churn.files import atomic_directory, atomic_file


def _leftovers(folder: Path) -> list[str]:
    """Hidden temporary files and folders (the lock files hold no data and stay)."""
    return [p.name for p in folder.iterdir() if p.name.startswith(".") and p.suffix != ".lock"]


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


def test_atomic_directory_exchanges_in_one_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "exports" / "2026-01-01"
    with atomic_directory(target) as tmp:
        (tmp / "a.csv").write_text("old")
    calls: list[str] = []
    real_rename = os.rename

    def rename(src: object, dst: object) -> None:
        calls.append("rename")
        real_rename(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(files.os, "rename", rename)
    with atomic_directory(target) as tmp:
        (tmp / "a.csv").write_text("new")
    assert calls == []  # an existing folder is exchanged, never moved away and back
    assert (target / "a.csv").read_text() == "new"


# Every point between two filesystem calls where a run can die, on both ways of replacing.
STEPS = ["filled", "exchanged", "published"]
FALLBACK_STEPS = ["filled", "moved aside", "published"]

_KILL = """
import os, sys
from pathlib import Path
from churn import files

step, target, fallback = sys.argv[1], Path(sys.argv[2]), sys.argv[3] == "1"
def fault(name):
    if name == step:
        os._exit(9)  # a kill: no cleanup, no finally
files._fault = fault
if fallback:
    def exchange(first, second):
        raise OSError(22, "Invalid argument", str(second))
    files.exchange = exchange
with files.atomic_directory(target) as tmp:
    (tmp / "a.csv").write_text("new")
    (tmp / "b.csv").write_text("new")
"""


@pytest.mark.parametrize("fallback", [False, True], ids=["exchange", "two-renames"])
def test_a_kill_at_any_step_leaves_a_whole_folder(tmp_path: Path, fallback: bool) -> None:
    for step in FALLBACK_STEPS if fallback else STEPS:
        target = tmp_path / step.replace(" ", "-") / "2026-01-01"
        with atomic_directory(target) as tmp:
            (tmp / "a.csv").write_text("old")
            (tmp / "b.csv").write_text("old")
        proc = subprocess.run(
            [sys.executable, "-c", _KILL, step, str(target), "1" if fallback else "0"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 9, proc.stderr
        if os.path.lexists(target):
            contents = {(target / n).read_text() for n in ("a.csv", "b.csv")}
            assert contents in ({"old"}, {"new"}), step  # never a mix
        else:
            assert fallback
            assert step == "moved aside"  # the one window, repaired by the next run
        # the next run repairs and cleans up what the killed one left
        with atomic_directory(target) as tmp:
            (tmp / "a.csv").write_text("next")
        assert (target / "a.csv").read_text() == "next"
        assert _leftovers(target.parent) == []


def test_a_folder_moved_aside_by_a_killed_run_is_restored(tmp_path: Path) -> None:
    target = tmp_path / "2026-01-01"
    with atomic_directory(target) as tmp:
        (tmp / "a.csv").write_text("old")
    aside = tmp_path / ".2026-01-01.x.old"
    aside.mkdir()
    os.rename(target, aside / target.name)
    with pytest.raises(RuntimeError), atomic_directory(target):
        assert (target / "a.csv").read_text() == "old"  # restored before the work starts
        raise RuntimeError
    assert (target / "a.csv").read_text() == "old"


def test_a_second_run_on_the_same_target_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "2026-01-01"
    with atomic_directory(target) as tmp:
        (tmp / "a.csv").write_text("first")
        with (
            pytest.raises(
                LockedError, match=rf"2026-01-01: locked by another run \(pid {os.getpid()}"
            ),
            atomic_directory(target),
        ):
            pass
    assert (target / "a.csv").read_text() == "first"
    assert LockedError.exit_code == 9


def test_stale_folders_of_another_target_are_left_alone(tmp_path: Path) -> None:
    other = tmp_path / ".2026-02-01.abc.tmp"
    other.mkdir()
    with atomic_directory(tmp_path / "2026-01-01") as tmp:
        (tmp / "a.csv").write_text("x")
    assert other.is_dir()

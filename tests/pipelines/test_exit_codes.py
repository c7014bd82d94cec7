"""Every known failure through the command line: its exit code and a one-line reason as the
last line of stderr, never Hydra's hint or a traceback."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from churn import bundle, files
from tests.conftest import run_pipeline
from tests.pipelines.conftest import copy_store, edit_manifest, score_cli

REPO = Path(__file__).resolve().parents[2]


def _last_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert "HYDRA_FULL_ERROR" not in proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    return proc.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize(
    ("module", "override", "expected"),
    [
        (
            "train",
            "label.horizon_dayz=30",
            "ConfigError: command line: Could not override 'label.horizon_dayz'.",
        ),
        ("train", "data.path=a;b", "ConfigError: command line: LexerNoViableAltException"),
        ("score", "tiers=nosuch", "ConfigError: command line: In 'score': Could not find"),
        ("score", "tiers.edges=[0.0,abc,0.5,0.75,1.0]", "ConfigError: tiers.edges: expected a"),
        ("score", "offers.budget=abc", "ConfigError: offers.budget: expected a finite number"),
        ("score", "score.batch_size=many", "ConfigError: score.batch_size: expected a whole"),
        ("train", "model.n_estimators=abc", "ConfigError: model.n_estimators: expected a whole"),
        ("train", "model.n_jobs=1.5", "ConfigError: model.n_jobs: expected a whole number"),
        ("train", "train.shap_rows=abc", "ConfigError: train.shap_rows: expected a whole"),
        ("train", "store.keep_versions=0", "ConfigError: store.keep_versions: expected a whole"),
        ("uplift", "uplift.min_campaigns=abc", "ConfigError: uplift.min_campaigns: expected a"),
        ("uplift", "uplift.params.num_leaves=many", "ConfigError: uplift.params: "),
    ],
)
def test_bad_configuration_exits_2_before_any_work(
    tmp_path: Path, module: str, override: str, expected: str
) -> None:
    proc = run_pipeline(
        module,
        override,
        f"hydra.run.dir={tmp_path}/run",
        f"data.generate.output_dir={tmp_path}/never",
        cwd=tmp_path,
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert _last_line(proc).startswith(expected)
    assert not (tmp_path / "never").exists()  # no demo data generated: no work was done


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda m: m["features"].pop(), "the model's features"),
        (lambda m: m.pop("training"), "training: expected a mapping"),
        (lambda m: m["training"].pop("label"), "training.label: expected a mapping"),
    ],
    ids=["a-feature-less", "no-training-config", "no-label-config"],
)
def test_a_broken_manifest_exits_5(
    store: Path, small_demo_dir: Path, tmp_path: Path, edit: Any, expected: str
) -> None:
    copy = copy_store(store, tmp_path)
    edit_manifest(copy / "champion", edit)
    proc = score_cli(small_demo_dir, copy, tmp_path, env={bundle.KEY_VARIABLE: None})
    assert proc.returncode == 5, proc.stderr[-2000:]
    last = _last_line(proc)
    assert last.startswith("BundleError: bundle")
    assert expected in last
    assert not (tmp_path / "exports").exists()


def _read_only_folder(tmp_path: Path) -> Path:
    """A folder this process cannot write into (for root, who may write anywhere, /sys)."""
    if os.geteuid() == 0:
        return Path("/sys/churn-test-exports")
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o500)
    return folder


def test_a_read_only_export_folder_exits_8(
    store: Path, small_demo_dir: Path, tmp_path: Path
) -> None:
    folder = _read_only_folder(tmp_path)
    proc = score_cli(small_demo_dir, store, tmp_path, f"export.dir={folder}")
    assert proc.returncode == 8, proc.stderr[-2000:]
    last = _last_line(proc)
    assert last.startswith(f"StorageError: cannot read or write {folder}")
    assert any(code in last for code in ("(EACCES)", "(EPERM)", "(EROFS)"))
    run_log = (tmp_path / "score" / "score.log").read_text(encoding="utf-8")
    assert "stage export: failed after" in run_log
    assert "stage export: done" not in run_log


def _small_file_limit() -> None:
    """Files of at most 64 kB, failing with EFBIG instead of a signal: a full disk's stand-in."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64_000, 64_000))


def test_a_full_disk_exits_8(store: Path, small_demo_dir: Path, tmp_path: Path) -> None:
    args = [
        f"data.generate.output_dir={small_demo_dir}",
        f"model_dir={store}",
        f"export.dir={tmp_path}/exports",
        f"hydra.run.dir={tmp_path}/score",
        "engine.threads=1",
    ]
    proc = subprocess.run(
        [sys.executable, "-m", "pipelines.score", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"},
        preexec_fn=_small_file_limit,
        check=False,
    )
    assert proc.returncode == 8, proc.stderr[-2000:]
    last = _last_line(proc)
    assert last.startswith("StorageError: cannot read or write")
    assert "File too large (EFBIG)" in last
    exports = tmp_path / "exports"
    assert not exports.exists() or not [p for p in exports.iterdir() if p.suffix != ".lock"]


def test_a_malformed_database_url_exits_2_before_any_work(
    store: Path, small_demo_dir: Path, tmp_path: Path
) -> None:
    proc = score_cli(
        small_demo_dir,
        store,
        tmp_path,
        "export=postgres",
        env={"CHURN_DATABASE_URL": "postgresql+psycopg://user:s3cret@host:notaport/db"},
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    last = _last_line(proc)
    assert last.startswith("ConfigError: $CHURN_DATABASE_URL: expected a URL such as")
    assert "s3cret" not in proc.stderr
    assert not (tmp_path / "exports").exists()


def test_an_export_locked_by_another_run_exits_9(
    store: Path, small_demo_dir: Path, tmp_path: Path
) -> None:
    as_of = "2025-12-01"
    with files.lock(tmp_path / "exports" / f".{as_of}.lock", what="a test"):
        proc = score_cli(small_demo_dir, store, tmp_path, f"as_of={as_of}")
    assert proc.returncode == 9, proc.stderr[-2000:]
    last = _last_line(proc)
    assert last.startswith(f"LockedError: {tmp_path}/exports/{as_of}: locked by another run")
    assert f"(pid {os.getpid()}," in last
    assert not (tmp_path / "exports" / as_of).exists()
    again = score_cli(small_demo_dir, store, tmp_path, f"as_of={as_of}")
    assert again.returncode == 0, again.stderr[-2000:]

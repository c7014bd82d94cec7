"""Fixtures of the command-line tests: a model store trained with ``pipelines.train``."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from churn import bundle
from tests.conftest import run_pipeline

FAST = [
    "model.n_jobs=1",
    "model.params.learning_rate=0.1",
    "model.early_stopping_rounds=20",
    "train.shap_rows=200",
    "engine.threads=1",
    "tracking=none",
]


def _train(demo: Path, work: Path, name: str, *extra: str) -> None:
    proc = run_pipeline(
        "train",
        f"data.generate.output_dir={demo}",
        f"model_dir={work}/models/churn",
        f"hydra.run.dir={work}/{name}",
        *FAST,
        *extra,
        cwd=work,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.fixture(scope="session")
def store(small_demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store holding a good version (1, champion) and a weak one (2, latest, not promoted)."""
    work = tmp_path_factory.mktemp("store")
    _train(small_demo_dir, work, "good")
    # margin 1: LightGBM is kept however weak (else a baseline, as good as v1, is deployed)
    _train(
        small_demo_dir,
        work,
        "weak",
        "model.n_estimators=1",
        "calibration=none",
        "train.selection.margin=1",
    )
    return work / "models" / "churn"


def score_cli(
    demo: Path, store: Path, tmp_path: Path, *extra: str, env: dict[str, str | None] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m pipelines.score`` on ``demo`` with the store ``store``, exports and run folder
    under ``tmp_path`` (``exports/``, ``score/``)."""
    return run_pipeline(
        "score",
        f"data.generate.output_dir={demo}",
        f"model_dir={store}",
        f"export.dir={tmp_path}/exports",
        f"hydra.run.dir={tmp_path}/score",
        "engine.threads=1",
        *extra,
        cwd=tmp_path,
        env=env,
    )


def copy_store(store: Path, tmp_path: Path) -> Path:
    """A copy of the model store (pointers kept as links) at ``tmp_path/models/churn``."""
    copy = tmp_path / "models" / "churn"
    shutil.copytree(store, copy, symlinks=True)
    return copy


def edit_manifest(folder: Path, edit: Callable[[dict[str, Any]], Any]) -> None:
    """Apply ``edit`` to a bundle's manifest.json in place (no signature renewed)."""
    path = folder / bundle.MANIFEST_FILE
    payload = json.loads(path.read_text(encoding="utf-8"))
    edit(payload)
    path.write_text(json.dumps(payload), encoding="utf-8")

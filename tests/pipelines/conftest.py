"""Fixtures of the command-line tests: a model store trained with ``pipelines.train``."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_pipeline

FAST = [
    "model.n_jobs=1",
    "model.params.learning_rate=0.1",
    "model.early_stopping_rounds=20",
    "train.shap_rows=200",
    "engine.threads=1",
    "tracking=none",
    "promotion.metrics=[brier]",
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
    _train(small_demo_dir, work, "weak", "model.n_estimators=1", "calibration=none")
    return work / "models" / "churn"

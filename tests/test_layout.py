"""The layout's rules, checked on the source: who may import what, and how large a module grows."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LIBRARY = sorted((ROOT / "src" / "churn").rglob("*.py"))
MAX_LINES = 420  # about 400: a module that grows past it does more than one job


def _imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


def _name(path: Path) -> str:
    return str(path.relative_to(ROOT / "src"))


@pytest.mark.parametrize("path", LIBRARY, ids=_name)
def test_library_never_imports_hydra_or_omegaconf(path: Path) -> None:
    assert not _imported(path) & {"hydra", "omegaconf"}


def test_only_tracking_imports_mlflow() -> None:
    importers = [_name(path) for path in LIBRARY if "mlflow" in _imported(path)]
    assert importers
    assert all(name.startswith("churn/tracking/") for name in importers)


@pytest.mark.parametrize("path", LIBRARY, ids=_name)
def test_library_modules_stay_small(path: Path) -> None:
    assert len(path.read_text(encoding="utf-8").splitlines()) <= MAX_LINES


PIPELINES = sorted(p for p in (ROOT / "pipelines").glob("*.py") if p.name != "__init__.py")
PIPELINE_LINES = 120  # about 100: an entry point composes library stages, it does not do their work
RUN_LINES = 50  # about 40: run(cfg) reads the config, calls the stages in order, returns a headline


def _pipeline(path: Path) -> str:
    return path.name


@pytest.mark.parametrize("path", PIPELINES, ids=_pipeline)
def test_pipelines_leave_the_computing_to_the_library(path: Path) -> None:
    assert not _imported(path) & {"pandas", "numpy", "pyarrow", "ibis", "duckdb", "pyspark"}


@pytest.mark.parametrize("path", PIPELINES, ids=_pipeline)
def test_pipelines_stay_short(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    assert len(source.splitlines()) <= PIPELINE_LINES
    runs = [
        node
        for node in ast.parse(source).body
        if isinstance(node, ast.FunctionDef) and node.name == "run"
    ]
    for node in runs:
        assert node.end_lineno is not None
        assert node.end_lineno - node.lineno + 1 <= RUN_LINES

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
    assert importers == ["churn/tracking.py"]


@pytest.mark.parametrize("path", LIBRARY, ids=_name)
def test_library_modules_stay_small(path: Path) -> None:
    assert len(path.read_text(encoding="utf-8").splitlines()) <= MAX_LINES

"""The ML Test Score page names real tests: every ``tests/...py::function`` it cites exists."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "ml-test-score.md"
CITED = re.compile(r"`(tests/[\w/]+\.py)::(\w+)`")


def _functions(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}


def test_every_cited_test_exists() -> None:
    cited = CITED.findall(PAGE.read_text(encoding="utf-8"))
    assert len(cited) >= 20
    missing = [
        f"{file}::{name}"
        for file, name in cited
        if not (ROOT / file).is_file() or name not in _functions(ROOT / file)
    ]
    assert missing == []


def test_the_score_matches_the_table() -> None:
    text = PAGE.read_text(encoding="utf-8")
    rows = re.findall(
        r"^\| [DMIO]\d \| .*? \| (automated|not automated|partly|not applicable) \|", text, re.M
    )
    assert len(rows) == 28
    automated = rows.count("automated")
    assert f"**Score: {automated} of 28 automated**" in text

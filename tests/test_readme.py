"""The README and docs/ stay true: the first screen, the feature table, links that resolve."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from churn.features import FeatureConfig, feature_docs

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
PAGES = [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def test_readme_first_screen_has_exactly_two_commands() -> None:
    first_block = re.search(r"```bash\n(.*?)```", README, re.DOTALL)
    assert first_block is not None
    commands = [line for line in first_block.group(1).splitlines() if line.strip()]
    assert [c.split("#")[0].strip() for c in commands] == ["make demo", "make test"]
    assert README.index("make demo") < 800


def test_readme_is_a_first_screen_and_a_map() -> None:
    assert len(README.splitlines()) <= 150
    linked = set(LINK.findall(README))
    for page in sorted((ROOT / "docs").glob("*.md")):
        assert f"docs/{page.name}" in linked, page.name


def test_readme_documents_every_feature() -> None:
    table = (ROOT / "docs" / "labels-and-features.md").read_text(encoding="utf-8")
    for name, (meaning, window) in feature_docs(FeatureConfig()).items():
        assert f"| `{name}` | {meaning} | {window} |" in table, name


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_docs_links_resolve(page: Path) -> None:
    for target in LINK.findall(page.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+://", target) or target.startswith("mailto:"):
            continue
        path = target.split("#", 1)[0]
        assert path, f"{page.name}: link {target!r} names no file"
        assert (page.parent / path).exists(), f"{page.name}: link {target!r} does not resolve"


def test_docs_and_docstrings_cite_only_files_in_the_repository() -> None:
    outside = ("DESIGN" + ".md", "RETENTION" + ".md")  # documents that are not in the repository
    files = [*PAGES, *ROOT.glob("src/**/*.py"), *ROOT.glob("pipelines/*.py")]
    files += [*ROOT.glob("conf/**/*.yaml")]
    citing = [
        str(path.relative_to(ROOT))
        for path in files
        if any(name in path.read_text(encoding="utf-8") for name in outside)
    ]
    assert citing == []

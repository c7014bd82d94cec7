"""The README stays true: its first screen and its feature table."""

from __future__ import annotations

import re
from pathlib import Path

from churn.features import FeatureConfig, feature_docs

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_readme_first_screen_has_exactly_two_commands() -> None:
    first_block = re.search(r"```bash\n(.*?)```", README, re.DOTALL)
    assert first_block is not None
    commands = [line for line in first_block.group(1).splitlines() if line.strip()]
    assert [c.split("#")[0].strip() for c in commands] == ["make demo", "make test"]
    assert README.index("make demo") < 800


def test_readme_documents_every_feature() -> None:
    for name, (meaning, window) in feature_docs(FeatureConfig()).items():
        assert f"| `{name}` | {meaning} | {window} |" in README, name

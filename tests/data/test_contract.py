"""The rule codes: one list in the code, the same in its docstring and in docs/data-contract.md."""

from __future__ import annotations

import re
from pathlib import Path

from churn.data import RULES, contract

DOC = Path(__file__).resolve().parents[2] / "docs" / "data-contract.md"


def test_rules_docstring_lists_every_rule_in_order() -> None:
    table = (contract.__doc__ or "").split("====\n")[1]  # between the table's rules
    listed = re.findall(r"^``(\w+)``", table, flags=re.MULTILINE)
    assert tuple(listed) == RULES


def test_rules_data_contract_doc_lists_every_rule_in_order() -> None:
    text = DOC.read_text(encoding="utf-8")
    table = text[text.index("| rule | rejected when |") :].split("\n\n")[0]
    listed = re.findall(r"^\| `(\w+)` \|", table, flags=re.MULTILINE)
    assert tuple(listed) == RULES

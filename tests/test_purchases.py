"""What counts as a purchase: one rule for ibis, pandas and pyarrow amounts."""

from __future__ import annotations

import ibis
import pandas as pd
import pyarrow as pa
import pytest

from churn import labels
from churn.errors import ConfigError
from churn.purchases import PURCHASE_RULES, check_purchase_rule, is_purchase

AMOUNTS = [12.5, 0.0, -3.0]


@pytest.mark.parametrize(
    ("rule", "expected"),
    [("positive", [True, False, False]), ("non_negative", [True, True, False])],
)
def test_is_purchase_same_rule_on_every_kind_of_column(rule: str, expected: list[bool]) -> None:
    table = ibis.memtable(pd.DataFrame({"amount": AMOUNTS}))

    on_ibis = table.select(bought=is_purchase(table.amount, rule)).to_pandas()["bought"]
    on_pandas = is_purchase(pd.Series(AMOUNTS), rule)
    on_arrow = is_purchase(pa.array(AMOUNTS), rule)

    assert on_ibis.tolist() == expected
    assert on_pandas.tolist() == expected
    assert on_arrow.to_pylist() == expected
    assert is_purchase(pd.Series(AMOUNTS)).tolist() == [True, False, False]  # the default


def test_check_purchase_rule_refuses_unknown_rules() -> None:
    assert check_purchase_rule("non_negative") == "non_negative"
    assert PURCHASE_RULES == ("positive", "non_negative")
    with pytest.raises(
        ConfigError,
        match=r"label\.purchase_rule: expected one of \['positive', 'non_negative'\]; got 'any'",
    ):
        labels.LabelConfig.from_mapping({"purchase_rule": "any"})
    with pytest.raises(ConfigError, match=r"label\.purchase_rule"):
        is_purchase(pd.Series(AMOUNTS), "zero")
    assert labels.LabelConfig().purchase_rule == "positive"
    assert labels.LabelConfig().to_dict()["purchase_rule"] == "positive"

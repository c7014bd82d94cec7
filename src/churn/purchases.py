"""What counts as a purchase (``label.purchase_rule``), in one place (docs/labels-and-features.md).

A purchase is a transaction row whose amount satisfies the rule: ``positive`` (the default,
``amount > 0``) or ``non_negative`` (``amount >= 0``: zero-value orders such as free items or
orders paid in full by a voucher count too). Refunds (negative amounts) never count. Labels,
features, the BG/NBD inputs, the data end and the scoring population all filter with
:func:`is_purchase`, and the rule is stored with the bundle's label settings, so training and
scoring cannot disagree.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from churn.errors import ConfigError

POSITIVE = "positive"
NON_NEGATIVE = "non_negative"
PURCHASE_RULES = (POSITIVE, NON_NEGATIVE)
DESCRIPTIONS = {POSITIVE: "amount > 0", NON_NEGATIVE: "amount >= 0"}


def check_purchase_rule(rule: object) -> str:
    """Return ``rule`` when it is one of :data:`PURCHASE_RULES`, else raise ConfigError."""
    if rule not in PURCHASE_RULES:
        raise ConfigError(
            f"label.purchase_rule: expected one of {list(PURCHASE_RULES)}; got {rule!r}"
        )
    return str(rule)


def is_purchase(amount: Any, rule: str = POSITIVE) -> Any:
    """Whether each amount is a purchase under ``rule``.

    Args:
        amount: an ibis numeric column, a pandas Series or a pyarrow array of amounts.
        rule: ``positive`` or ``non_negative``.

    Returns:
        The boolean expression, Series or array of the same kind.

    Raises:
        ConfigError: an unknown rule.
    """
    rule = check_purchase_rule(rule)
    if isinstance(amount, pa.Array | pa.ChunkedArray):
        return pc.greater_equal(amount, 0) if rule == NON_NEGATIVE else pc.greater(amount, 0)
    return amount >= 0 if rule == NON_NEGATIVE else amount > 0

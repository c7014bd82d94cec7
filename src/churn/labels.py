"""Point-in-time cutoffs, population and churn labels (docs/architecture.md, point in time).

A cutoff ``c`` splits time: features use rows with ``timestamp < c``; the label window is
``[c, c + H)``. A customer *churned* at ``c`` when they made no purchase (a row whose amount
satisfies ``purchase_rule``, :mod:`churn.purchases`; refunds never count) in the label window.
The population at ``c`` is every customer with a purchase before ``c`` and, when
``active_within_days`` is set, one in ``[c - A, c)``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import ibis
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa

from churn.config import Config
from churn.errors import ConfigError, DataError
from churn.purchases import DESCRIPTIONS, POSITIVE, check_purchase_rule, is_purchase

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LabelConfig(Config):
    """Horizon, cutoff spacing and population rule (``conf/label``)."""

    section: ClassVar[str] = "label"

    horizon_days: int = 90
    step_days: int = 30
    n_cutoffs: int = 12
    active_within_days: int | None = 365
    purchase_rule: str = POSITIVE  # which amounts are purchases: positive | non_negative

    def validate(self) -> None:
        """Raise ConfigError when the schedule cannot work or the purchase rule is unknown."""
        check_purchase_rule(self.purchase_rule)
        for name in ("horizon_days", "step_days", "n_cutoffs"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"label.{name}: expected a whole number >= 1; got {value!r}")
        if self.active_within_days is not None and self.active_within_days < 1:
            raise ConfigError(
                f"label.active_within_days: expected >= 1 or null; got {self.active_within_days}"
            )


def data_end(
    transactions: ir.Table,
    *,
    end_date: str | pd.Timestamp | None = None,
    purchase_rule: str = POSITIVE,
) -> pd.Timestamp:
    """The data end ``E``: ``end_date`` if given, else the day after the last purchase.

    Raises:
        DataError: when there is no purchase at all.
    """
    if end_date is not None:
        end = pd.Timestamp(end_date)
        if end != end.normalize():
            raise ConfigError(f"data.end_date: expected a date; got {end_date!r}")
        return end
    purchases = transactions.filter(is_purchase(transactions.amount, purchase_rule))
    last = purchases.timestamp.max().to_pyarrow().as_py()
    if last is None:
        raise DataError(
            f"data_end: expected at least one purchase ({DESCRIPTIONS[purchase_rule]}); got none"
        )
    return pd.Timestamp(last).normalize() + pd.Timedelta(days=1)


def cutoff_schedule(end: pd.Timestamp, config: LabelConfig) -> list[pd.Timestamp]:
    """Labelled cutoffs ``c_k = E - H - k * step``, latest first; every window ends by ``E``."""
    first = pd.Timestamp(end).normalize() - pd.Timedelta(days=config.horizon_days)
    return [first - pd.Timedelta(days=k * config.step_days) for k in range(config.n_cutoffs)]


def label_outcomes(
    transactions: ir.Table,
    cutoffs: Sequence[pd.Timestamp],
    *,
    horizon_days: int,
    end: pd.Timestamp,
    purchase_rule: str = POSITIVE,
) -> pa.Table:
    """(customer_id, cutoff) pairs with a purchase in ``[c, c + H)``: the customers who stayed.

    Raises:
        ConfigError: when a label window reaches past the data end (it would be unobserved).
    """
    return stayed_pairs(
        transactions, cutoffs, horizon_days=horizon_days, end=end, purchase_rule=purchase_rule
    ).to_pyarrow()


def stayed_pairs(
    transactions: ir.Table,
    cutoffs: Sequence[pd.Timestamp],
    *,
    horizon_days: int,
    end: pd.Timestamp,
    purchase_rule: str = POSITIVE,
) -> ir.Table:
    """:func:`label_outcomes` as a lazy query (``customer_id``, ``cutoff``), for counting."""
    horizon = pd.Timedelta(days=horizon_days)
    late = [c for c in cutoffs if pd.Timestamp(c) + horizon > end]
    if late:
        raise ConfigError(
            f"label_outcomes: label windows must end by the data end {end.date()}; cutoffs "
            f"{[str(pd.Timestamp(c).date()) for c in late]} + {horizon_days} days reach past it"
        )
    cut = ibis.memtable(
        pa.table({"cutoff": pa.array([pd.Timestamp(c) for c in cutoffs], pa.timestamp("us"))})
    )
    purchases = transactions.filter(is_purchase(transactions.amount, purchase_rule))
    joined = purchases.join(
        cut,
        (purchases.timestamp >= cut.cutoff)
        & (purchases.timestamp < cut.cutoff + ibis.interval(days=horizon_days)),
    )
    return joined.select("customer_id", "cutoff").distinct()

"""Point-in-time cutoffs, population and churn labels (DESIGN.md section 3).

A cutoff ``c`` splits time: features use rows with ``timestamp < c``; the label window is
``[c, c + H)``. A customer *churned* at ``c`` when they made no purchase (a row with a positive
amount; refunds never count) in the label window. The population at ``c`` is every customer with
a purchase before ``c`` and, when ``active_within_days`` is set, one in ``[c - A, c)``.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from churn.errors import ConfigError, DataError, check_keys
from churn.features import FeatureConfig, build_features, write_features

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LabelConfig:
    """Horizon, cutoff spacing and population rule (``conf/label``)."""

    horizon_days: int = 90
    step_days: int = 30
    n_cutoffs: int = 12
    active_within_days: int | None = 365

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> LabelConfig:
        """Build from the ``label`` config node."""
        known = {f.name for f in dataclasses.fields(cls)}
        check_keys("label", values, known)
        config = cls(**dict(values))
        config.validate()
        return config

    def validate(self) -> None:
        """Raise ConfigError when the schedule cannot work."""
        for name in ("horizon_days", "step_days", "n_cutoffs"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"label.{name}: expected a whole number >= 1; got {value!r}")
        if self.active_within_days is not None and self.active_within_days < 1:
            raise ConfigError(
                f"label.active_within_days: expected >= 1 or null; got {self.active_within_days}"
            )


def data_end(transactions: ir.Table, *, end_date: str | pd.Timestamp | None = None) -> pd.Timestamp:
    """The data end ``E``: ``end_date`` if given, else the day after the last purchase.

    Raises:
        DataError: when there is no purchase at all.
    """
    if end_date is not None:
        end = pd.Timestamp(end_date)
        if end != end.normalize():
            raise ConfigError(f"data.end_date: expected a date; got {end_date!r}")
        return end
    purchases = transactions.filter(transactions.amount > 0)
    last = purchases.timestamp.max().to_pyarrow().as_py()
    if last is None:
        raise DataError("data_end: expected at least one purchase (amount > 0); got none")
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
) -> pa.Table:
    """(customer_id, cutoff) pairs with a purchase in ``[c, c + H)``: the customers who stayed.

    Raises:
        ConfigError: when a label window reaches past the data end (it would be unobserved).
    """
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
    purchases = transactions.filter(transactions.amount > 0)
    joined = purchases.join(
        cut,
        (purchases.timestamp >= cut.cutoff)
        & (purchases.timestamp < cut.cutoff + ibis.interval(days=horizon_days)),
    )
    return joined.select("customer_id", "cutoff").distinct().to_pyarrow()


def training_table(
    transactions: ir.Table,
    cutoffs: Sequence[pd.Timestamp],
    feature_config: FeatureConfig,
    label_config: LabelConfig,
    *,
    end: pd.Timestamp,
    events: ir.Table | None = None,
) -> pa.Table:
    """Features of the population at each cutoff with the churn label ``churned`` (0/1).

    Rows are sorted by cutoff then customer_id; ``churned`` is 1 when the customer made no
    purchase in ``[c, c + H)``.
    """
    stayed = label_outcomes(transactions, cutoffs, horizon_days=label_config.horizon_days, end=end)
    features = build_features(
        transactions,
        cutoffs,
        feature_config,
        events=events,
        horizon_days=label_config.horizon_days,
        active_within_days=label_config.active_within_days,
    )
    table = _with_labels(features, stayed)
    log_churn_shares(table)
    return table


def write_training_table(
    transactions: ir.Table,
    cutoffs: Sequence[pd.Timestamp],
    feature_config: FeatureConfig,
    label_config: LabelConfig,
    path: str | os.PathLike[str],
    *,
    end: pd.Timestamp,
    events: ir.Table | None = None,
) -> int:
    """:func:`training_table` written to one Parquet file out of core; returns the row count.

    The features come in batches (:func:`churn.features.write_features`), each labelled and
    written at once; only the (customer, cutoff) pairs who stayed are held in memory.
    """
    stayed = label_outcomes(transactions, cutoffs, horizon_days=label_config.horizon_days, end=end)
    return write_features(
        transactions,
        cutoffs,
        feature_config,
        path,
        events=events,
        horizon_days=label_config.horizon_days,
        active_within_days=label_config.active_within_days,
        then=lambda batch: _with_labels(batch, stayed),
    )


def _with_labels(features: pa.Table, stayed: pa.Table) -> pa.Table:
    """``features`` (sorted by cutoff, customer) with ``churned``: 0 for the pairs in ``stayed``."""
    flags = stayed.append_column("stayed", pa.array([True] * stayed.num_rows, pa.bool_()))
    joined = features.join(flags, keys=["customer_id", "cutoff"], join_type="left outer")
    churned = pc.if_else(pc.is_null(joined["stayed"]), 1, 0).cast(pa.int64())
    table = joined.drop_columns(["stayed"]).append_column("churned", churned)
    return table.sort_by([("cutoff", "ascending"), ("customer_id", "ascending")])


def log_churn_shares(table: pa.Table) -> None:
    """Log each cutoff's population and churn share (``cutoff`` and ``churned`` columns)."""
    shares = table.group_by("cutoff").aggregate([("churned", "mean"), ("churned", "count")])
    for row in shares.sort_by("cutoff").to_pylist():
        log.info(
            "cutoff %s: %d customers, churn share %.3f",
            pd.Timestamp(row["cutoff"]).date(),
            row["churned_count"],
            row["churned_mean"],
        )

"""Acquisition cohorts: retention by months since the first purchase, and retention curves."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from churn.errors import ConfigError, DataError
from churn.kpis.inputs import (
    _check_freq,
    _check_transactions,
    _data_end,
    _ordinal,
    _purchases,
    _spans,
)

log = logging.getLogger(__name__)


def cohort_retention(
    transactions: pd.DataFrame,
    *,
    freq: str = "M",
    max_age: int | None = None,
    end: str | pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Share of each acquisition cohort active (with a purchase) in each period since.

    Rows are the cohorts (period of each customer's first purchase, index name ``cohort``).
    The first column, ``customers``, is the cohort size (``retention_curve`` weighs by it); the
    other columns are the ages ``0, 1, 2, ...`` in periods since acquisition, holding the share of
    the cohort with a purchase in that period. Age 0 is 1.0 by definition. Cells whose period is
    not fully observed (it ends after ``end``) are NaN, and a cohort whose own period is cut by
    ``end`` is left out (it is still gaining customers).

    Args:
        transactions: ``customer_id``, ``timestamp`` (naive datetime64), ``amount``.
        freq: ``"M"``, ``"Q"`` or ``"Y"`` (``"A"`` is an alias of ``"Y"``).
        max_age: Last age column (default: the oldest observed age).
        end: End of the data (exclusive; default: the day after the last transaction).

    Raises:
        DataError: on missing columns, no purchase before ``end``, or no full period.
        ConfigError: on a bad ``freq``, ``max_age`` or ``end``.
    """
    where = "cohort_retention"
    period_freq = _check_freq(freq, where)
    if max_age is not None and (
        isinstance(max_age, bool) or not isinstance(max_age, int) or max_age < 0
    ):
        raise ConfigError(
            f"{where}: max_age: expected a whole number >= 0 or None; got {max_age!r}"
        )
    tx = _check_transactions(transactions, where)
    end_ts = _data_end(tx, end, where)
    purchases = _purchases(tx, end_ts, where)
    last_period = pd.Period(end_ts, period_freq) - 1
    last_full = last_period.ordinal
    cohort = _ordinal(_spans(purchases)["first"].dt.to_period(period_freq))
    cohort = cohort[cohort <= last_full]
    if cohort.empty:
        raise DataError(
            f"{where}: expected a full period {freq!r} before end {end_ts}; got a cohort only in "
            "the period cut by end"
        )
    rows = pd.DataFrame(
        {
            "customer_id": purchases["customer_id"].to_numpy(),
            "period": _ordinal(purchases["timestamp"].dt.to_period(period_freq)).to_numpy(),
        }
    ).drop_duplicates()
    rows["cohort"] = rows["customer_id"].map(cohort)
    rows = rows[rows["cohort"].notna() & (rows["period"] <= last_full)]
    rows["age"] = rows["period"] - rows["cohort"].astype(int)
    sizes = cohort.value_counts().sort_index()
    oldest = last_full - int(sizes.index.min()) if max_age is None else max_age
    ages = list(range(oldest + 1))
    active = (
        rows.groupby(["cohort", "age"])
        .size()
        .unstack("age", fill_value=0)
        .reindex(index=sizes.index, columns=ages, fill_value=0)
    )
    shares = active.div(sizes, axis=0).astype(float)
    observed = np.add.outer(sizes.index.to_numpy(), np.array(ages)) <= last_full
    shares = shares.where(observed)
    shares.index = pd.PeriodIndex([last_period - (last_full - int(o)) for o in sizes.index])
    shares.index.name = "cohort"
    shares.columns.name = "age"
    shares.insert(0, "customers", sizes.to_numpy())
    return shares


def retention_curve(cohorts: pd.DataFrame) -> pd.Series:
    """Mean retention at each age over cohorts, weighted by cohort size, ignoring NaN cells.

    Args:
        cohorts: A table from :func:`cohort_retention` (a ``customers`` column and age columns).

    Returns:
        Series ``retention`` indexed by age (index name ``age``); NaN at an age no cohort has
        reached.

    Raises:
        ValueError: when the ``customers`` column is missing.
    """
    if "customers" not in cohorts.columns:
        raise ValueError(
            "retention_curve: expected a cohort_retention table with a 'customers' column; got "
            f"columns {list(cohorts.columns)}"
        )
    sizes = cohorts["customers"].astype(float)
    shares = cohorts.drop(columns="customers").astype(float)
    weight = shares.notna().astype(float).mul(sizes, axis=0).sum()
    curve = shares.mul(sizes, axis=0).sum() / weight.where(weight > 0)
    curve.index.name = "age"
    return curve.rename("retention")

"""The as-of date of a scoring run: which dates can be scored, and when the model is too old."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from churn.errors import ConfigError, DataError

log = logging.getLogger(__name__)


def resolve_as_of(value: Any, end: pd.Timestamp, transactions: pa.Table) -> pd.Timestamp:
    """The as-of date: the configured date, or the data end (the day after the last purchase).

    Raises:
        ConfigError: a value that is not a date without a time.
        DataError: a date at or before the first transaction (nobody could be scored).
    """
    if value is None:
        return end
    try:
        as_of = pd.Timestamp(str(value))
    except ValueError as err:
        raise ConfigError(f"as_of: expected a date YYYY-MM-DD; got {value!r}") from err
    if as_of != as_of.normalize():
        raise ConfigError(f"as_of: expected a date without a time; got {value!r}")
    first = pc.min(transactions["timestamp"]).as_py() if transactions.num_rows else None
    first = pd.NaT if first is None else pd.Timestamp(first)
    if pd.isna(first) or as_of <= first:
        raise DataError(
            f"as_of {as_of.date()} is before the data: the first transaction is at {first}; "
            "nobody can be scored"
        )
    if as_of > end:
        log.warning("as_of %s is after the data end %s", as_of.date(), end.date())
    return as_of


def warn_if_old(trained_end: str | None, as_of: pd.Timestamp, max_days: int) -> None:
    """Warn when the model's data end is more than ``max_days`` before ``as_of``, or after it."""
    if trained_end is None:
        return
    age = (as_of - pd.Timestamp(trained_end)).days
    if age > max_days:
        log.warning(
            "the model was trained on data up to %s, %d days before the as-of date %s "
            "(score.max_model_age_days=%d): retrain it",
            trained_end,
            age,
            as_of.date(),
            max_days,
        )
    if age < 0:
        log.warning(
            "the model was trained on data up to %s, after the as-of date %s",
            trained_end,
            as_of.date(),
        )

"""What a load returns: the validated tables, the rejects and the counts; and its errors."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import pandas as pd
import pyarrow as pa

from churn.errors import DataError

log = logging.getLogger(__name__)


class MissingInputError(DataError, FileNotFoundError):
    """An input file, folder, glob or database that does not exist or matches nothing."""


class TooManyRejectsError(DataError):
    """A table rejected a larger share of its rows than ``data.max_reject_fraction`` allows.

    Attributes:
        rejects: every rejected row of every table loaded (as :attr:`Dataset.rejects`), so the
            caller can still write the rejects file.
        reports: the per-table counts (as :attr:`Dataset.reports`).
    """

    def __init__(
        self, message: str, *, rejects: pd.DataFrame, reports: dict[str, TableReport]
    ) -> None:
        super().__init__(message)
        self.rejects = rejects
        self.reports = reports


@dataclass(frozen=True)
class TableReport:
    """Row counts of one loaded table: ``used_rows + rejected_rows == input_rows``."""

    input_rows: int
    used_rows: int
    rejected_rows: int
    rejected_by_rule: dict[str, int]


@dataclass(frozen=True)
class Dataset:
    """The validated input tables, every rejected row, and the counts.

    Attributes:
        transactions: customer_id (string), timestamp (timestamp[us], naive UTC), amount
            (float64), plus transaction_id (string), quantity (float64), category and channel
            (string) when the source has them.
        customers: customer_id (string), signup_date (timestamp[us]) when mapped and present,
            and every other source column unchanged; None when not configured.
        events: customer_id (string), timestamp (timestamp[us]), type (string), value
            (float64, null allowed); None when not configured.
        rejects: one row per rejected input row: table, source, source_row (0-based within the
            source file or table), rule, reason, then the row's original values as strings under
            the source's own column names.
        reports: counts per loaded table, keyed "transactions", "customers", "events".
        max_timestamp: the limit after which timestamps were rejected as in the future.
    """

    transactions: pa.Table
    customers: pa.Table | None
    events: pa.Table | None
    rejects: pd.DataFrame
    reports: dict[str, TableReport]
    max_timestamp: dt.datetime

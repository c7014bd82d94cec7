"""Load every configured table and write the rejects file.

A rejected share above ``max_reject_fraction`` raises :class:`~churn.data.TooManyRejectsError`
after every table has been checked.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from churn.data.config import _naive_utc, _parse_config
from churn.data.contract import REJECT_COLUMNS, TABLES
from churn.data.dataset import Dataset, TooManyRejectsError
from churn.data.sql import _attach, _check_timestamp_format, _connect
from churn.data.validate import _load_table, _rejects_frame
from churn.errors import ConfigError
from churn.files import atomic_file
from churn.progress import Progress
from churn.spreadsheet import write_csv

log = logging.getLogger(__name__)

# --- public functions --------------------------------------------------------------------------


def load(source: Mapping[str, Any], *, now: dt.datetime | None = None) -> Dataset:
    """Load, map and validate transactions and the optional customers and events.

    Args:
        source: the data config as a plain mapping (e.g.
            ``OmegaConf.to_container(cfg.data, resolve=True)``): format (csv, parquet or
            duckdb), path, customers, events, table, timestamp_format, csv_delimiter,
            max_timestamp, min_timestamp, max_abs_amount, nps_range, id_normalization,
            end_date, max_reject_fraction, columns. Other keys are ignored.
        now: the current time (naive UTC, or aware and converted); timestamps after it are
            rejected as in the future unless ``max_timestamp`` is configured (a date alone
            there means midnight at its start). Default: the clock.

    Returns:
        The typed tables, every rejected row with its rule and reason, and counts per table.

    Raises:
        ConfigError: the config itself cannot work (unknown format, fraction outside [0, 1]...).
        MissingInputError: a configured file, folder, glob or database does not exist or
            matches nothing.
        DataError: an input that cannot be used as a whole (unknown file type, missing column,
            column of the wrong type, no transactions, missing database table).
        TooManyRejectsError: a table rejected more than ``max_reject_fraction`` of its rows.
    """
    cfg = _parse_config(source)
    if cfg.max_timestamp is not None:
        limit = cfg.max_timestamp
    elif now is not None:
        limit = _naive_utc(now)
    else:
        limit = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    if cfg.min_timestamp >= limit:
        raise ConfigError(
            f"data.min_timestamp: expected a time before the max_timestamp limit "
            f"{limit.isoformat(sep=' ')} (now, as data.max_timestamp is null); "
            f"got {cfg.min_timestamp.isoformat(sep=' ')}"
        )
    with _connect() as con:
        _check_timestamp_format(con, cfg)
        if cfg.format == "duckdb":
            _attach(con, cfg.path)
        wanted = [table for table in TABLES if table in cfg.sources]
        results = {}
        with Progress("validation", len(wanted), unit="tables") as progress:
            for table in wanted:
                results[table] = _load_table(con, cfg, table, limit)
                progress.update(1)
    rejects = _rejects_frame([r.rejects for r in results.values()])
    reports = {table: r.report for table, r in results.items()}
    failures = [
        r.failure(cfg.max_reject_fraction)
        for r in results.values()
        if r.share > cfg.max_reject_fraction
    ]
    if failures:
        raise TooManyRejectsError("; ".join(failures), rejects=rejects, reports=reports)
    return Dataset(
        transactions=results["transactions"].used,
        customers=results["customers"].used if "customers" in results else None,
        events=results["events"].used if "events" in results else None,
        rejects=rejects,
        reports=reports,
        max_timestamp=limit,
    )


def write_rejects(rejects: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write the rejected rows as UTF-8 CSV, atomically and readable by the owner only.

    Text cells a spreadsheet would run as a formula are neutralised
    (:func:`churn.spreadsheet.write_csv`): rejected rows hold raw input.

    Args:
        rejects: :attr:`Dataset.rejects` (or :attr:`TooManyRejectsError.rejects`).
        path: the CSV file to write; its folder is created when missing.

    Returns:
        The path written. An empty frame still gives a file with the header row.
    """
    frame = rejects if len(rejects.columns) else pd.DataFrame(columns=list(REJECT_COLUMNS))
    with atomic_file(path) as tmp:
        write_csv(frame, tmp)
    log.info("wrote %d rejected rows to %s", len(frame), path)
    return Path(path)

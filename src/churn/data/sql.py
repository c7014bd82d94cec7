"""The private DuckDB session a load runs in, and the SQL text helpers (quoting, literals)."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import tempfile
from collections.abc import Iterator
from pathlib import Path

import duckdb

from churn.data.config import _Config
from churn.data.contract import _DB, _SHOW_CHARS
from churn.data.dataset import MissingInputError
from churn.errors import ConfigError, DataError

log = logging.getLogger(__name__)

# --- DuckDB session ----------------------------------------------------------------------------


@contextlib.contextmanager
def _connect() -> Iterator[duckdb.DuckDBPyConnection]:
    """A private in-process DuckDB connection that spills into a private temporary folder."""
    with (
        tempfile.TemporaryDirectory(prefix="churn-duckdb-") as spill,
        duckdb.connect() as con,
    ):
        con.execute("SET TimeZone = 'UTC'")  # text without an offset means UTC
        con.execute("SET preserve_insertion_order = true")  # keep rows in source order
        con.execute(f"SET temp_directory = {_lit(spill)}")
        con.execute(
            f"""CREATE TEMP MACRO __churn_show(x) AS CASE WHEN x IS NULL THEN 'null'
                WHEN length(x) > {_SHOW_CHARS} THEN '''' || x[:{_SHOW_CHARS}] || '...'''
                ELSE '''' || x || '''' END"""
        )
        yield con


def _check_timestamp_format(con: duckdb.DuckDBPyConnection, cfg: _Config) -> None:
    if cfg.timestamp_format is None:
        return
    try:
        con.execute("SELECT try_strptime('', ?)", [cfg.timestamp_format])
    except duckdb.Error as err:
        raise ConfigError(
            f"data.timestamp_format: expected a strptime format such as '%d/%m/%Y %H:%M'; "
            f"got {cfg.timestamp_format!r} ({_reason(err)})"
        ) from err


def _attach(con: duckdb.DuckDBPyConnection, path: str) -> None:
    full = Path(path).expanduser().absolute()
    if not full.is_file():
        raise MissingInputError(
            f"data.path: expected a DuckDB database file; {path!r} does not exist "
            f"(looked for {full})"
        )
    try:
        con.execute(f"ATTACH {_lit(str(full))} AS {_DB} (READ_ONLY)")
    except duckdb.Error as err:
        raise DataError(
            f"data.path: could not open {path!r} ({full}) as a DuckDB database: {_reason(err)}"
        ) from err


def _reason(err: duckdb.Error, limit: int = 300) -> str:
    """DuckDB's diagnosis on one line, without its list of fixes (a scheduler reads one line)."""
    lines = []
    for line in str(err).strip().splitlines():
        if not line.strip() or line.startswith(("Possible", "The search space", "LINE ")):
            break
        if not line.startswith("Original Line"):  # a row of customer data: keep it out of logs
            lines.append(line.strip())
    text = " / ".join(lines)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --- SQL text helpers --------------------------------------------------------------------------


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _list_literal(values: list[str]) -> str:
    return "[" + ", ".join(_lit(v) for v in values) + "]"


def _timestamp_literal(value: dt.datetime) -> str:
    return f"TIMESTAMP '{value.isoformat(sep=' ', timespec='microseconds')}'"

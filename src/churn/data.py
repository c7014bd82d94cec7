"""Load the input tables, map their columns to the data contract and validate every row.

DESIGN.md section 2 ("Data contract"): transactions are required, customers and events are
optional. A source is a CSV file, a Parquet file, folder (read recursively) or glob, or a table of
a DuckDB database file; its own column names are mapped to contract names through
``data.columns.<table>``. Reading and row validation run as DuckDB SQL, so tens of millions of rows
load in seconds without a Python loop over rows.

Nothing is lost: every input row is either used or rejected with a rule code and a reason that
names the column and shows the bad value. Rule codes:

========================  ==============================================================
``null_id``               customer_id missing or blank (all tables)
``bad_timestamp``         timestamp missing or not a date/datetime (transactions, events)
``future_timestamp``      timestamp after ``max_timestamp`` (transactions, events)
``bad_amount``            amount is text that is not a number
``non_finite_amount``     amount missing, NaN or infinite
``bad_quantity``          quantity present but not a finite number
``duplicate_id``          transaction_id (customer_id for customers) seen in an earlier valid row
``bad_signup_date``       signup_date present but not a date/datetime
``null_type``             event type missing or blank
``bad_value``             event value present but not a finite number
========================  ==============================================================

Whole-input problems (missing file, unknown format, missing column, wrong column type, no rows,
missing database or table) raise :class:`~churn.errors.DataError` at once; a rejected share above
``max_reject_fraction`` raises :class:`TooManyRejectsError` after every table has been checked.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import difflib
import glob
import hashlib
import logging
import os
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

import duckdb
import pandas as pd
import pyarrow as pa

from churn.errors import ConfigError, DataError
from churn.files import atomic_file

log = logging.getLogger(__name__)

FORMATS: Final = ("csv", "parquet", "duckdb")
TABLES: Final[tuple[str, ...]] = ("transactions", "customers", "events")
SUFFIXES: Final[dict[str, tuple[str, ...]]] = {
    "csv": (".csv", ".csv.gz", ".csv.zst", ".tsv", ".txt"),
    "parquet": (".parquet", ".pq", ".parq"),
}
RULES: Final = (
    "null_id",
    "bad_timestamp",
    "future_timestamp",
    "bad_amount",
    "non_finite_amount",
    "bad_quantity",
    "duplicate_id",
    "bad_signup_date",
    "null_type",
    "bad_value",
)
REJECT_COLUMNS: Final = ("table", "source", "source_row", "rule", "reason")

_WARN_EXAMPLES: Final = 5
_ERROR_EXAMPLES: Final = 3
_SHOW_CHARS: Final = 60
# A Parquet row's global order key is (file index << 40) + row number within the file.
_FILE_SHIFT: Final = 40
_ISO_EXPECTED: Final = (
    "an ISO 8601 date or datetime (e.g. '2024-05-31' or '2024-05-31T14:30:00+02:00')"
)
_INTERNAL: Final = "__churn_"
_ORD: Final = "__churn_ord"
_FILE: Final = "__churn_file"
_RULE: Final = "__churn_rule"
_KEPT_ORD: Final = "__churn_kept_ord"
_KEPT_FILE: Final = "__churn_kept_file"
_DB: Final = "__churn_db"


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


# --- the contract ------------------------------------------------------------------------------

Kind = Literal["id", "timestamp", "date", "amount", "number", "text", "label"]


@dataclass(frozen=True)
class _Field:
    name: str
    kind: Kind
    required: bool


_FIELDS: Final[dict[str, tuple[_Field, ...]]] = {
    "transactions": (
        _Field("customer_id", "id", required=True),
        _Field("timestamp", "timestamp", required=True),
        _Field("amount", "amount", required=True),
        _Field("transaction_id", "id", required=False),
        _Field("quantity", "number", required=False),
        _Field("category", "text", required=False),
        _Field("channel", "text", required=False),
    ),
    "customers": (
        _Field("customer_id", "id", required=True),
        _Field("signup_date", "date", required=False),
    ),
    "events": (
        _Field("customer_id", "id", required=True),
        _Field("timestamp", "timestamp", required=True),
        _Field("type", "label", required=True),
        _Field("value", "number", required=False),
    ),
}
# Rows repeating this key of an earlier valid row are rejected as duplicate_id.
_DEDUPE_KEY: Final = {"transactions": "transaction_id", "customers": "customer_id"}


_TYPE_CLASSES: Final = {
    **dict.fromkeys(("VARCHAR", "NULL", "UUID"), "text"),
    **dict.fromkeys(("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT"), "integer"),
    **dict.fromkeys(("UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT"), "integer"),
    **dict.fromkeys(("FLOAT", "DOUBLE"), "float"),
    **dict.fromkeys(("TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS"), "timestamp"),
    "TIMESTAMP WITH TIME ZONE": "timestamptz",
    "DATE": "date",
    "BOOLEAN": "boolean",
}
_TEXT_TIMESTAMP: Final = "text timestamp"  # marks the template that depends on the config
_TIME_SQL: Final = {
    "timestamp": "CASE WHEN isfinite({x}) THEN CAST({x} AS TIMESTAMP) END",
    "date": "CASE WHEN isfinite({x}) THEN CAST({x} AS TIMESTAMP) END",
    # epoch_us is the UTC instant; make_timestamp gives it back as a naive timestamp.
    "timestamptz": "CASE WHEN isfinite({x}) THEN make_timestamp(epoch_us({x})) END",
    "text": _TEXT_TIMESTAMP,
}
_NUMBER_SQL: Final = {
    "text": "TRY_CAST({x} AS DOUBLE)",
    **dict.fromkeys(("integer", "float", "decimal"), "CAST({x} AS DOUBLE)"),
}
# SQL giving a column's parsed value from its raw value {x}, by kind and source-type class: NULL
# (or NaN/inf for numbers) when unusable. A source type without a template is a column-level error.
_PARSE_SQL: Final[dict[Kind, dict[str, str]]] = {
    "id": {
        "integer": "CAST({x} AS VARCHAR)",
        "float": (
            "CASE WHEN isfinite({x}) THEN CASE WHEN {x} = trunc({x}) AND abs({x}) < 1e18 "
            "THEN CAST(CAST({x} AS BIGINT) AS VARCHAR) ELSE CAST({x} AS VARCHAR) END END"
        ),
        "decimal": (
            "CASE WHEN {x} = trunc({x}) THEN CAST(CAST({x} AS HUGEINT) AS VARCHAR) "
            "ELSE CAST({x} AS VARCHAR) END"
        ),
        # Stripped; an integer written as a float ('123.0') is that integer, as a float id is.
        "text": (
            "CASE WHEN NULLIF(trim({x}), '') LIKE '%.0%' "
            "AND regexp_full_match(trim({x}), '[+-]?[0-9]+\\.0+') "
            "THEN regexp_replace(trim({x}), '\\.0+$', '') ELSE NULLIF(trim({x}), '') END"
        ),
    },
    "timestamp": _TIME_SQL,
    "date": _TIME_SQL,
    "amount": _NUMBER_SQL,
    "number": _NUMBER_SQL,
    "label": dict.fromkeys(("text", "integer"), "NULLIF(trim(CAST({x} AS VARCHAR)), '')"),
}
_EXPECTED: Final[dict[Kind, str]] = {
    "id": "text or integer ids",
    "timestamp": "dates or datetimes (a date or timestamp type, or text)",
    "date": "dates or datetimes (a date or timestamp type, or text)",
    "amount": "numbers (an integer, float or decimal type, or text)",
    "number": "numbers (an integer, float or decimal type, or text)",
    "label": "text labels",
}


# --- configuration -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Config:
    format: str
    path: str
    sources: dict[str, str]  # table -> path (csv, parquet) or table name (duckdb)
    timestamp_format: str | None
    csv_delimiter: str
    max_timestamp: dt.datetime | None
    max_reject_fraction: float
    columns: dict[str, dict[str, str]]  # table -> output name -> source column; absent: unmapped


def _parse_config(source: Mapping[str, Any]) -> _Config:
    if not isinstance(source, Mapping):
        raise ConfigError(
            f"data: expected a mapping (the data config); got {type(source).__name__}"
        )
    fmt = source.get("format")
    if fmt not in FORMATS:
        raise ConfigError(f"data.format: expected one of {', '.join(FORMATS)}; got {fmt!r}")
    path = _required_text(source, "path")
    sources = {"transactions": _required_text(source, "table") if fmt == "duckdb" else path}
    for name in ("customers", "events"):
        value = _optional_text(source, name)
        if value is not None:
            sources[name] = value
    timestamp_format = _optional_text(source, "timestamp_format")
    if timestamp_format is not None and "%" not in timestamp_format:
        raise ConfigError(
            "data.timestamp_format: expected a strptime format such as '%d/%m/%Y %H:%M'; "
            f"got {timestamp_format!r}"
        )
    delimiter = _optional_text(source, "csv_delimiter") or ","
    if any(c in delimiter for c in '\r\n"'):
        raise ConfigError(
            "data.csv_delimiter: expected a string without quotes or line breaks, e.g. ',' or "
            f"';'; got {delimiter!r}"
        )
    _config_datetime(source, "end_date")  # used downstream; a typo should fail here, early
    fraction = source.get("max_reject_fraction")
    if (
        isinstance(fraction, bool)
        or not isinstance(fraction, int | float)
        or not 0 <= fraction <= 1
    ):
        raise ConfigError(
            f"data.max_reject_fraction: expected a number in [0, 1]; got {fraction!r}"
        )
    return _Config(
        format=fmt,
        path=path,
        sources=sources,
        timestamp_format=timestamp_format,
        csv_delimiter=delimiter,
        max_timestamp=_config_datetime(source, "max_timestamp"),
        max_reject_fraction=float(fraction),
        columns=_config_columns(source.get("columns")),
    )


def _required_text(source: Mapping[str, Any], key: str) -> str:
    value = source.get(key)
    if not isinstance(value, str) or not value.strip() or value == "???":
        raise ConfigError(f"data.{key}: required; expected a non-empty string, got {value!r}")
    return value


def _optional_text(source: Mapping[str, Any], key: str) -> str | None:
    value = source.get(key)
    if value is not None and (not isinstance(value, str) or not value):
        raise ConfigError(f"data.{key}: expected null or a non-empty string; got {value!r}")
    return value


def _config_datetime(source: Mapping[str, Any], key: str) -> dt.datetime | None:
    value = source.get(key)
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, dt.date):
        parsed = dt.datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.strip())
        except ValueError as err:
            raise ConfigError(
                f"data.{key}: expected an ISO 8601 date or datetime such as '2024-06-30' or "
                f"'2024-06-30T12:00:00'; got {value!r}"
            ) from err
    else:
        raise ConfigError(f"data.{key}: expected an ISO 8601 date or datetime; got {value!r}")
    return _naive_utc(parsed)


def _config_columns(columns: Any) -> dict[str, dict[str, str]]:
    if columns is None:
        columns = {}
    if not isinstance(columns, Mapping):
        raise ConfigError(f"data.columns: expected a mapping of tables; got {columns!r}")
    unknown = sorted(set(map(str, columns)) - set(TABLES))
    if unknown:
        raise ConfigError(
            f"data.columns: expected tables among {', '.join(TABLES)}; got {', '.join(unknown)}"
        )
    result: dict[str, dict[str, str]] = {}
    for table in TABLES:
        mapping = columns.get(table) or {}
        if not isinstance(mapping, Mapping):
            raise ConfigError(
                f"data.columns.{table}: expected a mapping of contract column -> source column; "
                f"got {mapping!r}"
            )
        contract = {f.name: f for f in _FIELDS[table]}
        if table != "customers":  # customers may rename any attribute; the others are fixed
            extra = sorted(set(map(str, mapping)) - set(contract))
            if extra:
                raise ConfigError(
                    f"data.columns.{table}: expected keys among {', '.join(contract)}; "
                    f"got {', '.join(extra)}"
                )
        resolved = {name: name for name in contract}
        for name, column in mapping.items():
            if column is None:
                if name in contract and contract[name].required:
                    raise ConfigError(
                        f"data.columns.{table}.{name}: required column; expected the source "
                        "column name, got null"
                    )
                resolved.pop(str(name), None)
            elif not isinstance(column, str) or not column:
                raise ConfigError(
                    f"data.columns.{table}.{name}: expected a source column name; got {column!r}"
                )
            else:
                resolved[str(name)] = column
        result[table] = resolved
    return result


def _naive_utc(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        return value
    return value.astimezone(dt.UTC).replace(tzinfo=None)


# --- public functions --------------------------------------------------------------------------


def load(source: Mapping[str, Any], *, now: dt.datetime | None = None) -> Dataset:
    """Load, map and validate transactions and the optional customers and events.

    Args:
        source: the data config as a plain mapping (e.g.
            ``OmegaConf.to_container(cfg.data, resolve=True)``): format (csv, parquet or
            duckdb), path, customers, events, table, timestamp_format, csv_delimiter,
            max_timestamp, end_date, max_reject_fraction, columns. Other keys are ignored.
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
    with _connect() as con:
        _check_timestamp_format(con, cfg)
        if cfg.format == "duckdb":
            _attach(con, cfg.path)
        results = {
            table: _load_table(con, cfg, table, limit) for table in TABLES if table in cfg.sources
        }
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

    Args:
        rejects: :attr:`Dataset.rejects` (or :attr:`TooManyRejectsError.rejects`).
        path: the CSV file to write; its folder is created when missing.

    Returns:
        The path written. An empty frame still gives a file with the header row.
    """
    frame = rejects if len(rejects.columns) else pd.DataFrame(columns=list(REJECT_COLUMNS))
    with atomic_file(path) as tmp:
        frame.to_csv(tmp, index=False, encoding="utf-8")
    log.info("wrote %d rejected rows to %s", len(frame), path)
    return Path(path)


def fingerprint(transactions: pa.Table) -> dict[str, Any]:
    """Summarise a transactions table for tracking: counts, date range and a content hash.

    The hash is the same for the same rows in any order and changes when any value (or the
    column names) changes; it is built from MD5 digests of each row's text, so it does not
    depend on the DuckDB version.

    Args:
        transactions: the validated transactions (:attr:`Dataset.transactions`).

    Returns:
        ``rows``, ``customers`` (distinct customer ids), ``first_timestamp`` and
        ``last_timestamp`` (ISO strings, None when empty) and ``hash`` (hex string).

    Raises:
        DataError: the table lacks customer_id or timestamp.
    """
    if not isinstance(transactions, pa.Table):
        raise TypeError(f"fingerprint: expected a pyarrow.Table; got {type(transactions).__name__}")
    missing = [c for c in ("customer_id", "timestamp") if c not in transactions.column_names]
    if missing:
        raise DataError(
            f"fingerprint: expected columns customer_id and timestamp; {', '.join(missing)} "
            f"missing from columns {', '.join(transactions.column_names)}"
        )
    row_text = "concat_ws(chr(31), {})".format(
        ", ".join(
            f"coalesce(CAST({_ident(c)} AS VARCHAR), chr(0))" for c in transactions.column_names
        )
    )
    with _connect() as con:
        con.register("__churn_fingerprint", transactions)
        # Summing the two 64-bit halves of each row's digest is order-independent and, unlike
        # XOR, counts repeated rows.
        row = con.execute(
            f"""SELECT count(*), count(DISTINCT customer_id),
                       CAST(min("timestamp") AS TIMESTAMP), CAST(max("timestamp") AS TIMESTAMP),
                       CAST(sum(CAST(h >> 64 AS HUGEINT)) AS VARCHAR),
                       CAST(sum(CAST(h & CAST({2**64 - 1} AS UHUGEINT) AS HUGEINT)) AS VARCHAR)
                FROM (SELECT customer_id, "timestamp", md5_number({row_text}) AS h
                      FROM __churn_fingerprint)"""
        ).fetchone()
    if row is None:  # an aggregate always returns a row
        raise RuntimeError("fingerprint: the aggregate query returned nothing")
    rows, customers, first, last, high, low = row
    schema = ",".join(f"{f.name}:{f.type}" for f in transactions.schema)
    digest = hashlib.sha256(f"{schema}|{rows}|{high}|{low}".encode()).hexdigest()
    return {
        "rows": int(rows),
        "customers": int(customers),
        "first_timestamp": first.isoformat() if first is not None else None,
        "last_timestamp": last.isoformat() if last is not None else None,
        "hash": digest,
    }


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


# --- sources -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Source:
    table: str
    label: str  # for messages: "transactions (data/tx.csv)"
    view: str  # raw columns + __churn_ord (global order) + __churn_file (index into files)
    columns: dict[str, str]  # source column -> DuckDB type, in source order
    rows: int


def _open_source(con: duckdb.DuckDBPyConnection, cfg: _Config, table: str) -> _Source:
    location = cfg.sources[table]
    main_key = "table" if cfg.format == "duckdb" else "path"
    key = main_key if table == "transactions" else table  # the config key naming the source
    if cfg.format == "duckdb":
        label = f"{table} ({cfg.path}, table {location})"
        files = _open_duckdb_table(con, table, location, key, label)
    else:
        label = f"{table} ({location})"
        paths = _resolve_files(location, cfg.format, key, table)
        if cfg.format == "csv":
            files = _open_csv(con, table, paths, cfg.csv_delimiter, label)
        else:
            files = _open_parquet(con, table, paths, label)
    # The files (or the database table) of this source: a row's file is files[idx], and its
    # row number within that file is its order key minus start.
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE __churn_files_{table} "
        "(idx INTEGER, name VARCHAR, start BIGINT)"
    )
    con.executemany(f"INSERT INTO __churn_files_{table} VALUES (?, ?, ?)", files)
    view = f"__churn_src_{table}"
    described = con.execute(f"DESCRIBE SELECT * FROM {view}").fetchall()
    columns = {str(r[0]): str(r[1]) for r in described if not str(r[0]).startswith(_INTERNAL)}
    count = con.execute(f"SELECT count(*) FROM {view}").fetchone()
    rows = int(count[0]) if count else 0
    return _Source(table=table, label=label, view=view, columns=columns, rows=rows)


def _resolve_files(location: str, fmt: str, key: str, table: str) -> list[str]:
    """The files a path, folder or glob names, sorted, each with an accepted suffix."""
    expanded = os.path.expanduser(location)
    suffixes = SUFFIXES[fmt]
    if any(c in expanded for c in "*?["):
        found = sorted(p for p in glob.glob(expanded, recursive=True) if os.path.isfile(p))
        if not found:
            raise MissingInputError(
                f"{table} ({location}): data.{key} is a glob that matches no files "
                f"(searched {os.path.abspath(expanded)})"
            )
        wrong = [p for p in found if not _has_suffix(p, suffixes)]
        if wrong:
            raise DataError(_format_message(table, location, key, fmt, wrong[0]))
        return found
    path = Path(expanded)
    if path.is_dir():
        found = sorted(
            str(p)
            for p in path.rglob("*")
            if p.is_file()
            and not any(part.startswith((".", "_")) for part in p.relative_to(path).parts)
        )
        accepted = [p for p in found if _has_suffix(p, suffixes)]
        if not accepted:
            others = f"; it holds {len(found)} other files, e.g. {found[0]!r}" if found else ""
            raise MissingInputError(
                f"{table} ({location}): data.{key} is a folder with no {fmt} files (names ending "
                f"in {', '.join(suffixes)}) at any depth (searched {path.absolute()}){others}"
            )
        return accepted
    if not path.exists():
        raise MissingInputError(
            f"{table} ({location}): data.{key} names a file that does not exist "
            f"(looked for {path.absolute()})"
        )
    if not _has_suffix(expanded, suffixes):
        raise DataError(_format_message(table, location, key, fmt, expanded))
    return [expanded]


def _has_suffix(path: str, suffixes: tuple[str, ...]) -> bool:
    return path.lower().endswith(suffixes)


def _format_message(table: str, location: str, key: str, fmt: str, path: str) -> str:
    name = Path(path).name
    got = "".join(Path(name).suffixes[-2:]) or "no extension"
    hint = ""
    for other, suffixes in SUFFIXES.items():
        if other != fmt and _has_suffix(path, suffixes):
            hint = f" (for {other} files set data.format={other})"
    return (
        f"{table} ({location}): data.format is {fmt}, which reads files ending in "
        f"{', '.join(SUFFIXES[fmt])} (or a folder or glob of them); data.{key} gives "
        f"{path!r}, ending in {got!r}{hint}"
    )


def _open_parquet(
    con: duckdb.DuckDBPyConnection, table: str, paths: list[str], label: str
) -> list[tuple[int, str, int]]:
    files = _list_literal(paths)
    try:
        raw = con.execute(f"DESCRIBE SELECT * FROM read_parquet({files}, union_by_name = true)")
        _check_reserved(
            label, [str(r[0]) for r in raw.fetchall()], ("file_row_number", "file_index")
        )
        con.execute(
            f"""CREATE OR REPLACE TEMP VIEW __churn_src_{table} AS
                SELECT * EXCLUDE (file_row_number),
                       (CAST(file_index AS BIGINT) << {_FILE_SHIFT}) + file_row_number AS {_ORD},
                       CAST(file_index AS INTEGER) AS {_FILE}
                FROM read_parquet({files}, file_row_number = true, union_by_name = true)"""
        )
    except duckdb.Error as err:
        raise DataError(f"{label}: could not read it as Parquet: {_reason(err)}") from err
    return [(i, p, i << _FILE_SHIFT) for i, p in enumerate(paths)]


def _open_csv(
    con: duckdb.DuckDBPyConnection, table: str, paths: list[str], delimiter: str, label: str
) -> list[tuple[int, str, int]]:
    # CSV has no row-number column: the rows are loaded once, in file order, and rowid numbers
    # them; a file's rows are contiguous, so the row within a file is rowid minus its first rowid.
    reader = (
        f"read_csv({_list_literal(paths)}, all_varchar = true, header = true, "
        f"delim = {_lit(delimiter)}, union_by_name = true)"
    )
    raw = f"__churn_raw_{table}"
    try:
        names = [str(r[0]) for r in con.execute(f"DESCRIBE SELECT * FROM {reader}").fetchall()]
        _check_reserved(label, names, ("file_index",))
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {raw} AS "
            f"SELECT *, CAST(file_index AS INTEGER) AS {_FILE} FROM {reader}"
        )
    except duckdb.Error as err:
        raise DataError(
            f"{label}: could not read it as CSV (UTF-8, a header row, delimiter {delimiter!r}): "
            f"{_reason(err)}"
        ) from err
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW __churn_src_{table} AS SELECT *, rowid AS {_ORD} FROM {raw}"
    )
    spans = con.execute(
        f"SELECT {_FILE}, min(rowid), max(rowid), count(*) FROM {raw} GROUP BY ALL"
    ).fetchall()
    starts = {}
    for index, first, last, count in spans:
        if last - first + 1 != count:
            raise RuntimeError(
                f"{label}: internal error: the rows of {paths[index]} are not contiguous"
            )
        starts[index] = first
    return [(i, p, starts.get(i, 0)) for i, p in enumerate(paths)]


def _open_duckdb_table(
    con: duckdb.DuckDBPyConnection, table: str, name: str, key: str, label: str
) -> list[tuple[int, str, int]]:
    found = con.execute(
        f"""SELECT schema_name, table_name, 'table' FROM duckdb_tables()
            WHERE database_name = '{_DB}'
            UNION ALL
            SELECT schema_name, view_name, 'view' FROM duckdb_views()
            WHERE database_name = '{_DB}' AND NOT internal
            ORDER BY ALL"""
    ).fetchall()
    wanted = name.lower().split(".")
    matches = [
        (schema, rel, kind)
        for schema, rel, kind in found
        if [rel.lower()] == wanted or [schema.lower(), rel.lower()] == wanted
    ]
    if not matches:
        existing = ", ".join(rel if s == "main" else f"{s}.{rel}" for s, rel, _ in found)
        raise DataError(
            f"{label}: data.{key} names a table {name!r} that is not in the database; "
            f"it has: {existing or 'no tables'}"
        )
    schema, rel, kind = matches[0]
    qualified = f"{_DB}.{_ident(schema)}.{_ident(rel)}"
    names = [str(r[0]) for r in con.execute(f"DESCRIBE SELECT * FROM {qualified}").fetchall()]
    _check_reserved(label, names, ("rowid",))
    if kind == "view":  # a view has no rowid: number its rows by loading them once
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE __churn_raw_{table} AS SELECT * FROM {qualified}"
        )
        qualified = f"__churn_raw_{table}"
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW __churn_src_{table} AS "
        f"SELECT *, rowid AS {_ORD}, 0 AS {_FILE} FROM {qualified}"
    )
    return [(0, name, 0)]


def _check_reserved(label: str, names: list[str], reserved: tuple[str, ...]) -> None:
    clash = [n for n in names if n.lower() in reserved or n.startswith(_INTERNAL)]
    if clash:
        raise DataError(
            f"{label}: the source has a column named {clash[0]!r}, a name the reader uses for "
            f"row numbering ({', '.join(reserved)}, {_INTERNAL}*); rename that column"
        )


# --- validation --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Column:
    """A contract (or customer attribute) column and the source column it comes from."""

    field: _Field
    source: str
    type_class: str

    @property
    def label(self) -> str:
        if self.field.name == self.source:
            return self.field.name
        return f"{self.field.name} (column {self.source!r})"


@dataclass(frozen=True)
class _Check:
    rule: str
    condition: str  # over the parsed value __churn_p_<name> and the raw column
    problem: str  # what is wrong with a present value, e.g. " is not a number"
    column: _Column


@dataclass(frozen=True)
class _TableResult:
    label: str
    used: pa.Table
    rejects: pa.Table
    report: TableReport
    examples: dict[str, list[str]]  # rule -> up to 3 distinct offending values

    @property
    def share(self) -> float:
        if not self.report.input_rows:
            return 0.0
        return self.report.rejected_rows / self.report.input_rows

    def failure(self, limit: float) -> str:
        parts = []
        for rule, count in self.report.rejected_by_rule.items():
            shown = ", ".join(repr(v) for v in self.examples.get(rule, []))
            parts.append(f"{rule} {count}" + (f" (e.g. {shown})" if shown else ""))
        return (
            f"{self.label}: {self.report.rejected_rows} of {self.report.input_rows} rows "
            f"({self.share:.1%}) rejected, more than data.max_reject_fraction={limit:g}: "
            + ", ".join(parts)
        )


def _load_table(
    con: duckdb.DuckDBPyConnection, cfg: _Config, table: str, limit: dt.datetime
) -> _TableResult:
    src = _open_source(con, cfg, table)
    if table == "transactions" and src.rows == 0:
        raise DataError(f"{src.label}: expected at least one transaction row; got none")
    columns = _map_columns(cfg, src)
    passthrough = _passthrough(cfg, src, columns)
    checks = [c for col in columns for c in _checks(col, cfg, limit)]
    chk = _classify(con, src, cfg, columns, passthrough, checks)
    key = _DEDUPE_KEY.get(table)
    if not any(col.field.name == key for col in columns):
        key = None
    if key is not None:
        _mark_duplicates(con, chk, key)
    names = ", ".join(_ident(name) for name in _output_names(table, columns, passthrough))
    used = con.execute(f"SELECT {names} FROM {chk} WHERE {_RULE} IS NULL").to_arrow_table()
    used = used.cast(_output_schema(table, used.schema))
    rejects, by_rule, examples, warnings = _rejects(con, src, chk, checks, key, columns)
    for statement in (
        f"DROP TABLE {chk}",
        f"DROP VIEW {src.view}",
        f"DROP TABLE IF EXISTS __churn_raw_{table}",
        f"DROP TABLE __churn_files_{table}",
    ):
        con.execute(statement)
    report = TableReport(
        input_rows=src.rows,
        used_rows=used.num_rows,
        rejected_rows=rejects.num_rows,
        rejected_by_rule=by_rule,
    )
    if (
        report.used_rows + report.rejected_rows != report.input_rows
        or sum(by_rule.values()) != report.rejected_rows
    ):
        raise RuntimeError(
            f"{src.label}: internal error: {report.used_rows} used + {report.rejected_rows} "
            f"rejected rows ({by_rule}) do not add up to {report.input_rows} input rows"
        )
    log.info(
        "%s: %d rows read, %d used, %d rejected (%s)",
        src.label,
        report.input_rows,
        report.used_rows,
        report.rejected_rows,
        ", ".join(f"{r} {n}" for r, n in by_rule.items()) or "none",
    )
    for rule, count in by_rule.items():
        log.warning(
            "%s: %d row(s) rejected as %s, e.g. %s",
            src.label,
            count,
            rule,
            "; ".join(warnings[rule]),
        )
    return _TableResult(
        label=src.label, used=used, rejects=rejects, report=report, examples=examples
    )


def _classify(
    con: duckdb.DuckDBPyConnection,
    src: _Source,
    cfg: _Config,
    columns: list[_Column],
    passthrough: list[tuple[str, str]],
    checks: list[_Check],
) -> str:
    """Parse every row once into a temp table of typed outputs and the first rule it breaks."""
    chk = f"__churn_chk_{src.table}"
    parsed = ", ".join(
        f"{_parse_sql(col, cfg)} AS {_ident(_INTERNAL + 'p_' + col.field.name)}" for col in columns
    )
    whens = " ".join(f"WHEN {c.condition} THEN {_lit(c.rule)}" for c in checks)
    rule = f"CASE {whens} END" if checks else "CAST(NULL AS VARCHAR)"
    outputs = [_output_sql(col) for col in columns]
    if src.table == "events" and not any(col.field.name == "value" for col in columns):
        outputs.append('CAST(NULL AS DOUBLE) AS "value"')
    outputs += [f"{_ident(s)} AS {_ident(out)}" for out, s in passthrough]
    try:
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE {chk} AS
                SELECT {_ORD}, {_FILE}, {", ".join(outputs)}, {_RULE},
                       CAST(NULL AS BIGINT) AS {_KEPT_ORD}, CAST(NULL AS INTEGER) AS {_KEPT_FILE}
                FROM (SELECT *, {rule} AS {_RULE}
                      FROM (SELECT *, {parsed} FROM {src.view}))"""
        )
    except (duckdb.IOException, duckdb.InvalidInputException) as err:
        raise DataError(f"{src.label}: could not read it: {_reason(err)}") from err
    return chk


def _map_columns(cfg: _Config, src: _Source) -> list[_Column]:
    """The contract columns the source provides, with their source names and type classes."""
    mapping = cfg.columns[src.table]
    result = []
    for field in _FIELDS[src.table]:
        key = f"data.columns.{src.table}.{field.name}"
        wanted = mapping.get(field.name)
        found = _find_column(wanted, src.columns) if wanted is not None else None
        if found is None:
            if field.required:
                raise DataError(_missing_column_message(src, field.name, wanted, key))
            if wanted is not None:
                log.info(
                    "%s: optional column %s (%s -> %r) not in the source; left out",
                    src.label,
                    field.name,
                    key,
                    wanted,
                )
            continue
        type_name = src.columns[found]
        column = _Column(field=field, source=found, type_class=_type_class(type_name))
        if not _accepts(field.kind, column.type_class):
            raise DataError(
                f"{src.label}: column {column.label} ({key}) should hold "
                f"{_EXPECTED[field.kind]}; got type {type_name}"
            )
        result.append(column)
    return result


def _passthrough(cfg: _Config, src: _Source, columns: list[_Column]) -> list[tuple[str, str]]:
    """Customers' other columns as (output name, source column), renamed as configured."""
    if src.table != "customers":
        return []
    contract = {f.name for f in _FIELDS["customers"]}
    renames: dict[str, str] = {}
    for out, wanted in cfg.columns["customers"].items():
        if out in contract:
            continue
        found = _find_column(wanted, src.columns)
        if found is None:
            log.info(
                "%s: column %s (data.columns.customers.%s -> %r) not in the source; left out",
                src.label,
                out,
                out,
                wanted,
            )
        else:
            renames[found] = out
    used = {col.source for col in columns}
    taken = {col.field.name for col in columns}
    result = []
    for name in src.columns:
        out = renames.get(name, name)
        if name in used:
            continue
        if out in taken:
            log.warning(
                "%s: column %r left out: its name is taken by a mapped contract column",
                src.label,
                name,
            )
            continue
        taken.add(out)
        result.append((out, name))
    return result


def _find_column(wanted: str, columns: dict[str, str]) -> str | None:
    if wanted in columns:
        return wanted
    # DuckDB matches identifiers case-insensitively; stray spaces in CSV headers are common.
    loose = [c for c in columns if c.strip().casefold() == wanted.strip().casefold()]
    return loose[0] if len(loose) == 1 else None


def _missing_column_message(src: _Source, name: str, wanted: str | None, key: str) -> str:
    have = ", ".join(repr(c) for c in src.columns) or "none"
    close = difflib.get_close_matches(wanted or name, list(src.columns), n=1)
    hint = f" (did you mean {close[0]!r}? set {key}={close[0]})" if close else ""
    return (
        f"{src.label}: required column {name!r} is missing: {key} maps it to the source column "
        f"{wanted!r}, which is not there{hint}; the source has columns: {have}"
    )


def _type_class(type_name: str) -> str:
    """The class of a DuckDB type name the parse templates are keyed by."""
    upper = type_name.upper()
    for prefix, type_class in (("DECIMAL", "decimal"), ("ENUM", "text"), ("VARCHAR", "text")):
        if upper.startswith(prefix):
            return type_class
    return _TYPE_CLASSES.get(upper, upper)


def _accepts(kind: Kind, type_class: str) -> bool:
    return kind == "text" or type_class in _PARSE_SQL[kind]


def _parse_sql(col: _Column, cfg: _Config) -> str:
    raw = _ident(col.source)
    if col.field.kind == "text" or col.type_class == "text":  # UUID, ENUM, NULL: as VARCHAR
        raw = f"CAST({raw} AS VARCHAR)"
    if col.field.kind == "text":
        return raw
    template = _PARSE_SQL[col.field.kind][col.type_class]
    if template != _TEXT_TIMESTAMP:
        return template.format(x=raw)
    # Surrounding spaces are rare; trimming only when the first parse fails keeps it fast.
    return f"COALESCE({_text_timestamp(raw, cfg)}, {_text_timestamp(f'trim({raw})', cfg)})"


def _text_timestamp(text: str, cfg: _Config) -> str:
    if cfg.timestamp_format is not None:
        # A format with %z or %Z gives TIMESTAMPTZ; epoch_us turns either into UTC microseconds.
        parsed = f"try_strptime({text}, {_lit(cfg.timestamp_format)})"
        return f"make_timestamp(epoch_us({parsed}))"
    # The GLOB keeps out words DuckDB would accept ('epoch', 'infinity'); the session's UTC time
    # zone makes text without an offset UTC, and text with one is converted.
    return (
        f"CASE WHEN {text} GLOB '[0-9][0-9][0-9][0-9]-*' "
        f"THEN make_timestamp(epoch_us(TRY_CAST({text} AS TIMESTAMPTZ))) END"
    )


def _output_sql(col: _Column) -> str:
    parsed = _ident(_INTERNAL + "p_" + col.field.name)
    if col.field.kind == "number":  # NaN in an optional number means missing
        parsed = f"CASE WHEN isnan({parsed}) THEN NULL ELSE {parsed} END"
    return f"{parsed} AS {_ident(col.field.name)}"


def _output_names(
    table: str, columns: list[_Column], passthrough: list[tuple[str, str]]
) -> list[str]:
    names = [col.field.name for col in columns]
    if table == "events" and "value" not in names:
        names.append("value")
    return names + [out for out, _ in passthrough]


def _output_schema(table: str, schema: pa.Schema) -> pa.Schema:
    types = {
        "customer_id": pa.string(),
        "transaction_id": pa.string(),
        "timestamp": pa.timestamp("us"),
        "signup_date": pa.timestamp("us"),
        "amount": pa.float64(),
        "quantity": pa.float64(),
        "value": pa.float64(),
        "category": pa.string(),
        "channel": pa.string(),
        "type": pa.string(),
    }
    contract = {f.name for f in _FIELDS[table]}
    return pa.schema([pa.field(f.name, types[f.name]) if f.name in contract else f for f in schema])


def _checks(col: _Column, cfg: _Config, limit: dt.datetime) -> list[_Check]:
    """The row rules of one column, in the order they are tried."""
    parsed = _ident(_INTERNAL + "p_" + col.field.name)
    raw = _ident(col.source)
    present = f"({raw} IS NOT NULL AND trim(CAST({raw} AS VARCHAR)) <> '')"
    name, kind, text = col.field.name, col.field.kind, col.type_class == "text"
    if kind in ("timestamp", "date"):
        if not text:
            expected = "a finite date or datetime"
        elif cfg.timestamp_format is not None:
            expected = f"a timestamp in data.timestamp_format {cfg.timestamp_format!r}"
        else:
            expected = _ISO_EXPECTED
        if kind == "date":
            bad = f"{parsed} IS NULL AND {present}"
            return [_Check(f"bad_{name}", bad, f" is not {expected}", col)]
        after = f" is after max_timestamp {limit.isoformat(sep=' ')}"
        return [
            _Check("bad_timestamp", f"{parsed} IS NULL", f" is not {expected}", col),
            _Check("future_timestamp", f"{parsed} > {_timestamp_literal(limit)}", after, col),
        ]
    if kind == "amount":
        non_finite = f"{parsed} IS NULL OR NOT isfinite({parsed})"
        return [
            _Check("bad_amount", f"{parsed} IS NULL AND {present}", " is not a number", col),
            _Check("non_finite_amount", non_finite, " is not a finite number", col),
        ][0 if text else 1 :]
    if kind == "number":  # missing or NaN is allowed; text that is no number and inf are not
        bad = f"({parsed} IS NULL AND {present}) OR isinf({parsed})" if text else f"isinf({parsed})"
        return [_Check(f"bad_{name}", bad, " is not a finite number", col)]
    if kind == "label" or (kind == "id" and col.field.required):
        rule = "null_id" if kind == "id" else f"null_{name}"
        return [_Check(rule, f"{parsed} IS NULL", " is not usable", col)]
    return []


def _mark_duplicates(con: duckdb.DuckDBPyConnection, chk: str, key: str) -> None:
    """Reject rows repeating the key of an earlier row that passed the other checks."""
    k = _ident(key)
    dups = f"{chk}_dups"
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {dups} AS
            SELECT {k} AS k, min({_ORD}) AS kept_ord, arg_min({_FILE}, {_ORD}) AS kept_file
            FROM {chk} WHERE {_RULE} IS NULL AND {k} IS NOT NULL
            GROUP BY {k} HAVING count(*) > 1"""
    )
    con.execute(
        f"""UPDATE {chk} SET {_RULE} = 'duplicate_id', {_KEPT_ORD} = d.kept_ord,
                {_KEPT_FILE} = d.kept_file
            FROM {dups} AS d
            WHERE {chk}.{k} = d.k AND {chk}.{_RULE} IS NULL AND {chk}.{_ORD} <> d.kept_ord"""
    )
    con.execute(f"DROP TABLE {dups}")


def _rejects(
    con: duckdb.DuckDBPyConnection,
    src: _Source,
    chk: str,
    checks: list[_Check],
    key: str | None,
    columns: list[_Column],
) -> tuple[pa.Table, dict[str, int], dict[str, list[str]], dict[str, list[str]]]:
    """The rejected rows with reasons, counts by rule, example values and warning examples."""
    reasons, values = [], []
    for check in checks + _duplicate_check(key, columns):
        text = f"CAST(s.{_ident(check.column.source)} AS VARCHAR)"
        label = _lit(check.column.label)
        if check.rule == "duplicate_id":
            reason = (
                f"{label} || ' ' || __churn_show({text}) || ' repeats ' || kf.name || ' row ' "
                f"|| CAST(c.{_KEPT_ORD} - kf.start AS VARCHAR) || ', which is kept'"
            )
        else:
            reason = (
                f"CASE WHEN {text} IS NULL THEN {label} || ' is missing' "
                f"WHEN trim({text}) = '' THEN {label} || ' is blank: ' || __churn_show({text}) "
                f"ELSE {label} || ' ' || __churn_show({text}) || {_lit(check.problem)} END"
            )
        reasons.append(f"WHEN {_lit(check.rule)} THEN {reason}")
        values.append(f"WHEN {_lit(check.rule)} THEN {text}")
    fixed = set(REJECT_COLUMNS)
    originals = []
    for name in src.columns:
        out = name
        while out in fixed:  # keep the fixed columns' names free
            out += "_"
        fixed.add(out)
        originals.append(f"CAST(s.{_ident(name)} AS VARCHAR) AS {_ident(out)}")
    counts = dict(
        con.execute(
            f"SELECT {_RULE}, count(*) FROM {chk} WHERE {_RULE} IS NOT NULL GROUP BY ALL"
        ).fetchall()
    )
    rej = f"{chk}_rejects"
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {rej} AS
            SELECT {_lit(src.table)} AS "table", f.name AS "source",
                   c.{_ORD} - f.start AS source_row, c.{_RULE} AS "rule",
                   CASE c.{_RULE} {" ".join(reasons)} END AS reason,
                   {", ".join(originals)},
                   CASE c.{_RULE} {" ".join(values)} END AS __churn_value, c.{_ORD}
            FROM {chk} AS c
            JOIN {src.view} AS s ON s.{_ORD} = c.{_ORD}
            JOIN __churn_files_{src.table} AS f ON f.idx = c.{_FILE}
            LEFT JOIN __churn_files_{src.table} AS kf ON kf.idx = c.{_KEPT_FILE}
            WHERE c.{_RULE} IS NOT NULL {"" if counts else "AND false"}
            ORDER BY c.{_ORD}"""
    )
    table = con.execute(f"SELECT * EXCLUDE (__churn_value, {_ORD}) FROM {rej}").to_arrow_table()
    examples: dict[str, list[str]] = {}
    for rule, value in con.execute(
        f"""SELECT "rule", __churn_value FROM (
                SELECT "rule", __churn_value, min({_ORD}) AS first FROM {rej}
                WHERE __churn_value IS NOT NULL GROUP BY ALL)
            QUALIFY row_number() OVER (PARTITION BY "rule" ORDER BY first) <= {_ERROR_EXAMPLES}
            ORDER BY "rule", first"""
    ).fetchall():
        examples.setdefault(rule, []).append(value)
    warnings: dict[str, list[str]] = {}
    for rule, source, row, reason in con.execute(
        f"""SELECT "rule", "source", source_row, reason FROM {rej}
            QUALIFY row_number() OVER (PARTITION BY "rule" ORDER BY {_ORD}) <= {_WARN_EXAMPLES}
            ORDER BY "rule", {_ORD}"""
    ).fetchall():
        warnings.setdefault(rule, []).append(f"{source} row {row}: {reason}")
    con.execute(f"DROP TABLE {rej}")
    by_rule = {
        r: int(counts[r]) for r in sorted(counts, key=lambda r: (-counts[r], RULES.index(r)))
    }
    return table, by_rule, examples, warnings


def _duplicate_check(key: str | None, columns: list[_Column]) -> list[_Check]:
    for col in columns:
        if col.field.name == key:
            return [_Check("duplicate_id", "", "", col)]
    return []


def _rejects_frame(tables: list[pa.Table]) -> pd.DataFrame:
    combined = pa.concat_tables(tables, promote_options="default")
    return combined.to_pandas()


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

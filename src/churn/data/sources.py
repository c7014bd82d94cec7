"""Open a source (CSV, Parquet file, folder or glob, DuckDB table) as a DuckDB relation."""

from __future__ import annotations

import glob
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import duckdb

from churn.data.config import _Config
from churn.data.contract import _DB, _FILE, _FILE_SHIFT, _INTERNAL, _ORD, SUFFIXES
from churn.data.dataset import MissingInputError
from churn.data.sql import _ident, _list_literal, _lit, _reason
from churn.errors import DataError

log = logging.getLogger(__name__)

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

"""Map a source's columns to the contract's names and types (missing or mistyped columns fail)."""

from __future__ import annotations

import difflib
import logging
from dataclasses import dataclass

import pyarrow as pa

from churn.data.config import _Config
from churn.data.contract import (
    _EXPECTED,
    _FIELDS,
    _ID_SQL,
    _INTERNAL,
    _PARSE_SQL,
    _TEXT_ID,
    _TEXT_TIMESTAMP,
    _TYPE_CLASSES,
    Kind,
    _Field,
)
from churn.data.sources import _Source
from churn.data.sql import _ident, _lit
from churn.errors import DataError

log = logging.getLogger(__name__)

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
    if template == _TEXT_ID:
        return _ID_SQL[cfg.id_normalization].format(x=raw)
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

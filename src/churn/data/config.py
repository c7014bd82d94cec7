"""The ``data`` config node as a checked, typed source description."""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from churn.data.contract import _FIELDS, FORMATS, ID_NORMALIZATIONS, NPS_SCALE, TABLES
from churn.errors import ConfigError

log = logging.getLogger(__name__)

# --- configuration -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Config:
    format: str
    path: str
    sources: dict[str, str]  # table -> path (csv, parquet) or table name (duckdb)
    timestamp_format: str | None
    csv_delimiter: str
    max_timestamp: dt.datetime | None
    min_timestamp: dt.datetime
    max_abs_amount: float
    nps_range: tuple[int, int]
    exit_reasons: tuple[str, ...]  # an exit_survey event's value is an index into these
    id_normalization: str
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
    max_timestamp = _config_datetime(source, "max_timestamp")
    min_timestamp = _config_datetime(source, "min_timestamp")
    if min_timestamp is None:
        raise ConfigError(
            "data.min_timestamp: required; expected an ISO 8601 date or datetime such as "
            "'1970-01-01' (earlier rows are rejected); got None"
        )
    if max_timestamp is not None and min_timestamp >= max_timestamp:
        raise ConfigError(
            f"data.min_timestamp: expected a time before data.max_timestamp "
            f"{max_timestamp.isoformat(sep=' ')}; got {min_timestamp.isoformat(sep=' ')}"
        )
    return _Config(
        format=fmt,
        path=path,
        sources=sources,
        timestamp_format=timestamp_format,
        csv_delimiter=delimiter,
        max_timestamp=max_timestamp,
        min_timestamp=min_timestamp,
        max_abs_amount=_config_max_abs_amount(source),
        nps_range=_config_nps_range(source),
        exit_reasons=_config_exit_reasons(source),
        id_normalization=_config_id_normalization(source),
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


def _config_max_abs_amount(source: Mapping[str, Any]) -> float:
    value = source.get("max_abs_amount")
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ConfigError(
            f"data.max_abs_amount: expected a positive finite number such as 1e9; got {value!r}"
        )
    return float(value)


def _config_nps_range(source: Mapping[str, Any]) -> tuple[int, int]:
    value = source.get("nps_range")
    low, high = NPS_SCALE
    expected = (
        f"data.nps_range: expected [lowest, highest], whole numbers with "
        f"{low} <= lowest <= highest <= {high} (the NPS scale); got {value!r}"
    )
    if isinstance(value, str | bytes) or not isinstance(value, Sequence) or len(value) != 2:
        raise ConfigError(expected)
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise ConfigError(expected)
    if not low <= value[0] <= value[1] <= high:
        raise ConfigError(expected)
    return int(value[0]), int(value[1])


def _config_exit_reasons(source: Mapping[str, Any]) -> tuple[str, ...]:
    value = source.get("exit_reasons")
    expected = (
        "data.exit_reasons: expected a non-empty list of distinct reason names (an exit_survey "
        f"event's value is the 0-based index into it), e.g. [price, service, other]; got {value!r}"
    )
    if isinstance(value, str | bytes) or not isinstance(value, Sequence) or not value:
        raise ConfigError(expected)
    if not all(isinstance(v, str) and v.strip() for v in value) or len(set(value)) != len(value):
        raise ConfigError(expected)
    return tuple(str(v) for v in value)


def _config_id_normalization(source: Mapping[str, Any]) -> str:
    value = source.get("id_normalization")
    if value not in ID_NORMALIZATIONS:
        raise ConfigError(
            f"data.id_normalization: expected one of {', '.join(ID_NORMALIZATIONS)}; got {value!r}"
        )
    return str(value)


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

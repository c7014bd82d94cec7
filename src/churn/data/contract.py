"""The data contract: tables, formats, fields and their kinds, rule codes, SQL for each kind.

Rule codes:

========================  ==============================================================
``null_id``               customer_id missing or blank (all tables)
``bad_timestamp``         timestamp missing or not a date/datetime (transactions, events)
``future_timestamp``      timestamp after ``max_timestamp`` (transactions, events)
``early_timestamp``       timestamp before ``min_timestamp`` (transactions, events)
``bad_amount``            amount is text that is not a number
``non_finite_amount``     amount missing, NaN or infinite
``amount_out_of_range``   amount larger in size than ``max_abs_amount``
``bad_quantity``          quantity present but not a finite number
``duplicate_id``          transaction_id (customer_id for customers) seen in an earlier valid row,
                          with the same loaded values
``duplicate_id_conflict`` the same, but a loaded value differs from the kept row's
``bad_signup_date``       signup_date present but not a date/datetime
``null_type``             event type missing or blank
``bad_value``             event value present but not a finite number
``bad_nps_value``         an ``nps`` event whose value is missing or not a whole number in
                          ``nps_range``
``bad_exit_reason``       an ``exit_survey`` event whose value is missing or not a whole-number
                          index into ``exit_reasons`` (0 for the first reason)
========================  ==============================================================

Ids (``customer_id`` and ``transaction_id`` of every table) are text. Text ids always lose
surrounding whitespace (spaces, tabs, line breaks); blank is missing. ``id_normalization: none``
keeps the rest as given (``'2.00'``, ``'002'`` and ``'2'`` are three customers);
``strip_numeric_suffix`` also turns an integer written with a zero fraction (``'2.00'``,
``'-2.0'``) into that integer (``'2'``), nothing else (``'002'``, ``'2.'``, ``'2e0'`` stay).
Numeric id columns (Parquet, DuckDB) hold numbers, not text, so there is no written form to keep:
an integer is its digits, and a float or decimal with no fraction is written as that integer
(``2.0`` is ``'2'``, as pandas stores an integer id column with a missing value as floats), with
either setting; other floats keep their fraction (``'2.5'``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Final, Literal

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
    "early_timestamp",
    "bad_amount",
    "non_finite_amount",
    "amount_out_of_range",
    "bad_quantity",
    "duplicate_id",
    "duplicate_id_conflict",
    "bad_signup_date",
    "null_type",
    "bad_value",
    "bad_nps_value",
    "bad_exit_reason",
)
ID_NORMALIZATIONS: Final = ("none", "strip_numeric_suffix")
NPS_TYPE: Final = "nps"  # the event type whose value is an NPS answer (as the features read it)
NPS_SCALE: Final = (0, 10)  # the answers the features and the report understand
# The event type of a departing customer's answer to "why did you leave": its value is the 0-based
# index of the reason in ``data.exit_reasons``. Answered after leaving, so no feature reads it.
EXIT_SURVEY_TYPE: Final = "exit_survey"
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
_DIFF: Final = "__churn_diff"  # a conflicting duplicate's differing columns
_DB: Final = "__churn_db"


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
# Rows repeating this key of an earlier valid row are rejected as duplicate_id (the same loaded
# values) or duplicate_id_conflict (different ones).
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
_TEXT_ID: Final = "text id"  # marks the template that depends on data.id_normalization
# Trimmed text ids, blank as NULL; the whitespace is spaces, tabs and line breaks.
_TRIMMED: Final = "NULLIF(trim({x}, ' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)), '')"
_ID_SQL: Final = {
    "none": _TRIMMED,
    # An integer written with a zero fraction ('123.00') is that integer; '0123' stays as it is.
    # The LIKE skips the regular expression for the ids that cannot match.
    "strip_numeric_suffix": (
        f"CASE WHEN {_TRIMMED} LIKE '%.0%' "
        f"THEN regexp_replace({_TRIMMED}, '^(-?[0-9]+)\\.0+$', '\\1') ELSE {_TRIMMED} END"
    ),
}
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
        "text": _TEXT_ID,
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

"""The row rules of one table: each row used or rejected with a rule code and a reason.

Whole-input problems (missing column, wrong column type, no rows) raise
:class:`~churn.errors.DataError` at once.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import duckdb
import pandas as pd
import pyarrow as pa

from churn.data.columns import (
    _Column,
    _map_columns,
    _output_names,
    _output_schema,
    _output_sql,
    _parse_sql,
    _passthrough,
)
from churn.data.config import _Config
from churn.data.contract import (
    _DEDUPE_KEY,
    _DIFF,
    _ERROR_EXAMPLES,
    _FILE,
    _INTERNAL,
    _ISO_EXPECTED,
    _KEPT_FILE,
    _KEPT_ORD,
    _ORD,
    _RULE,
    _WARN_EXAMPLES,
    EXIT_SURVEY_TYPE,
    NPS_TYPE,
    REJECT_COLUMNS,
    RULES,
)
from churn.data.dataset import TableReport
from churn.data.sources import _open_source, _Source
from churn.data.sql import _ident, _lit, _reason, _timestamp_literal
from churn.errors import DataError

log = logging.getLogger(__name__)


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
    checks += _nps_checks(columns, cfg) + _exit_checks(columns, cfg)
    chk = _classify(con, src, cfg, columns, passthrough, checks)
    key = _DEDUPE_KEY.get(table)
    if not any(col.field.name == key for col in columns):
        key = None
    if key is not None:
        _mark_duplicates(con, chk, key, _compared(key, columns, passthrough))
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
                       CAST(NULL AS BIGINT) AS {_KEPT_ORD}, CAST(NULL AS INTEGER) AS {_KEPT_FILE},
                       CAST(NULL AS VARCHAR) AS {_DIFF}
                FROM (SELECT *, {rule} AS {_RULE}
                      FROM (SELECT *, {parsed} FROM {src.view}))"""
        )
    except (duckdb.IOException, duckdb.InvalidInputException) as err:
        raise DataError(f"{src.label}: could not read it: {_reason(err)}") from err
    return chk


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
        before = f" is before min_timestamp {cfg.min_timestamp.isoformat(sep=' ')}"
        early = f"{parsed} < {_timestamp_literal(cfg.min_timestamp)}"
        return [
            _Check("bad_timestamp", f"{parsed} IS NULL", f" is not {expected}", col),
            _Check("future_timestamp", f"{parsed} > {_timestamp_literal(limit)}", after, col),
            _Check("early_timestamp", early, before, col),
        ]
    if kind == "amount":
        non_finite = f"{parsed} IS NULL OR NOT isfinite({parsed})"
        too_large = f"abs({parsed}) > CAST({cfg.max_abs_amount!r} AS DOUBLE)"
        larger = f" is larger in size than max_abs_amount {cfg.max_abs_amount:g}"
        return [
            _Check("bad_amount", f"{parsed} IS NULL AND {present}", " is not a number", col),
            _Check("non_finite_amount", non_finite, " is not a finite number", col),
            _Check("amount_out_of_range", too_large, larger, col),
        ][0 if text else 1 :]
    if kind == "number":  # missing or NaN is allowed; text that is no number and inf are not
        bad = f"({parsed} IS NULL AND {present}) OR isinf({parsed})" if text else f"isinf({parsed})"
        return [_Check(f"bad_{name}", bad, " is not a finite number", col)]
    if kind == "label" or (kind == "id" and col.field.required):
        rule = "null_id" if kind == "id" else f"null_{name}"
        return [_Check(rule, f"{parsed} IS NULL", " is not usable", col)]
    return []


def _nps_checks(columns: list[_Column], cfg: _Config) -> list[_Check]:
    """An ``nps`` event's value must be an answer the features and the report understand."""
    by_name = {col.field.name: col for col in columns}
    if "type" not in by_name:
        return []
    is_nps = f"{_ident(_INTERNAL + 'p_type')} = {_lit(NPS_TYPE)}"
    low, high = cfg.nps_range
    if "value" not in by_name:  # no answers at all: every NPS event lacks its value
        return [
            _Check("bad_nps_value", is_nps, " has no value column to answer with", by_name["type"])
        ]
    value = _ident(_INTERNAL + "p_value")
    answer = (
        f"{value} IS NOT NULL AND NOT isnan({value}) AND {value} = trunc({value}) "
        f"AND {value} BETWEEN {low} AND {high}"
    )
    problem = f" is not an NPS answer (a whole number from {low} to {high})"
    return [_Check("bad_nps_value", f"{is_nps} AND NOT ({answer})", problem, by_name["value"])]


def _exit_checks(columns: list[_Column], cfg: _Config) -> list[_Check]:
    """An ``exit_survey`` event's value must be a whole-number index into ``exit_reasons``."""
    by_name = {col.field.name: col for col in columns}
    if "type" not in by_name:
        return []
    is_exit = f"{_ident(_INTERNAL + 'p_type')} = {_lit(EXIT_SURVEY_TYPE)}"
    if "value" not in by_name:  # no value column: no exit survey can name its reason
        return [
            _Check(
                "bad_exit_reason", is_exit, " has no value column to answer with", by_name["type"]
            )
        ]
    value = _ident(_INTERNAL + "p_value")
    last = len(cfg.exit_reasons) - 1
    index = (
        f"{value} IS NOT NULL AND NOT isnan({value}) AND {value} = trunc({value}) "
        f"AND {value} BETWEEN 0 AND {last}"
    )
    problem = (
        f" is not an exit reason (a whole number from 0 to {last}, the index into "
        f"data.exit_reasons {list(cfg.exit_reasons)})"
    )
    return [_Check("bad_exit_reason", f"{is_exit} AND NOT ({index})", problem, by_name["value"])]


def _mark_duplicates(
    con: duckdb.DuckDBPyConnection, chk: str, key: str, compared: list[tuple[str, str]]
) -> None:
    """Reject rows repeating the key of an earlier row that passed the other checks.

    A repeat whose ``compared`` columns (output name, label) all equal the kept row's is a
    ``duplicate_id``; one that differs is a ``duplicate_id_conflict``, its differing columns'
    labels kept for the reason.
    """
    k = _ident(key)
    dups = f"{chk}_dups"
    kept = [f"kept.{_ident(out)} AS __churn_k{i}" for i, (out, _) in enumerate(compared)]
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {dups} AS
            SELECT g.k, g.kept_ord, g.kept_file{"".join(", " + c for c in kept)}
            FROM (SELECT {k} AS k, min({_ORD}) AS kept_ord, arg_min({_FILE}, {_ORD}) AS kept_file
                  FROM {chk} WHERE {_RULE} IS NULL AND {k} IS NOT NULL
                  GROUP BY {k} HAVING count(*) > 1) AS g
            JOIN {chk} AS kept ON kept.{_ORD} = g.kept_ord"""
    )
    differing = [
        f"CASE WHEN {chk}.{_ident(out)} IS DISTINCT FROM d.__churn_k{i} THEN {_lit(label)} END"
        for i, (out, label) in enumerate(compared)
    ]
    diff = f"concat_ws(', ', {', '.join(differing)})" if differing else "''"
    con.execute(
        f"""UPDATE {chk} SET {_RULE} = 'duplicate_id', {_KEPT_ORD} = d.kept_ord,
                {_KEPT_FILE} = d.kept_file, {_DIFF} = {diff}
            FROM {dups} AS d
            WHERE {chk}.{k} = d.k AND {chk}.{_RULE} IS NULL AND {chk}.{_ORD} <> d.kept_ord"""
    )
    con.execute(
        f"""UPDATE {chk} SET {_RULE} = 'duplicate_id_conflict'
            WHERE {_RULE} = 'duplicate_id' AND {_DIFF} <> ''"""
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
        if check.rule in ("duplicate_id", "duplicate_id_conflict"):
            reason = (
                f"{label} || ' ' || __churn_show({text}) || ' repeats ' || kf.name || ' row ' "
                f"|| CAST(c.{_KEPT_ORD} - kf.start AS VARCHAR) || ', which is kept'"
            )
            if check.rule == "duplicate_id_conflict":
                reason += f" || '; they differ in ' || c.{_DIFF}"
        elif check.rule in ("bad_nps_value", "bad_exit_reason"):  # a missing answer is the problem
            missing = f" is missing: expected{check.problem.removeprefix(' is not')}"
            reason = (
                f"CASE WHEN {text} IS NULL THEN {label} || {_lit(missing)} "
                f"ELSE {label} || ' ' || __churn_show({text}) || {_lit(check.problem)} END"
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
            return [_Check(rule, "", "", col) for rule in ("duplicate_id", "duplicate_id_conflict")]
    return []


def _compared(
    key: str, columns: list[_Column], passthrough: list[tuple[str, str]]
) -> list[tuple[str, str]]:
    """The loaded columns (output name, label) two rows with one key are compared on."""
    compared = [(col.field.name, col.label) for col in columns if col.field.name != key]
    return compared + [
        (out, out if out == s else f"{out} (column {s!r})") for out, s in passthrough
    ]


def _rejects_frame(tables: list[pa.Table]) -> pd.DataFrame:
    combined = pa.concat_tables(tables, promote_options="default")
    return combined.to_pandas()

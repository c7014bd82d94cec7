"""Whole-input errors, max_reject_fraction and the rejects file."""

from __future__ import annotations

import datetime as dt
import logging
import os
import stat
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest

from churn import data
from churn.errors import ConfigError, DataError
from tests.data.helpers import NOT_ISO, NOW, config, rejects_of, transactions_frame, write_csv

# --- whole-input errors ------------------------------------------------------------------------


def test_load_missing_file_raises_missing_input_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "tx.csv"

    with pytest.raises(data.MissingInputError) as info:
        data.load(config("csv", missing), now=NOW)

    assert isinstance(info.value, FileNotFoundError)
    assert isinstance(info.value, DataError)
    assert f"transactions ({missing})" in str(info.value)
    assert "data.path" in str(info.value)
    assert str(missing.absolute()) in str(info.value)


def test_load_missing_relative_file_shows_the_absolute_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    with pytest.raises(data.MissingInputError, match=rf"looked for {tmp_path / 'data' / 'tx.csv'}"):
        data.load(config("csv", "data/tx.csv"), now=NOW)


def test_load_glob_matching_nothing_raises(tmp_path: Path) -> None:
    with pytest.raises(data.MissingInputError, match=r"glob that matches no files"):
        data.load(config("parquet", tmp_path / "*.parquet"), now=NOW)


def test_load_folder_without_parquet_files_raises(tmp_path: Path) -> None:
    (tmp_path / "tx").mkdir()
    (tmp_path / "tx" / "notes.json").write_text("{}")

    with pytest.raises(data.MissingInputError) as info:
        data.load(config("parquet", tmp_path / "tx"), now=NOW)

    assert "folder with no parquet files" in str(info.value)
    assert "notes.json" in str(info.value)


def test_load_missing_customers_file_names_its_key(tmp_path: Path) -> None:
    tx = write_csv(transactions_frame(), tmp_path / "tx.csv")

    with pytest.raises(data.MissingInputError, match=r"customers .*data\.customers names a file"):
        data.load(config("csv", tx, customers=str(tmp_path / "c.csv")), now=NOW)


@pytest.mark.parametrize(
    ("fmt", "name", "got"),
    [
        ("parquet", "tx.xlsx", "'.xlsx'"),
        ("csv", "tx.json", "'.json'"),
        ("csv", "tx.parquet", "'.parquet'"),
    ],
)
def test_load_unknown_file_format_raises(tmp_path: Path, fmt: str, name: str, got: str) -> None:
    (tmp_path / name).write_text("x")

    with pytest.raises(DataError) as info:
        data.load(config(fmt, tmp_path / name), now=NOW)

    message = str(info.value)
    assert (
        f"data.format is {fmt}, which reads files ending in {', '.join(data.SUFFIXES[fmt])}"
        in message
    )
    assert f"ending in {got}" in message
    if name.endswith(".parquet"):
        assert "set data.format=parquet" in message


def test_load_unknown_file_in_a_glob_raises(tmp_path: Path) -> None:
    transactions_frame().to_parquet(tmp_path / "a.parquet")
    (tmp_path / "b.json").write_text("{}")

    with pytest.raises(DataError, match=r"b\.json.*ending in '\.json'"):
        data.load(config("parquet", tmp_path / "*"), now=NOW)


def test_load_missing_required_column_names_the_mapping(tmp_path: Path) -> None:
    path = write_csv(transactions_frame().drop(columns="amount"), tmp_path / "tx.csv")
    columns = {"transactions": {"amount": "amt"}}

    with pytest.raises(DataError) as info:
        data.load(config("csv", path, columns=columns), now=NOW)

    message = str(info.value)
    assert f"transactions ({path}): required column 'amount' is missing" in message
    assert "data.columns.transactions.amount maps it to the source column 'amt'" in message
    assert "the source has columns: 'customer_id', 'timestamp', 'transaction_id'" in message


def test_load_missing_events_type_column_raises(tmp_path: Path) -> None:
    tx = write_csv(transactions_frame(), tmp_path / "tx.csv")
    events = write_csv(
        pd.DataFrame({"customer_id": [1], "timestamp": ["2024-01-01"]}), tmp_path / "e.csv"
    )

    with pytest.raises(DataError, match=r"events \(.*\): required column 'type' is missing"):
        data.load(config("csv", tx, events=str(events)), now=NOW)


@pytest.mark.parametrize(
    ("column", "values", "expected", "got"),
    [
        ("amount", [True, False, True, True], "numbers", "BOOLEAN"),
        ("amount", pd.to_datetime(["2024-01-01"] * 4), "numbers", "TIMESTAMP"),
        ("timestamp", [True, False, True, True], "dates or datetimes", "BOOLEAN"),
        ("timestamp", [20240101, 20240102, 20240103, 20240104], "dates or datetimes", "BIGINT"),
        ("customer_id", [True, False, True, True], "text or integer ids", "BOOLEAN"),
    ],
)
def test_load_wrong_column_type_raises(
    tmp_path: Path, column: str, values: Any, expected: str, got: str
) -> None:
    frame = transactions_frame()
    frame[column] = values
    frame.to_parquet(tmp_path / "tx.parquet")

    with pytest.raises(DataError) as info:
        data.load(config("parquet", tmp_path / "tx.parquet"), now=NOW)

    message = str(info.value)
    assert f"column {column} (data.columns.transactions.{column}) should hold {expected}" in message
    assert message.endswith(f"got type {got}")


def test_load_header_only_csv_raises_empty_input(tmp_path: Path) -> None:
    path = tmp_path / "tx.csv"
    path.write_text("customer_id,timestamp,amount\n")

    with pytest.raises(DataError, match=rf"transactions \({path}\): expected at least one"):
        data.load(config("csv", path), now=NOW)


def test_load_empty_parquet_raises_empty_input(tmp_path: Path) -> None:
    transactions_frame().iloc[:0].to_parquet(tmp_path / "tx.parquet")

    with pytest.raises(DataError, match=r"expected at least one transaction row; got none"):
        data.load(config("parquet", tmp_path / "tx.parquet"), now=NOW)


def test_load_empty_events_are_allowed(tmp_path: Path) -> None:
    tx = write_csv(transactions_frame(), tmp_path / "tx.csv")
    events = tmp_path / "events.csv"
    events.write_text("customer_id,timestamp,type,value\n")

    ds = data.load(config("csv", tx, events=str(events), max_reject_fraction=0.0), now=NOW)

    assert ds.events is not None
    assert ds.reports["events"] == data.TableReport(0, 0, 0, {})


def test_load_corrupt_parquet_raises_data_error(tmp_path: Path) -> None:
    (tmp_path / "tx.parquet").write_bytes(b"not parquet at all")

    with pytest.raises(DataError, match=r"could not read it as Parquet"):
        data.load(config("parquet", tmp_path / "tx.parquet"), now=NOW)


def test_load_malformed_csv_raises_a_one_line_data_error(tmp_path: Path) -> None:
    path = tmp_path / "tx.csv"
    path.write_bytes(b"customer_id,timestamp,amount,note\n1,2024-01-01,3,caf\xe9\n")

    with pytest.raises(DataError) as info:
        data.load(config("csv", path), now=NOW)

    message = str(info.value)
    assert message.startswith(
        f"transactions ({path}): could not read it as CSV (UTF-8, a header row, delimiter ',')"
    )
    assert "not utf-8 encoded" in message
    assert "\n" not in message
    assert "caf" not in message


def test_load_reserved_column_name_raises(tmp_path: Path) -> None:
    frame = transactions_frame()
    frame["file_index"] = 0
    frame.to_parquet(tmp_path / "tx.parquet")

    with pytest.raises(DataError, match=r"a column named 'file_index'.*rename that column"):
        data.load(config("parquet", tmp_path / "tx.parquet"), now=NOW)


def test_load_missing_duckdb_database_raises(tmp_path: Path) -> None:
    with pytest.raises(data.MissingInputError, match=r"expected a DuckDB database file"):
        data.load(config("duckdb", tmp_path / "shop.duckdb"), now=NOW)


def test_load_missing_duckdb_table_lists_the_tables(tmp_path: Path) -> None:
    path = tmp_path / "shop.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE orders (x INTEGER)")
        con.execute("CREATE SCHEMA crm")
        con.execute("CREATE TABLE crm.people (x INTEGER)")

    with pytest.raises(DataError) as info:
        data.load(config("duckdb", path, table="sales"), now=NOW)

    assert "data.table names a table 'sales' that is not in the database" in str(info.value)
    assert "it has: crm.people, orders" in str(info.value)


def test_load_duckdb_view_and_schema_table(tmp_path: Path) -> None:
    path = tmp_path / "shop.duckdb"
    with duckdb.connect(str(path)) as con:
        con.register("frame", transactions_frame())
        con.execute("CREATE SCHEMA sales")
        con.execute("CREATE TABLE sales.tx AS SELECT * FROM frame")
        con.execute("CREATE VIEW tx_view AS SELECT * FROM sales.tx WHERE amount > 0")
        con.execute("CREATE TABLE events AS SELECT 1 AS customer_id, 'complaint' AS type")
        con.execute("ALTER TABLE events ADD COLUMN timestamp DATE DEFAULT DATE '2024-01-01'")

    ds = data.load(config("duckdb", path, table="sales.tx", events="events"), now=NOW)
    view = data.load(config("duckdb", path, table="tx_view"), now=NOW)

    assert ds.transactions.num_rows == 4
    assert ds.events is not None
    assert ds.events.column("timestamp").to_pylist() == [dt.datetime(2024, 1, 1)]
    assert view.transactions.num_rows == 3


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"format": "xlsx"}, r"data.format: expected one of csv, parquet, duckdb; got 'xlsx'"),
        ({"max_reject_fraction": 1.5}, r"data.max_reject_fraction: expected a number in \[0, 1\]"),
        ({"max_reject_fraction": -0.1}, r"data.max_reject_fraction"),
        ({"max_reject_fraction": "0.1"}, r"data.max_reject_fraction"),
        ({"max_reject_fraction": None}, r"data.max_reject_fraction"),
        ({"path": "???"}, r"data.path: required"),
        ({"format": "duckdb", "table": None}, r"data.table: required"),
        ({"max_timestamp": "tomorrow"}, r"data.max_timestamp: expected an ISO 8601"),
        ({"end_date": "2024-02-30"}, r"data.end_date: expected an ISO 8601"),
        ({"customers": 3}, r"data.customers: expected null or a non-empty string"),
        ({"csv_delimiter": "\n"}, r"data.csv_delimiter"),
        ({"timestamp_format": "dd/mm/yyyy"}, r"data.timestamp_format: expected a strptime"),
        ({"columns": {"orders": {}}}, r"data.columns: expected tables among"),
        ({"columns": {"transactions": {"amout": "x"}}}, r"data.columns.transactions: .*amout"),
        ({"columns": {"transactions": {"amount": None}}}, r"data.columns.transactions.amount"),
    ],
)
def test_load_bad_config_raises_config_error(
    tmp_path: Path, overrides: dict[str, Any], match: str
) -> None:
    cfg = config("csv", write_csv(transactions_frame(), tmp_path / "tx.csv"))
    cfg.update(overrides)

    with pytest.raises(ConfigError, match=match):
        data.load(cfg, now=NOW)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"min_timestamp": "year one"},
            "data.min_timestamp: expected an ISO 8601 date or datetime such as '2024-06-30' or "
            "'2024-06-30T12:00:00'; got 'year one'",
        ),
        (
            {"min_timestamp": None},
            "data.min_timestamp: required; expected an ISO 8601 date or datetime such as "
            "'1970-01-01' (earlier rows are rejected); got None",
        ),
        (
            {"min_timestamp": "2024-06-01", "max_timestamp": "2024-05-31"},
            "data.min_timestamp: expected a time before data.max_timestamp 2024-05-31 00:00:00; "
            "got 2024-06-01 00:00:00",
        ),
        (
            {"min_timestamp": "2025-01-01"},
            "data.min_timestamp: expected a time before the max_timestamp limit "
            "2025-01-01 00:00:00 (now, as data.max_timestamp is null); got 2025-01-01 00:00:00",
        ),
        *(
            (
                {"max_abs_amount": value},
                "data.max_abs_amount: expected a positive finite number such as 1e9; "
                f"got {value!r}",
            )
            for value in (0, -5.0, float("inf"), "1e9", True, None)
        ),
        *(
            (
                {"nps_range": value},
                "data.nps_range: expected [lowest, highest], whole numbers with "
                f"0 <= lowest <= highest <= 10 (the NPS scale); got {value!r}",
            )
            for value in ([0, 11], [-1, 10], [7, 3], [0.0, 10], [0], "0-10", None)
        ),
        (
            {"id_normalization": "strip"},
            "data.id_normalization: expected one of none, strip_numeric_suffix; got 'strip'",
        ),
        (
            {"id_normalization": None},
            "data.id_normalization: expected one of none, strip_numeric_suffix; got None",
        ),
    ],
)
def test_load_bad_bound_or_id_config_raises_config_error(
    tmp_path: Path, overrides: dict[str, Any], message: str
) -> None:
    cfg = config("csv", write_csv(transactions_frame(), tmp_path / "tx.csv"), **overrides)

    with pytest.raises(ConfigError) as caught:
        data.load(cfg, now=NOW)

    assert str(caught.value) == message


def test_load_optional_column_mapped_to_null_is_left_out(tmp_path: Path) -> None:
    path = write_csv(transactions_frame(), tmp_path / "tx.csv")
    columns = {"transactions": {"channel": None}}

    ds = data.load(config("csv", path, columns=columns), now=NOW)

    assert "channel" not in ds.transactions.column_names


# --- max_reject_fraction -----------------------------------------------------------------------


def _one_bad_in_four(tmp_path: Path) -> Path:
    frame = transactions_frame().astype({"timestamp": str})
    frame.loc[2, "timestamp"] = "2024-13-01"
    return write_csv(frame, tmp_path / "tx.csv")


def test_load_reject_share_at_the_limit_passes(tmp_path: Path) -> None:
    ds = data.load(config("csv", _one_bad_in_four(tmp_path), max_reject_fraction=0.25), now=NOW)

    assert ds.reports["transactions"].rejected_rows == 1


def test_load_reject_share_above_the_limit_raises_with_the_rejects(tmp_path: Path) -> None:
    path = _one_bad_in_four(tmp_path)

    with pytest.raises(data.TooManyRejectsError) as info:
        data.load(config("csv", path, max_reject_fraction=0.24), now=NOW)

    assert str(info.value) == (
        f"transactions ({path}): 1 of 4 rows (25.0%) rejected, more than "
        "data.max_reject_fraction=0.24: bad_timestamp 1 (e.g. '2024-13-01')"
    )
    assert isinstance(info.value, DataError)
    assert rejects_of(info.value) == [(2, "bad_timestamp")]
    assert info.value.reports["transactions"].rejected_by_rule == {"bad_timestamp": 1}


def test_load_zero_reject_fraction_fails_on_any_reject_of_any_table(tmp_path: Path) -> None:
    tx = write_csv(transactions_frame(), tmp_path / "tx.csv")
    customers = write_csv(pd.DataFrame({"customer_id": ["1", None]}), tmp_path / "c.csv")

    with pytest.raises(data.TooManyRejectsError, match=r"^customers .*1 of 2 rows \(50\.0%\)"):
        data.load(config("csv", tx, customers=str(customers), max_reject_fraction=0), now=NOW)


def test_load_logs_counts_and_a_warning_per_rule(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = _one_bad_in_four(tmp_path)

    with caplog.at_level(logging.INFO, logger="churn.data"):
        data.load(config("csv", path), now=NOW)

    info = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert f"transactions ({path}): 4 rows read, 3 used, 1 rejected (bad_timestamp 1)" in info
    assert warnings == [
        f"transactions ({path}): 1 row(s) rejected as bad_timestamp, e.g. {path} row 2: "
        f"timestamp '2024-13-01' {NOT_ISO}"
    ]


# --- write_rejects -----------------------------------------------------------------------------


def test_write_rejects_writes_private_csv(tmp_path: Path) -> None:
    ds = data.load(config("csv", _one_bad_in_four(tmp_path)), now=NOW)
    target = tmp_path / "out" / "rejects.csv"

    written = data.write_rejects(ds.rejects, target)

    assert written == target
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    back = pd.read_csv(target, dtype=str)
    assert list(back.columns) == list(ds.rejects.columns)
    assert back.loc[0, "rule"] == "bad_timestamp"
    assert back.loc[0, "timestamp"] == "2024-13-01"


def test_write_rejects_empty_frame_has_the_header(tmp_path: Path) -> None:
    ds = data.load(config("csv", write_csv(transactions_frame(), tmp_path / "tx.csv")), now=NOW)

    data.write_rejects(ds.rejects, tmp_path / "rejects.csv")
    data.write_rejects(pd.DataFrame(), tmp_path / "bare.csv")

    assert (tmp_path / "rejects.csv").read_text().startswith("table,source,source_row,rule,reason,")
    assert (tmp_path / "bare.csv").read_text() == "table,source,source_row,rule,reason\n"


def test_write_rejects_replaces_the_file_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    target = tmp_path / "rejects.csv"
    target.write_text("old\n")

    data.write_rejects(pd.DataFrame({"table": ["transactions"]}), target)

    assert target.read_text() == "table\ntransactions\n"
    assert [p.name for p in tmp_path.iterdir()] == ["rejects.csv"]


def test_write_rejects_failure_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "rejects.csv"
    target.write_text("old\n")

    def broken(self: pd.DataFrame, *args: Any, **kwargs: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", broken)
    with pytest.raises(OSError, match="disk full"):
        data.write_rejects(pd.DataFrame({"a": [1]}), target)

    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["rejects.csv"]


def test_write_rejects_neutralises_formulas_in_raw_input(tmp_path: Path) -> None:
    rejects = pd.DataFrame(
        {
            "table": ["transactions", "transactions"],
            "customer_id": ['=HYPERLINK("http://x","y")', "c1"],
            "amount": ["-12.50", "@SUM(A1)"],
            "reason": ["bad id", "amount is not a number"],
        }
    )
    target = data.write_rejects(rejects, tmp_path / "rejects.csv")
    lines = target.read_text(encoding="utf-8").splitlines()
    assert lines[1] == 'transactions,"\'=HYPERLINK(""http://x"",""y"")",-12.50,bad id'
    assert lines[2] == "transactions,c1,'@SUM(A1),amount is not a number"

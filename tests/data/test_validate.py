"""The row rules: ids, timestamps, amounts, duplicates; counts always add up."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from churn import data
from churn.errors import ConfigError
from churn.scoring.population import rejected_ids
from tests.data.helpers import NOT_ISO, NOW, config, rejects_of, transactions_frame, write_csv

# --- ids and timestamps ------------------------------------------------------------------------


def test_load_integer_and_float_customer_ids_become_integer_strings(tmp_path: Path) -> None:
    frame = transactions_frame()
    frame["customer_id"] = [1.0, 2.0, np.nan, 12345678901.0]
    frame.to_parquet(tmp_path / "tx.parquet")

    ds = data.load(config("parquet", tmp_path / "tx.parquet"), now=NOW)

    assert ds.transactions.column("customer_id").to_pylist() == ["1", "2", "12345678901"]
    assert rejects_of(ds) == [(2, "null_id")]


def test_load_text_customer_ids_are_trimmed_and_kept_as_given_by_default(tmp_path: Path) -> None:
    frame = transactions_frame().astype({"customer_id": str})
    frame["customer_id"] = [" 7 ", "7.0", "\t2.00\n", "007"]
    path = write_csv(frame, tmp_path / "tx.csv")

    ds = data.load(config("csv", path), now=NOW)

    assert ds.transactions.column("customer_id").to_pylist() == ["7", "7.0", "2.00", "007"]


def test_load_strip_numeric_suffix_makes_integers_with_a_zero_fraction_one_id(
    tmp_path: Path,
) -> None:
    frame = pd.DataFrame(
        {
            "customer_id": [" 7 ", "7.0", "\t2.00", "-2.0", "002", "2.", "2.5", "2.0e0", "A-1.0"],
            "timestamp": "2024-01-01",
            "amount": 1.0,
        }
    )
    path = write_csv(frame, tmp_path / "tx.csv")

    ds = data.load(config("csv", path, id_normalization="strip_numeric_suffix"), now=NOW)

    assert ds.transactions.column("customer_id").to_pylist() == [
        "7", "7", "2", "-2", "002", "2.", "2.5", "2.0e0", "A-1.0"
    ]  # fmt: skip


@pytest.mark.parametrize("id_normalization", ["none", "strip_numeric_suffix"])
def test_load_numeric_id_columns_are_written_as_integers_either_way(
    tmp_path: Path, id_normalization: str
) -> None:
    frame = pd.DataFrame(
        {
            "customer_id": [2.0, -3.0, 2.5, 12345678901.0],
            "timestamp": pd.to_datetime(["2024-01-01"] * 4),
            "amount": 1.0,
            "transaction_id": pa.array([1, 2, 3, 4], pa.int64()),
        }
    )
    frame.to_parquet(tmp_path / "tx.parquet")

    ds = data.load(
        config("parquet", tmp_path / "tx.parquet", id_normalization=id_normalization), now=NOW
    )

    assert ds.transactions.column("customer_id").to_pylist() == ["2", "-3", "2.5", "12345678901"]
    assert ds.transactions.column("transaction_id").to_pylist() == ["1", "2", "3", "4"]


def test_load_timestamp_format_parses_and_rejects(tmp_path: Path) -> None:
    frame = transactions_frame()
    frame["timestamp"] = ["31/01/2024 14:30", "01/02/2024 00:00", "2024-02-01", "32/01/2024 10:00"]
    path = write_csv(frame, tmp_path / "tx.csv")

    ds = data.load(config("csv", path, timestamp_format="%d/%m/%Y %H:%M"), now=NOW)

    assert ds.transactions.column("timestamp").to_pylist() == [
        dt.datetime(2024, 1, 31, 14, 30),
        dt.datetime(2024, 2, 1),
    ]
    assert rejects_of(ds) == [(2, "bad_timestamp"), (3, "bad_timestamp")]
    assert ds.rejects.loc[0, "reason"] == (
        "timestamp '2024-02-01' is not a timestamp in data.timestamp_format '%d/%m/%Y %H:%M'"
    )


def test_load_bad_timestamp_format_is_a_config_error(tmp_path: Path) -> None:
    path = write_csv(transactions_frame(), tmp_path / "tx.csv")

    with pytest.raises(ConfigError, match=r"data.timestamp_format.*'%Q'"):
        data.load(config("csv", path, timestamp_format="%Q"), now=NOW)


def test_load_tz_aware_text_timestamps_become_naive_utc(tmp_path: Path) -> None:
    frame = transactions_frame()
    frame["timestamp"] = [
        "2024-01-01T10:00:00+02:00",
        "2024-01-01T10:00:00Z",
        " 2024-01-01 ",
        "2024-01-01 10:00:00-05:30",
    ]
    path = write_csv(frame, tmp_path / "tx.csv")

    ds = data.load(config("csv", path), now=NOW)

    assert ds.transactions.column("timestamp").to_pylist() == [
        dt.datetime(2024, 1, 1, 8),
        dt.datetime(2024, 1, 1, 10),
        dt.datetime(2024, 1, 1),
        dt.datetime(2024, 1, 1, 15, 30),
    ]


def test_load_tz_aware_parquet_timestamps_become_naive_utc(tmp_path: Path) -> None:
    frame = transactions_frame()
    frame["timestamp"] = frame["timestamp"].dt.tz_localize("Europe/Paris")
    frame.to_parquet(tmp_path / "tx.parquet")

    ds = data.load(config("parquet", tmp_path / "tx.parquet"), now=NOW)

    assert ds.transactions.column("timestamp").type == pa.timestamp("us")
    assert ds.transactions.column("timestamp").to_pylist()[0] == dt.datetime(2024, 1, 1, 9)


def test_load_parquet_dates_become_midnight(tmp_path: Path) -> None:
    frame = transactions_frame()
    frame["timestamp"] = frame["timestamp"].dt.date
    frame.to_parquet(tmp_path / "tx.parquet")

    ds = data.load(config("parquet", tmp_path / "tx.parquet"), now=NOW)

    assert ds.transactions.column("timestamp").to_pylist()[0] == dt.datetime(2024, 1, 1)


def test_load_configured_max_timestamp_overrides_now(tmp_path: Path) -> None:
    path = write_csv(transactions_frame(), tmp_path / "tx.csv")

    ds = data.load(config("csv", path, max_timestamp="2024-02-01"), now=NOW)

    assert ds.max_timestamp == dt.datetime(2024, 2, 1)
    assert rejects_of(ds) == [(2, "future_timestamp"), (3, "future_timestamp")]
    assert ds.rejects.loc[0, "reason"] == (
        "timestamp '2024-02-03 23:59:59' is after max_timestamp 2024-02-01 00:00:00"
    )


def test_load_aware_now_is_converted_to_utc(tmp_path: Path) -> None:
    path = write_csv(transactions_frame(), tmp_path / "tx.csv")
    now = dt.datetime(2024, 3, 4, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))

    ds = data.load(config("csv", path), now=now)

    assert ds.max_timestamp == dt.datetime(2024, 3, 4, 8, 0)
    assert rejects_of(ds) == [(3, "future_timestamp")]


# --- row rules ---------------------------------------------------------------------------------


def test_load_rejects_every_bad_transaction_row_with_a_reason(tmp_path: Path) -> None:
    rows = [
        ("1", "2024-01-01", "10", "a", "1"),  # good
        ("", "2024-01-01", "10", "b", "1"),  # null_id (empty)
        ("   ", "2024-01-01", "10", "c", "1"),  # null_id (blank)
        ("2", "2024-13-01", "10", "d", "1"),  # bad_timestamp
        ("2", "yesterday", "10", "e", "1"),  # bad_timestamp
        ("2", "", "10", "f", "1"),  # bad_timestamp (missing)
        ("2", "2030-01-01", "10", "g", "1"),  # future_timestamp
        ("2", "2024-01-01", "abc", "h", "1"),  # bad_amount
        ("2", "2024-01-01", "NaN", "i", "1"),  # non_finite_amount
        ("2", "2024-01-01", "-inf", "j", "1"),  # non_finite_amount
        ("2", "2024-01-01", "", "k", "1"),  # non_finite_amount (missing)
        ("1", "2024-01-01", "10.0", "a", "1"),  # duplicate_id of row 0 (the same values)
        ("2", "2024-01-01", "10", "m", "many"),  # bad_quantity
        ("2", "0001-01-01", "10", "n", "1"),  # early_timestamp
        ("2", "2024-01-01", "1e308", "o", "1"),  # amount_out_of_range
        ("2", "2024-01-01", "-2e9", "p", "1"),  # amount_out_of_range (a refund)
        ("4", "2024-01-01", "12", "a", "1"),  # duplicate_id_conflict of row 0
        ("3", "2024-01-01", "-5.5", "", ""),  # good: a refund, no id, no quantity
    ]
    frame = pd.DataFrame(
        rows, columns=["customer_id", "timestamp", "amount", "transaction_id", "quantity"]
    )
    path = write_csv(frame, tmp_path / "tx.csv")

    ds = data.load(config("csv", path), now=NOW)

    assert rejects_of(ds) == [
        (1, "null_id"),
        (2, "null_id"),
        (3, "bad_timestamp"),
        (4, "bad_timestamp"),
        (5, "bad_timestamp"),
        (6, "future_timestamp"),
        (7, "bad_amount"),
        (8, "non_finite_amount"),
        (9, "non_finite_amount"),
        (10, "non_finite_amount"),
        (11, "duplicate_id"),
        (12, "bad_quantity"),
        (13, "early_timestamp"),
        (14, "amount_out_of_range"),
        (15, "amount_out_of_range"),
        (16, "duplicate_id_conflict"),
    ]
    assert list(ds.rejects["reason"]) == [
        "customer_id is missing",
        "customer_id is blank: '   '",
        f"timestamp '2024-13-01' {NOT_ISO}",
        f"timestamp 'yesterday' {NOT_ISO}",
        "timestamp is missing",
        "timestamp '2030-01-01' is after max_timestamp 2025-01-01 00:00:00",
        "amount 'abc' is not a number",
        "amount 'NaN' is not a finite number",
        "amount '-inf' is not a finite number",
        "amount is missing",
        f"transaction_id 'a' repeats {path} row 0, which is kept",
        "quantity 'many' is not a finite number",
        "timestamp '0001-01-01' is before min_timestamp 1970-01-01 00:00:00",
        "amount '1e308' is larger in size than max_abs_amount 1e+09",
        "amount '-2e9' is larger in size than max_abs_amount 1e+09",
        f"transaction_id 'a' repeats {path} row 0, which is kept; they differ in customer_id, "
        "amount",
    ]
    assert set(ds.rejects["table"]) == {"transactions"}
    assert set(ds.rejects["source"]) == {str(path)}
    assert ds.rejects.loc[6, "amount"] == "abc"
    assert ds.transactions.column("customer_id").to_pylist() == ["1", "3"]
    assert ds.transactions.column("transaction_id").to_pylist() == ["a", None]
    assert ds.transactions.column("quantity").to_pylist() == [1.0, None]
    report = ds.reports["transactions"]
    assert (report.input_rows, report.used_rows, report.rejected_rows) == (18, 2, 16)
    assert report.rejected_by_rule == {
        "bad_timestamp": 3,
        "non_finite_amount": 3,
        "null_id": 2,
        "amount_out_of_range": 2,
        "future_timestamp": 1,
        "early_timestamp": 1,
        "bad_amount": 1,
        "bad_quantity": 1,
        "duplicate_id": 1,
        "duplicate_id_conflict": 1,
    }


def test_load_duplicate_keeps_the_first_valid_occurrence(tmp_path: Path) -> None:
    frame = transactions_frame()
    frame["transaction_id"] = ["t1", "t1", "t1", "t9"]
    frame.iloc[2] = frame.iloc[1]  # a copy of the second
    frame.loc[0, "amount"] = np.inf  # the first t1 is invalid, so the second is kept
    frame.to_parquet(tmp_path / "tx.parquet")

    ds = data.load(config("parquet", tmp_path / "tx.parquet"), now=NOW)

    assert rejects_of(ds) == [(0, "non_finite_amount"), (2, "duplicate_id")]
    assert ds.rejects.loc[1, "reason"].endswith(
        f"repeats {tmp_path / 'tx.parquet'} row 1, which is kept"
    )
    assert ds.transactions.column("transaction_id").to_pylist() == ["t1", "t9"]


def test_load_rows_are_numbered_within_each_file(tmp_path: Path) -> None:
    frame = transactions_frame()
    frame.loc[3, "customer_id"] = None
    (tmp_path / "tx").mkdir()
    write_csv(frame.iloc[:2], tmp_path / "tx" / "a.csv")
    write_csv(frame.iloc[2:], tmp_path / "tx" / "b.csv")

    ds = data.load(config("csv", tmp_path / "tx"), now=NOW)

    assert list(ds.rejects["source"]) == [str(tmp_path / "tx" / "b.csv")]
    assert rejects_of(ds) == [(1, "null_id")]


def test_load_parquet_duplicate_across_files_names_the_kept_file(tmp_path: Path) -> None:
    frame = transactions_frame()
    frame["transaction_id"] = ["t1", "t2", "t3", "t1"]
    frame.iloc[3] = frame.iloc[0]  # the same transaction in both files
    frame.iloc[:2].to_parquet(tmp_path / "a.parquet")
    frame.iloc[2:].to_parquet(tmp_path / "b.parquet")

    ds = data.load(config("parquet", tmp_path / "*.parquet"), now=NOW)

    assert list(ds.rejects["source"]) == [str(tmp_path / "b.parquet")]
    assert rejects_of(ds) == [(1, "duplicate_id")]
    assert f"repeats {tmp_path / 'a.parquet'} row 0" in ds.rejects.loc[0, "reason"]


def test_load_customers_validates_and_passes_attributes_through(tmp_path: Path) -> None:
    tx = write_csv(transactions_frame(), tmp_path / "tx.csv")
    customers = pd.DataFrame(
        {
            "id": ["1", "2", "2", "", "4"],
            "signup_date": ["2023-01-01", "2023-02-01", "2023-03-01", "2023-04-01", "soon"],
            "country": ["DE", "FR", "FR", "IT", "ES"],
            "segment": ["a", "b", "c", "d", "e"],
        }
    )
    path = write_csv(customers, tmp_path / "customers.csv")
    columns = {"customers": {"customer_id": "id", "tier": "segment"}}

    ds = data.load(config("csv", tx, customers=str(path), columns=columns), now=NOW)

    assert ds.customers is not None
    assert ds.customers.column_names == ["customer_id", "signup_date", "country", "tier"]
    assert ds.customers.column("customer_id").to_pylist() == ["1", "2"]
    assert ds.customers.column("signup_date").type == pa.timestamp("us")
    assert ds.customers.column("tier").to_pylist() == ["a", "b"]
    customer_rejects = ds.rejects[ds.rejects["table"] == "customers"]
    assert list(zip(customer_rejects["source_row"], customer_rejects["rule"], strict=True)) == [
        (2, "duplicate_id_conflict"),
        (3, "null_id"),
        (4, "bad_signup_date"),
    ]
    assert customer_rejects["reason"].iloc[0] == (
        f"customer_id (column 'id') '2' repeats {path} row 1, which is kept; they differ in "
        "signup_date, tier (column 'segment')"
    )
    assert ds.reports["customers"] == data.TableReport(
        5, 2, 3, {"null_id": 1, "duplicate_id_conflict": 1, "bad_signup_date": 1}
    )


def test_load_events_validates_type_and_value(tmp_path: Path) -> None:
    tx = write_csv(transactions_frame(), tmp_path / "tx.csv")
    events = pd.DataFrame(
        {
            "customer_id": ["1", "2", "3", "4", "5", "6"],
            "timestamp": [
                "2024-01-01",
                "2024-01-02",
                "2024-01-03",
                "2031-01-01",
                "x",
                "2024-01-05",
            ],
            "type": ["nps", "complaint", " ", "nps", "nps", "nps"],
            "value": ["9", "", "1", "3", "2", "ten"],
        }
    )
    path = write_csv(events, tmp_path / "events.csv")

    ds = data.load(config("csv", tx, events=str(path)), now=NOW)

    assert ds.events is not None
    assert ds.events.schema == pa.schema(
        [
            ("customer_id", pa.string()),
            ("timestamp", pa.timestamp("us")),
            ("type", pa.string()),
            ("value", pa.float64()),
        ]
    )
    assert ds.events.column("value").to_pylist() == [9.0, None]
    assert ds.reports["events"].rejected_by_rule == {
        "null_type": 1,
        "future_timestamp": 1,
        "bad_timestamp": 1,
        "bad_value": 1,
    }


def test_load_events_without_value_column_get_null_values(tmp_path: Path) -> None:
    tx = write_csv(transactions_frame(), tmp_path / "tx.csv")
    events = pd.DataFrame({"customer_id": [1], "timestamp": ["2024-01-01"], "type": ["ticket"]})
    path = write_csv(events, tmp_path / "events.csv")

    ds = data.load(config("csv", tx, events=str(path)), now=NOW)

    assert ds.events is not None
    assert ds.events.column("value").to_pylist() == [None]


def test_load_reject_column_names_do_not_clash_with_fixed_columns(tmp_path: Path) -> None:
    frame = transactions_frame()
    frame["source"] = "shop"
    frame.loc[0, "amount"] = np.nan
    path = write_csv(frame, tmp_path / "tx.csv")

    ds = data.load(config("csv", path), now=NOW)

    assert ds.rejects.loc[0, "source"] == str(path)
    assert ds.rejects.loc[0, "source_"] == "shop"


# --- bounds: timestamps, amounts, NPS answers; conflicting duplicates -------------------------


def test_load_rejects_timestamps_before_min_timestamp(tmp_path: Path) -> None:
    frame = transactions_frame()
    frame["timestamp"] = ["0001-01-01", "1969-12-31 23:59:59", "1970-01-01", "2024-01-01"]
    path = write_csv(frame, tmp_path / "tx.csv")
    events = pd.DataFrame(
        {"customer_id": ["1", "1"], "timestamp": ["0001-01-01", "2024-01-01"], "type": "complaint"}
    )
    events_path = write_csv(events, tmp_path / "events.csv")

    ds = data.load(config("csv", path, events=str(events_path)), now=NOW)

    assert rejects_of(ds) == [
        (0, "early_timestamp"),
        (1, "early_timestamp"),
        (0, "early_timestamp"),
    ]
    assert list(ds.rejects["table"]) == ["transactions", "transactions", "events"]
    assert ds.rejects.loc[0, "reason"] == (
        "timestamp '0001-01-01' is before min_timestamp 1970-01-01 00:00:00"
    )
    assert ds.transactions.column("timestamp").to_pylist() == [
        dt.datetime(1970, 1, 1),
        dt.datetime(2024, 1, 1),
    ]


def test_load_min_timestamp_is_configurable(tmp_path: Path) -> None:
    path = write_csv(transactions_frame(), tmp_path / "tx.csv")

    ds = data.load(config("csv", path, min_timestamp="2024-01-02"), now=NOW)

    assert rejects_of(ds) == [(0, "early_timestamp")]
    assert ds.rejects.loc[0, "reason"].endswith("is before min_timestamp 2024-01-02 00:00:00")


def test_load_rejects_amounts_larger_than_max_abs_amount(tmp_path: Path) -> None:
    frame = transactions_frame()
    frame["amount"] = [1e308, -1e9, 1e9, 1000000000.5]
    frame.to_parquet(tmp_path / "tx.parquet")

    ds = data.load(config("parquet", tmp_path / "tx.parquet"), now=NOW)

    assert rejects_of(ds) == [(0, "amount_out_of_range"), (3, "amount_out_of_range")]
    assert ds.rejects.loc[0, "reason"] == (
        "amount '1e+308' is larger in size than max_abs_amount 1e+09"
    )
    assert ds.transactions.column("amount").to_pylist() == [-1e9, 1e9]


def test_load_max_abs_amount_is_configurable(tmp_path: Path) -> None:
    path = write_csv(transactions_frame(), tmp_path / "tx.csv")

    ds = data.load(config("csv", path, max_abs_amount=50), now=NOW)

    assert rejects_of(ds) == [(3, "amount_out_of_range")]
    assert ds.rejects.loc[0, "reason"] == "amount '100.0' is larger in size than max_abs_amount 50"


def _nps_events(tmp_path: Path, values: list[str], types: list[str] | None = None) -> Path:
    events = pd.DataFrame(
        {
            "customer_id": "1",
            "timestamp": "2024-01-01",
            "type": types or ["nps"] * len(values),
            "value": values,
        }
    )
    return write_csv(events, tmp_path / "events.csv")


def test_load_rejects_nps_answers_outside_the_nps_range(tmp_path: Path) -> None:
    tx = write_csv(transactions_frame(), tmp_path / "tx.csv")
    values = ["0", "10", "11", "-1", "7.5", "", "NaN", "10.0", "42"]
    events = _nps_events(tmp_path, values, ["nps"] * 8 + ["complaint"])

    ds = data.load(config("csv", tx, events=str(events)), now=NOW)

    assert ds.events is not None
    assert ds.events.column("value").to_pylist() == [0.0, 10.0, 10.0, 42.0]
    assert rejects_of(ds) == [(i, "bad_nps_value") for i in (2, 3, 4, 5, 6)]
    assert list(ds.rejects["reason"]) == [
        "value '11' is not an NPS answer (a whole number from 0 to 10)",
        "value '-1' is not an NPS answer (a whole number from 0 to 10)",
        "value '7.5' is not an NPS answer (a whole number from 0 to 10)",
        "value is missing: expected an NPS answer (a whole number from 0 to 10)",
        "value 'NaN' is not an NPS answer (a whole number from 0 to 10)",
    ]


def test_load_nps_range_is_configurable(tmp_path: Path) -> None:
    tx = write_csv(transactions_frame(), tmp_path / "tx.csv")
    events = _nps_events(tmp_path, ["0", "1", "10"])

    ds = data.load(config("csv", tx, events=str(events), nps_range=[1, 10]), now=NOW)

    assert rejects_of(ds) == [(0, "bad_nps_value")]
    assert ds.rejects.loc[0, "reason"] == (
        "value '0' is not an NPS answer (a whole number from 1 to 10)"
    )


def test_load_nps_events_without_value_column_are_rejected(tmp_path: Path) -> None:
    tx = write_csv(transactions_frame(), tmp_path / "tx.csv")
    events = pd.DataFrame(
        {"customer_id": "1", "timestamp": "2024-01-01", "type": ["nps", "complaint"]}
    )
    path = write_csv(events, tmp_path / "events.csv")

    ds = data.load(config("csv", tx, events=str(path)), now=NOW)

    assert rejects_of(ds) == [(0, "bad_nps_value")]
    assert ds.rejects.loc[0, "reason"] == "type 'nps' has no value column to answer with"


def test_load_duplicate_id_conflict_names_the_differing_columns(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "customer_id": ["1", "1", "1", "2"],
            "timestamp": ["2024-01-01", "2024-01-01T00:00:00", "2024-01-01", "2024-01-01"],
            "amount": ["10", "10.00", "11", "10"],
            "transaction_id": ["t1", "t1", "t1", "t1"],
            "note": ["a", "b", "a", "a"],  # not loaded, so not compared
        }
    )
    path = write_csv(frame, tmp_path / "tx.csv")

    ds = data.load(config("csv", path), now=NOW)

    assert rejects_of(ds) == [
        (1, "duplicate_id"),
        (2, "duplicate_id_conflict"),
        (3, "duplicate_id_conflict"),
    ]
    assert list(ds.rejects["reason"]) == [
        f"transaction_id 't1' repeats {path} row 0, which is kept",
        f"transaction_id 't1' repeats {path} row 0, which is kept; they differ in amount",
        f"transaction_id 't1' repeats {path} row 0, which is kept; they differ in customer_id",
    ]
    assert ds.transactions.column("amount").to_pylist() == [10.0]


def test_load_duckdb_table_applies_the_bounds_and_duplicate_rules(tmp_path: Path) -> None:
    path = tmp_path / "shop.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(
            """CREATE TABLE transactions AS SELECT * FROM (VALUES
                (1, TIMESTAMP '2024-01-01', 10.0, 't1'),
                (1, TIMESTAMP '0001-01-01', 10.0, 't2'),
                (2, TIMESTAMP '2024-01-02', 1e308, 't3'),
                (1, TIMESTAMP '2024-01-01', 10.0, 't1'),
                (3, TIMESTAMP '2024-01-01', 10.0, 't1'))
            AS t(customer_id, "timestamp", amount, transaction_id)"""
        )
        con.execute(
            """CREATE TABLE events AS SELECT * FROM (VALUES
                (1, TIMESTAMP '2024-01-01', 'nps', 9), (1, TIMESTAMP '2024-01-02', 'nps', 12))
            AS t(customer_id, "timestamp", type, value)"""
        )

    ds = data.load(config("duckdb", path, events="events"), now=NOW)

    rows = ds.rejects[["table", "source_row", "rule"]].itertuples(index=False, name=None)
    assert list(rows) == [
        ("transactions", 1, "early_timestamp"),
        ("transactions", 2, "amount_out_of_range"),
        ("transactions", 3, "duplicate_id"),
        ("transactions", 4, "duplicate_id_conflict"),
        ("events", 1, "bad_nps_value"),
    ]
    assert ds.transactions.column("transaction_id").to_pylist() == ["t1"]


# --- counts add up (property) ------------------------------------------------------------------

BAD_ROWS: dict[str, tuple[str, str, str]] = {
    "null_id": (" ", "2024-01-01", "1"),
    "bad_timestamp": ("c", "2024-02-30", "1"),
    "future_timestamp": ("c", "2099-01-01 00:00:00", "1"),
    "bad_amount": ("c", "2024-01-01", "1,5"),
    "non_finite_amount": ("c", "2024-01-01", "inf"),
    "early_timestamp": ("c", "1969-12-31 23:59:59", "1"),
    "amount_out_of_range": ("c", "2024-01-01", "1000000001"),
}
_examples = itertools.count()


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    kinds=st.lists(
        st.sampled_from(["good", "duplicate", "conflict", *BAD_ROWS]), min_size=1, max_size=25
    )
)
def test_load_counts_add_up_and_each_bad_row_gets_its_rule(
    tmp_path: Path, kinds: list[str]
) -> None:
    rows, expected, good = [], {}, []
    for i, kind in enumerate(kinds):
        if kind == "duplicate" and good:
            rows.append(good[0])
            expected[i] = "duplicate_id"
        elif kind == "conflict" and good:
            rows.append(("c", "2024-01-01", "2", good[0][3]))
            expected[i] = "duplicate_id_conflict"
        elif kind in BAD_ROWS:
            rows.append((*BAD_ROWS[kind], f"t{i}"))
            expected[i] = kind
        else:
            rows.append((f"c{i}", "2024-01-01 12:00:00", str(i), f"t{i}"))
            good.append(rows[-1])
    frame = pd.DataFrame(rows, columns=["customer_id", "timestamp", "amount", "transaction_id"])
    path = tmp_path / f"tx-{next(_examples)}.csv"
    if not good:  # keep at least one row usable; a file of only bad rows is fine too
        frame.loc[len(frame)] = ["c", "2024-01-01", "1", "last"]
    write_csv(frame, path)

    ds = data.load(config("csv", path), now=NOW)

    report = ds.reports["transactions"]
    assert report.used_rows + report.rejected_rows == report.input_rows == len(frame)
    assert sum(report.rejected_by_rule.values()) == report.rejected_rows
    assert dict(rejects_of(ds)) == expected
    assert ds.transactions.num_rows == report.used_rows


@pytest.mark.parametrize("id_normalization", ["none", "strip_numeric_suffix"])
def test_rejected_rows_name_the_customers_validation_names(
    tmp_path: Path, id_normalization: str
) -> None:
    # the same raw ids in kept and rejected rows: the rejected ones read as the kept ones do
    raw = [" 7.0 ", "\t2.00", "002", "x"]
    frame = pd.DataFrame(
        {
            "customer_id": raw * 2,
            "timestamp": ["2024-01-01"] * 4 + ["not a date"] * 4,
            "amount": 1.0,
        }
    )
    path = write_csv(frame, tmp_path / "tx.csv")
    ds = data.load(
        config("csv", path, id_normalization=id_normalization, max_reject_fraction=0.9), now=NOW
    )
    kept = set(ds.transactions.column("customer_id").to_pylist())
    got = set(rejected_ids(ds.rejects, "customer_id", id_normalization=id_normalization))
    assert got == kept


# --- exit surveys ------------------------------------------------------------------------------


def test_load_rejects_exit_surveys_without_a_reason_index(tmp_path: Path) -> None:
    tx = write_csv(transactions_frame(), tmp_path / "tx.csv")
    values = ["0", "5", "5.0", "6", "-1", "2.5", "", "NaN", "9"]
    types = ["exit_survey"] * 8 + ["nps"]
    events = _nps_events(tmp_path, values, types)

    ds = data.load(config("csv", tx, events=str(events)), now=NOW)

    assert ds.events is not None
    assert ds.events.column("value").to_pylist() == [0.0, 5.0, 5.0, 9.0]
    assert rejects_of(ds) == [(i, "bad_exit_reason") for i in (3, 4, 5, 6, 7)]
    expected = "(a whole number from 0 to 5, the index into data.exit_reasons ['price', "
    assert ds.rejects.loc[0, "reason"].startswith(f"value '6' is not an exit reason {expected}")
    assert ds.rejects.loc[3, "reason"].startswith("value is missing: expected an exit reason")
    assert ds.reports["events"].rejected_by_rule == {"bad_exit_reason": 5}


def test_load_exit_reasons_are_configurable(tmp_path: Path) -> None:
    tx = write_csv(transactions_frame(), tmp_path / "tx.csv")
    events = _nps_events(tmp_path, ["0", "1", "2"], ["exit_survey"] * 3)

    ds = data.load(config("csv", tx, events=str(events), exit_reasons=["price", "other"]), now=NOW)

    assert rejects_of(ds) == [(2, "bad_exit_reason")]


def test_load_exit_surveys_without_value_column_are_rejected(tmp_path: Path) -> None:
    tx = write_csv(transactions_frame(), tmp_path / "tx.csv")
    events = pd.DataFrame(
        {"customer_id": "1", "timestamp": "2024-01-01", "type": ["exit_survey", "complaint"]}
    )
    path = write_csv(events, tmp_path / "events.csv")

    ds = data.load(config("csv", tx, events=str(path)), now=NOW)

    assert rejects_of(ds) == [(0, "bad_exit_reason")]
    assert ds.rejects.loc[0, "reason"] == "type 'exit_survey' has no value column to answer with"


@pytest.mark.parametrize("value", [[], "price", ["price", "price"], ["price", ""], [1, 2], None])
def test_load_refuses_bad_exit_reasons(tmp_path: Path, value: object) -> None:
    tx = write_csv(transactions_frame(), tmp_path / "tx.csv")
    with pytest.raises(ConfigError, match=r"data.exit_reasons: expected a non-empty list"):
        data.load(config("csv", tx, exit_reasons=value), now=NOW)

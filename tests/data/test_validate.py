"""The row rules: ids, timestamps, amounts, duplicates; counts always add up."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from churn import data
from churn.errors import ConfigError
from tests.data.helpers import NOT_ISO, NOW, config, rejects_of, transactions_frame, write_csv

# --- ids and timestamps ------------------------------------------------------------------------


def test_load_integer_and_float_customer_ids_become_integer_strings(tmp_path: Path) -> None:
    frame = transactions_frame()
    frame["customer_id"] = [1.0, 2.0, np.nan, 12345678901.0]
    frame.to_parquet(tmp_path / "tx.parquet")

    ds = data.load(config("parquet", tmp_path / "tx.parquet"), now=NOW)

    assert ds.transactions.column("customer_id").to_pylist() == ["1", "2", "12345678901"]
    assert rejects_of(ds) == [(2, "null_id")]


def test_load_text_customer_ids_are_stripped_and_lose_a_zero_fraction(tmp_path: Path) -> None:
    frame = transactions_frame().astype({"customer_id": str})
    frame["customer_id"] = [" 7 ", "7.0", "A-1.0", "007"]
    path = write_csv(frame, tmp_path / "tx.csv")

    ds = data.load(config("csv", path), now=NOW)

    assert ds.transactions.column("customer_id").to_pylist() == ["7", "7", "A-1.0", "007"]


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
        ("2", "2024-01-01", "10", "a", "1"),  # duplicate_id of row 0
        ("2", "2024-01-01", "10", "m", "many"),  # bad_quantity
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
    ]
    assert set(ds.rejects["table"]) == {"transactions"}
    assert set(ds.rejects["source"]) == {str(path)}
    assert ds.rejects.loc[6, "amount"] == "abc"
    assert ds.transactions.column("customer_id").to_pylist() == ["1", "3"]
    assert ds.transactions.column("transaction_id").to_pylist() == ["a", None]
    assert ds.transactions.column("quantity").to_pylist() == [1.0, None]
    report = ds.reports["transactions"]
    assert (report.input_rows, report.used_rows, report.rejected_rows) == (14, 2, 12)
    assert report.rejected_by_rule == {
        "bad_timestamp": 3,
        "non_finite_amount": 3,
        "null_id": 2,
        "future_timestamp": 1,
        "bad_amount": 1,
        "duplicate_id": 1,
        "bad_quantity": 1,
    }


def test_load_duplicate_keeps_the_first_valid_occurrence(tmp_path: Path) -> None:
    frame = transactions_frame()
    frame["transaction_id"] = ["t1", "t1", "t1", "t9"]
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
        (2, "duplicate_id"),
        (3, "null_id"),
        (4, "bad_signup_date"),
    ]
    assert customer_rejects["reason"].iloc[0] == (
        f"customer_id (column 'id') '2' repeats {path} row 1, which is kept"
    )
    assert ds.reports["customers"] == data.TableReport(
        5, 2, 3, {"duplicate_id": 1, "null_id": 1, "bad_signup_date": 1}
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


# --- counts add up (property) ------------------------------------------------------------------

BAD_ROWS: dict[str, tuple[str, str, str]] = {
    "null_id": (" ", "2024-01-01", "1"),
    "bad_timestamp": ("c", "2024-02-30", "1"),
    "future_timestamp": ("c", "2099-01-01 00:00:00", "1"),
    "bad_amount": ("c", "2024-01-01", "1,5"),
    "non_finite_amount": ("c", "2024-01-01", "inf"),
}
_examples = itertools.count()


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(kinds=st.lists(st.sampled_from(["good", "duplicate", *BAD_ROWS]), min_size=1, max_size=25))
def test_load_counts_add_up_and_each_bad_row_gets_its_rule(
    tmp_path: Path, kinds: list[str]
) -> None:
    rows, expected, good_ids = [], {}, []
    for i, kind in enumerate(kinds):
        if kind == "duplicate" and good_ids:
            rows.append(("c", "2024-01-01", "2", good_ids[0]))
            expected[i] = "duplicate_id"
        elif kind in BAD_ROWS:
            rows.append((*BAD_ROWS[kind], f"t{i}"))
            expected[i] = kind
        else:
            rows.append((f"c{i}", "2024-01-01 12:00:00", str(i), f"t{i}"))
            good_ids.append(f"t{i}")
    frame = pd.DataFrame(rows, columns=["customer_id", "timestamp", "amount", "transaction_id"])
    path = tmp_path / f"tx-{next(_examples)}.csv"
    if not good_ids:  # keep at least one row usable; a file of only bad rows is fine too
        frame.loc[len(frame)] = ["c", "2024-01-01", "1", "last"]
    write_csv(frame, path)

    ds = data.load(config("csv", path), now=NOW)

    report = ds.reports["transactions"]
    assert report.used_rows + report.rejected_rows == report.input_rows == len(frame)
    assert sum(report.rejected_by_rule.values()) == report.rejected_rows
    assert dict(rejects_of(ds)) == expected
    assert ds.transactions.num_rows == report.used_rows

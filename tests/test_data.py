"""Tests for churn.data: loading, column mapping, row validation, rejects and fingerprints."""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import os
import stat
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from churn import data
from churn.errors import ConfigError, DataError

CONF = Path(__file__).resolve().parents[1] / "conf" / "data"
NOW = dt.datetime(2025, 1, 1)
NOT_ISO = "is not an ISO 8601 date or datetime (e.g. '2024-05-31' or '2024-05-31T14:30:00+02:00')"


def config(fmt: str, path: Path | str, **overrides: Any) -> dict[str, Any]:
    """The shipped conf/data/<fmt>.yaml with the path filled in and keys overridden."""
    cfg = yaml.safe_load((CONF / f"{fmt}.yaml").read_text())
    cfg["path"] = str(path)
    cfg["max_reject_fraction"] = 1.0
    cfg.update(overrides)
    return cfg


def transactions_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": [1, 2, 1, 3],
            "timestamp": pd.to_datetime(
                [
                    "2024-01-01 10:00:00",
                    "2024-01-02 00:00:00",
                    "2024-02-03 23:59:59",
                    "2024-03-04 08:30:00",
                ]
            ),
            "amount": [12.5, -3.0, 7.0, 100.0],
            "transaction_id": ["t1", "t2", "t3", "t4"],
            "quantity": [1.0, 1.0, 2.0, 3.0],
            "category": ["food", "food", "toys", "books"],
            "channel": ["web", "store", "web", "app"],
        }
    )


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, index=False)
    return path


def rejects_of(ds: data.Dataset | data.TooManyRejectsError) -> list[tuple[int, str]]:
    return list(zip(ds.rejects["source_row"], ds.rejects["rule"], strict=True))


# --- good data from every kind of source -------------------------------------------------------


def test_load_csv_types_every_contract_column(tmp_path: Path) -> None:
    path = write_csv(transactions_frame(), tmp_path / "tx.csv")

    ds = data.load(config("csv", path), now=NOW)

    assert ds.transactions.schema == pa.schema(
        [
            ("customer_id", pa.string()),
            ("timestamp", pa.timestamp("us")),
            ("amount", pa.float64()),
            ("transaction_id", pa.string()),
            ("quantity", pa.float64()),
            ("category", pa.string()),
            ("channel", pa.string()),
        ]
    )
    assert ds.transactions.column("customer_id").to_pylist() == ["1", "2", "1", "3"]
    assert ds.transactions.column("timestamp").to_pylist()[1] == dt.datetime(2024, 1, 2)
    assert ds.transactions.column("amount").to_pylist() == [12.5, -3.0, 7.0, 100.0]
    assert ds.rejects.empty
    assert list(ds.rejects.columns[:5]) == list(data.REJECT_COLUMNS)
    assert ds.reports == {"transactions": data.TableReport(4, 4, 0, {})}
    assert ds.customers is None
    assert ds.events is None
    assert ds.max_timestamp == NOW


def _csv_file(frame: pd.DataFrame, root: Path) -> dict[str, Any]:
    return config("csv", write_csv(frame, root / "tx.csv"))


def _csv_glob(frame: pd.DataFrame, root: Path) -> dict[str, Any]:
    (root / "tx").mkdir()
    write_csv(frame.iloc[:2], root / "tx" / "part-0.csv")
    write_csv(frame.iloc[2:], root / "tx" / "part-1.csv")
    return config("csv", root / "tx" / "*.csv")


def _parquet_file(frame: pd.DataFrame, root: Path) -> dict[str, Any]:
    frame.to_parquet(root / "tx.parquet")
    return config("parquet", root / "tx.parquet")


def _parquet_folder(frame: pd.DataFrame, root: Path) -> dict[str, Any]:
    (root / "tx" / "b").mkdir(parents=True)
    frame.iloc[:1].to_parquet(root / "tx" / "a.parquet")
    frame.iloc[1:].to_parquet(root / "tx" / "b" / "part-0.parquet")
    (root / "tx" / "_SUCCESS").write_text("")
    return config("parquet", root / "tx")


def _parquet_glob(frame: pd.DataFrame, root: Path) -> dict[str, Any]:
    frame.iloc[:3].to_parquet(root / "tx-0.parquet")
    frame.iloc[3:].to_parquet(root / "tx-1.parquet")
    return config("parquet", root / "tx-*.parquet")


def _duckdb_table(frame: pd.DataFrame, root: Path) -> dict[str, Any]:
    with duckdb.connect(str(root / "shop.duckdb")) as con:
        con.register("frame", frame)
        con.execute("CREATE TABLE transactions AS SELECT * FROM frame")
    return config("duckdb", root / "shop.duckdb")


@pytest.mark.parametrize(
    "make_source",
    [_csv_file, _csv_glob, _parquet_file, _parquet_folder, _parquet_glob, _duckdb_table],
)
def test_load_every_source_kind_gives_the_same_table(tmp_path: Path, make_source: Any) -> None:
    reference = data.load(_csv_file(transactions_frame(), tmp_path), now=NOW).transactions
    root = tmp_path / "source"
    root.mkdir()

    ds = data.load(make_source(transactions_frame(), root), now=NOW)

    assert ds.transactions.equals(reference)
    assert ds.reports["transactions"] == data.TableReport(4, 4, 0, {})


def test_load_maps_renamed_source_columns(tmp_path: Path) -> None:
    frame = transactions_frame().rename(
        columns={"customer_id": "Kunde", "timestamp": "Zeit", "amount": "Betrag"}
    )
    frame.loc[1, "Betrag"] = np.nan
    path = write_csv(frame[["Kunde", "Zeit", "Betrag"]], tmp_path / "tx.csv")
    columns = {"transactions": {"customer_id": "Kunde", "timestamp": "Zeit", "amount": "Betrag"}}

    ds = data.load(config("csv", path, columns=columns), now=NOW)

    assert ds.transactions.column_names == ["customer_id", "timestamp", "amount"]
    assert ds.transactions.column("customer_id").to_pylist() == ["1", "1", "3"]
    assert rejects_of(ds) == [(1, "non_finite_amount")]
    assert list(ds.rejects.columns[5:]) == ["Kunde", "Zeit", "Betrag"]
    assert ds.rejects.loc[0, "reason"] == "amount (column 'Betrag') is missing"


def test_load_optional_columns_absent_are_left_out(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_csv(
        transactions_frame()[["customer_id", "timestamp", "amount"]], tmp_path / "t.csv"
    )

    with caplog.at_level(logging.INFO, logger="churn.data"):
        ds = data.load(config("csv", path), now=NOW)

    assert ds.transactions.column_names == ["customer_id", "timestamp", "amount"]
    assert "optional column transaction_id" in caplog.text


def test_load_ignores_unknown_config_keys(tmp_path: Path) -> None:
    path = write_csv(transactions_frame(), tmp_path / "tx.csv")

    ds = data.load(config("csv", path, generate={"n_customers": 10}), now=NOW)

    assert ds.transactions.num_rows == 4


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
        con.execute("CREATE TABLE events AS SELECT 1 AS customer_id, 'nps' AS type")
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


def test_write_rejects_failure_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "rejects.csv"
    target.write_text("old\n")

    class Broken(pd.DataFrame):
        def to_csv(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        data.write_rejects(Broken({"a": [1]}), target)

    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["rejects.csv"]


# --- fingerprint -------------------------------------------------------------------------------


def test_fingerprint_summarises_the_table(tmp_path: Path) -> None:
    ds = data.load(config("csv", write_csv(transactions_frame(), tmp_path / "tx.csv")), now=NOW)

    result = data.fingerprint(ds.transactions)

    assert result["rows"] == 4
    assert result["customers"] == 3
    assert result["first_timestamp"] == "2024-01-01T10:00:00"
    assert result["last_timestamp"] == "2024-03-04T08:30:00"
    assert len(result["hash"]) == 64
    int(result["hash"], 16)


def test_fingerprint_is_order_independent(tmp_path: Path) -> None:
    table = pa.Table.from_pandas(
        transactions_frame().astype({"customer_id": str}), preserve_index=False
    )
    shuffled = table.take([3, 1, 0, 2])

    assert data.fingerprint(shuffled) == data.fingerprint(table)


def test_fingerprint_changes_when_a_value_changes() -> None:
    frame = transactions_frame().astype({"customer_id": str})
    before = data.fingerprint(pa.Table.from_pandas(frame, preserve_index=False))
    frame.loc[2, "amount"] = 7.01
    after = data.fingerprint(pa.Table.from_pandas(frame, preserve_index=False))
    doubled = data.fingerprint(
        pa.Table.from_pandas(pd.concat([frame, frame]), preserve_index=False)
    )

    assert after["hash"] != before["hash"]
    assert after["rows"] == before["rows"]
    assert doubled["hash"] != after["hash"]


def test_fingerprint_empty_table_has_no_dates() -> None:
    table = pa.table(
        {"customer_id": pa.array([], pa.string()), "timestamp": pa.array([], pa.timestamp("us"))}
    )

    result = data.fingerprint(table)

    assert result["rows"] == 0
    assert result["first_timestamp"] is None


def test_fingerprint_without_required_columns_raises() -> None:
    with pytest.raises(DataError, match=r"fingerprint: expected columns customer_id and timestamp"):
        data.fingerprint(pa.table({"customer_id": ["1"]}))

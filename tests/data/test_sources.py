"""Loading good data from every kind of source."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from churn import data
from tests.data.helpers import NOW, config, rejects_of, transactions_frame, write_csv

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

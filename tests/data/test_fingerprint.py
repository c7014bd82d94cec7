"""The fingerprint of the validated transactions."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from churn import data
from churn.errors import DataError
from tests.data.helpers import NOW, config, transactions_frame, write_csv

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

"""Cutoff schedule, population and churn labels at the edges of their windows."""

from __future__ import annotations

import datetime as dt

import ibis
import pandas as pd
import pyarrow as pa
import pytest

from churn import labels
from churn.errors import ConfigError, DataError
from churn.features import FeatureConfig

C = pd.Timestamp("2024-06-01")
H = 90
CONFIG = FeatureConfig(btyd_enabled=False)


def _tx(rows: list[tuple[str, dt.datetime, float]]) -> ibis.Table:
    customer, ts, amount = zip(*rows, strict=True)
    table = pa.table(
        {
            "customer_id": pa.array(customer, pa.string()),
            "timestamp": pa.array(ts, pa.timestamp("us")),
            "amount": pa.array(amount, pa.float64()),
        }
    )
    return ibis.duckdb.connect().create_table("tx", table)


def test_label_outcomes_rejects_unobserved_window() -> None:
    tx = _tx([("a", dt.datetime(2024, 1, 1), 5.0)])
    with pytest.raises(ConfigError, match=r"reach past it"):
        labels.label_outcomes(tx, [C], horizon_days=H, end=C + pd.Timedelta(days=H - 1))


def test_data_end_is_day_after_last_purchase() -> None:
    tx = _tx(
        [
            ("a", dt.datetime(2024, 3, 5, 23, 59), 5.0),
            ("a", dt.datetime(2024, 3, 9, 10, 0), -5.0),  # a later refund does not move E
        ]
    )
    assert labels.data_end(tx) == pd.Timestamp("2024-03-06")
    assert labels.data_end(tx, end_date="2024-04-01") == pd.Timestamp("2024-04-01")
    with pytest.raises(ConfigError, match="expected a date"):
        labels.data_end(tx, end_date="2024-04-01 10:00")


def test_data_end_without_purchases() -> None:
    with pytest.raises(DataError, match="at least one purchase"):
        labels.data_end(_tx([("a", dt.datetime(2024, 3, 5), -5.0)]))


def test_cutoff_schedule_latest_first() -> None:
    config = labels.LabelConfig(horizon_days=90, step_days=30, n_cutoffs=3)
    end = pd.Timestamp("2026-01-01")
    assert labels.cutoff_schedule(end, config) == [
        pd.Timestamp("2025-10-03"),
        pd.Timestamp("2025-09-03"),
        pd.Timestamp("2025-08-04"),
    ]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"horizon_days": 0}, "horizon_days: expected a whole number >= 1"),
        ({"n_cutoffs": 2.5}, "n_cutoffs: expected a whole number >= 1"),
        ({"active_within_days": 0}, "active_within_days: expected >= 1 or null"),
        ({"horizon": 90}, r"unknown keys \['horizon'\]"),
    ],
)
def test_label_config_from_mapping_invalid(values: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        labels.LabelConfig.from_mapping(values)


def test_zero_value_orders_are_purchases_only_under_non_negative() -> None:
    tx = _tx(
        [
            ("a", dt.datetime(2024, 5, 1), 20.0),
            ("a", dt.datetime(2024, 6, 10), 15.0),
            ("z", dt.datetime(2024, 5, 2), 0.0),  # a free item
            ("z", dt.datetime(2024, 6, 20), 0.0),  # an order paid in full by a voucher
            ("z", dt.datetime(2024, 8, 1), 0.0),
            ("r", dt.datetime(2024, 5, 3), 9.0),
            ("r", dt.datetime(2024, 6, 5), -9.0),  # a refund never counts
        ]
    )
    end = pd.Timestamp("2024-09-01")

    positive = labels.label_outcomes(tx, [C], horizon_days=H, end=end)
    free = labels.label_outcomes(tx, [C], horizon_days=H, end=end, purchase_rule="non_negative")

    assert sorted(positive["customer_id"].to_pylist()) == ["a"]
    assert sorted(free["customer_id"].to_pylist()) == ["a", "z"]
    assert labels.data_end(tx) == pd.Timestamp("2024-06-11")
    assert labels.data_end(tx, purchase_rule="non_negative") == pd.Timestamp("2024-08-02")
    with pytest.raises(DataError, match=r"amount >= 0"):
        labels.data_end(_tx([("a", dt.datetime(2024, 3, 5), -5.0)]), purchase_rule="non_negative")

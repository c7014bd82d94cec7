"""Shared inputs of the data tests: configs, a transactions frame, CSV writing, rejects."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from churn import data

CONF = Path(__file__).resolve().parents[2] / "conf" / "data"
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

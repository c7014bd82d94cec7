"""Shared helpers of the demo-world tests: purchases and the observed churn in a window."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from churn import synthetic

HORIZON = 90


def purchases_of(demo: synthetic.DemoData) -> pd.DataFrame:
    tx = pa.concat_tables([demo.transactions, demo.future_transactions]).to_pandas()
    return tx[tx["amount"] > 0]


def no_purchase_in_window(
    purchases: pd.DataFrame, ids: pd.Index, cutoff: pd.Timestamp
) -> np.ndarray:
    window = purchases[
        (purchases["timestamp"] >= cutoff)
        & (purchases["timestamp"] < cutoff + pd.Timedelta(days=HORIZON))
    ]
    return ~ids.isin(window["customer_id"].unique())

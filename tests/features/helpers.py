"""Shared checks of the feature tests: tolerances, cutoffs, engine against reference."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa

from churn import synthetic

HORIZON = 90
EXACT = 1e-9
FITTED = 1e-5  # BG/NBD columns: two optimiser runs on the same likelihood, summed in another order


def cutoffs_of(demo: synthetic.DemoData) -> list[pd.Timestamp]:
    end = pd.Timestamp(demo.params.end_date)
    return [end - pd.Timedelta(days=d) for d in (90, 120, 400, 1000)]


def compare(engine: pa.Table, expected: pd.DataFrame) -> None:
    """Same rows and columns; numbers equal to 1e-9 (fitted BG/NBD columns to 1e-5)."""
    got = engine.to_pandas()
    assert list(got.columns) == list(expected.columns)
    assert len(got) == len(expected)
    pd.testing.assert_series_equal(got["customer_id"], expected["customer_id"], check_dtype=False)
    for name in got.columns[2:]:
        if name == "lifecycle_stage":
            assert (got[name].astype(str) == expected[name].astype(str)).all()
            continue
        tol = FITTED if name.startswith("btyd_") else EXACT
        np.testing.assert_allclose(
            got[name].to_numpy(dtype=float),
            expected[name].to_numpy(dtype=float),
            rtol=tol,
            atol=tol,
            err_msg=name,
        )


CUTOFF = dt.datetime(2024, 6, 1)


def tx_table(rows: list[tuple]) -> pa.Table:
    customer, ts, amount, category = zip(*rows, strict=True) if rows else ([], [], [], [])
    return pa.table(
        {
            "customer_id": pa.array(customer, pa.string()),
            "timestamp": pa.array(ts, pa.timestamp("us")),
            "amount": pa.array(amount, pa.float64()),
            "category": pa.array(category, pa.string()),
        }
    )

"""CSV files people open in a spreadsheet: safe text cells, numbers rounded for reading.

Every CSV the pipeline writes (the export's ``at_risk.csv`` and ``rejects.csv``, the load's
row rejects, the outcomes' tables) goes through :func:`write_csv`, and the backtest's metric
tables through :func:`for_people`. Nothing reads these files back: the pipeline reads
the Parquet files, which keep the raw values and full precision.

- **Formula injection** (OWASP "CSV injection"): a text cell beginning with ``=``, ``+``, ``-``,
  ``@``, a tab or a carriage return would be run as a formula, so it gets a leading single quote
  (``=HYPERLINK(...)`` is written ``'=HYPERLINK(...)``). A text cell that is a plain number
  (``-12.50``) is no formula and stays as it is; numeric columns are never touched.
- **Rounding**: probabilities to 3 decimals, money to 2 (:data:`DECIMALS`, by column name).
"""

from __future__ import annotations

import logging
import os
import re
from typing import Any, Final

import pandas as pd

log = logging.getLogger(__name__)

FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")
PROBABILITY_DECIMALS: Final = 3
MONEY_DECIMALS: Final = 2
DECIMALS: Final = {
    "churn_probability": PROBABILITY_DECIMALS,
    "value": MONEY_DECIMALS,
    "value_at_risk": MONEY_DECIMALS,
    "offer_cost": MONEY_DECIMALS,
    "expected_net_benefit": MONEY_DECIMALS,
    "amount": MONEY_DECIMALS,
}
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def neutralise(cell: Any) -> Any:
    """``cell`` with a leading ``'`` when it is text a spreadsheet would run as a formula."""
    if (
        isinstance(cell, str)
        and cell.startswith(FORMULA_START)
        and not _PLAIN_NUMBER.fullmatch(cell)
    ):
        return "'" + cell
    return cell


def for_people(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` as people should see it: text cells neutralised, numbers rounded.

    Text columns (object, string, category) are neutralised cell by cell (:func:`neutralise`);
    numeric columns named in :data:`DECIMALS` are rounded; all other columns are left alone.
    """
    out = frame.copy()
    for name in out.columns:
        column = out[name]
        if _is_text(column):
            out[name] = column.astype(object).map(neutralise)  # the CSV text is the same
        elif str(name) in DECIMALS and pd.api.types.is_float_dtype(column.dtype):
            out[name] = column.round(DECIMALS[str(name)])
    return out


def write_csv(frame: pd.DataFrame, path: str | os.PathLike[str]) -> None:
    """Write ``frame`` as UTF-8 CSV without the index, as :func:`for_people` shows it."""
    for_people(frame).to_csv(path, index=False, encoding="utf-8")


def _is_text(column: pd.Series) -> bool:
    dtype = column.dtype
    return (
        pd.api.types.is_object_dtype(dtype)
        or pd.api.types.is_string_dtype(dtype)
        or isinstance(dtype, pd.CategoricalDtype)
    )

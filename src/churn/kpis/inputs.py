"""The KPI functions' input checks and the purchase, period and activity helpers they share."""

from __future__ import annotations

import logging

import numpy as np
import numpy.typing as npt
import pandas as pd

from churn.errors import ConfigError, DataError
from churn.purchases import is_purchase

log = logging.getLogger(__name__)

TRANSACTION_COLUMNS = ("customer_id", "timestamp", "amount")
EVENT_COLUMNS = ("customer_id", "timestamp", "type", "value")
NPS_GROUPS = ("promoter", "passive", "detractor")
PERIOD_COLUMNS = (
    "customers_start",
    "new_customers",
    "lost_customers",
    "customers_end",
    "retention_rate",
    "churn_rate",
    "active_customers",
    "orders",
    "revenue",
    "purchase_frequency",
    "average_order_value",
    "repeat_purchase_rate",
)
_FREQS = {"M": "M", "Q": "Q", "Y": "Y", "A": "Y"}
_SCORE_MAX = 10
_PROMOTER_MIN = 9
_PASSIVE_MIN = 7


def _check_freq(freq: str, where: str) -> str:
    if freq not in _FREQS:
        raise ConfigError(f"{where}: freq: expected one of {sorted(_FREQS)}; got {freq!r}")
    return _FREQS[freq]


def _check_churn_after_days(days: int, where: str) -> None:
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise ConfigError(f"{where}: churn_after_days: expected a whole number >= 1; got {days!r}")


def _check_frame(
    frame: pd.DataFrame, columns: tuple[str, ...], name: str, where: str
) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{where}: {name}: expected a pandas DataFrame; got {type(frame).__name__}")
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise DataError(
            f"{where}: {name}: missing columns {missing}; expected {list(columns)}, got "
            f"{list(frame.columns)}"
        )
    if frame.empty:
        return frame
    timestamp = frame["timestamp"]
    if not pd.api.types.is_datetime64_dtype(timestamp) or isinstance(
        timestamp.dtype, pd.DatetimeTZDtype
    ):
        raise DataError(
            f"{where}: {name}.timestamp: expected naive datetime64 (UTC); got {timestamp.dtype}"
        )
    for column in ("customer_id", "timestamp"):
        nulls = int(frame[column].isna().sum())
        if nulls:
            raise DataError(f"{where}: {name}.{column}: expected no nulls; got {nulls}")
    return frame


def _check_transactions(transactions: pd.DataFrame, where: str) -> pd.DataFrame:
    tx = _check_frame(transactions, TRANSACTION_COLUMNS, "transactions", where)
    if tx.empty:
        raise DataError(
            f"{where}: transactions: expected at least one purchase (amount > 0); got no rows"
        )
    amount = tx["amount"]
    if not pd.api.types.is_numeric_dtype(amount) or pd.api.types.is_bool_dtype(amount):
        raise DataError(f"{where}: transactions.amount: expected numbers; got {amount.dtype}")
    bad = int((~np.isfinite(amount.to_numpy(dtype=float, na_value=np.nan))).sum())
    if bad:
        raise DataError(f"{where}: transactions.amount: expected finite numbers; got {bad} not")
    return tx


def _check_events(events: pd.DataFrame, where: str) -> pd.DataFrame:
    return _check_frame(events, EVENT_COLUMNS, "events", where)


def _check_scores(scores: npt.ArrayLike, where: str) -> npt.NDArray[np.float64]:
    try:
        values = np.asarray(scores, dtype=float).ravel()
    except (TypeError, ValueError) as err:
        raise ValueError(f"{where}: expected NPS answers as numbers 0-10; got {scores!r}") from err
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(values) | (values < 0) | (values > _SCORE_MAX) | (values % 1 != 0)
    if bad.any():
        raise ValueError(
            f"{where}: expected NPS answers as whole numbers 0-10; got {int(bad.sum())} others, "
            f"e.g. {values[bad][:5].tolist()}"
        )
    return values


def _as_timestamp(value: str | pd.Timestamp, where: str) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{where}: expected a date or datetime; got {value!r}") from err
    if pd.isna(stamp) or stamp.tzinfo is not None:
        raise ConfigError(f"{where}: expected a naive (UTC) date or datetime; got {value!r}")
    return stamp


def _data_end(tx: pd.DataFrame, end: str | pd.Timestamp | None, where: str) -> pd.Timestamp:
    """``end`` if given, else the day after the last transaction."""
    if end is not None:
        return _as_timestamp(end, f"{where}: end")
    last: pd.Timestamp = tx["timestamp"].max()
    return last.normalize() + pd.Timedelta(days=1)


def _purchases(tx: pd.DataFrame, end: pd.Timestamp, where: str) -> pd.DataFrame:
    # the KPIs count purchases by the default rule (amount > 0), not by label.purchase_rule
    bought = is_purchase(tx["amount"]) & (tx["timestamp"] < end)
    purchases = tx.loc[bought, list(TRANSACTION_COLUMNS)]
    if purchases.empty:
        raise DataError(
            f"{where}: transactions: expected at least one purchase (amount > 0) before {end}; "
            "got none"
        )
    return purchases


def _spans(purchases: pd.DataFrame) -> pd.DataFrame:
    """First and last purchase and number of purchases, per customer."""
    return purchases.groupby("customer_id").agg(
        first=("timestamp", "min"), last=("timestamp", "max"), orders=("timestamp", "size")
    )


def _is_lost(spans: pd.DataFrame, end: pd.Timestamp, churn_after_days: int) -> pd.Series:
    return (end - spans["last"]) >= pd.Timedelta(days=churn_after_days)


def _ordinal(periods: pd.Series) -> pd.Series:
    """Period ordinals (consecutive periods differ by 1), same index."""
    return pd.Series(pd.PeriodIndex(periods).asi8, index=periods.index)


def _nonzero(values: pd.Series) -> pd.Series:
    """Denominator with 0 replaced by NaN, so rates over nothing are NaN without warnings."""
    return values.where(values != 0).astype(float)

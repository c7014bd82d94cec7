"""Retention KPIs per period (customer base flow, churn, retention, orders) and in summary."""

from __future__ import annotations

import logging
import math

import pandas as pd

from churn.errors import ConfigError, DataError
from churn.kpis.inputs import (
    _as_timestamp,
    _check_churn_after_days,
    _check_freq,
    _check_transactions,
    _data_end,
    _is_lost,
    _nonzero,
    _purchases,
    _spans,
)

log = logging.getLogger(__name__)


def period_kpis(
    transactions: pd.DataFrame,
    *,
    freq: str = "M",
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
    churn_after_days: int = 90,
) -> pd.DataFrame:
    """Customer base flow and order KPIs for each full period between ``start`` and ``end``.

    Only full periods are reported: the first starts at or after ``start`` (default: the start
    of the period of the first transaction, since nothing precedes it) and the last ends by
    ``end`` (exclusive; default: the day after the last transaction), so a period cut by ``end``
    (or by an explicit ``start``) is dropped. ``start`` only chooses the periods shown: the
    customer base is built from all the history before ``end``.

    Columns:

    - ``customers_start`` (S), ``new_customers`` (N), ``lost_customers`` and ``customers_end``
      (E = S + N - lost). Lost customers are those whose last purchase falls in the period (see
      the module docstring); this includes customers acquired in the same period, so that
      ``customers_end`` equals the next period's ``customers_start``.
    - ``retention_rate`` = (E - N) / S and ``churn_rate`` = lost / S; they add up to 1.
    - ``active_customers`` (customers with a purchase in the period), ``orders`` (purchases),
      ``revenue`` (sum of purchase amounts; refunds are not subtracted).
    - ``purchase_frequency`` = orders / active customers, ``average_order_value`` = revenue /
      orders, and ``repeat_purchase_rate`` = share of the period's active customers with more
      than one purchase *in that period*.

    Rates are NaN when their denominator is 0. Losses are not all known yet in periods that end
    less than ``churn_after_days`` before ``end``, so their churn is understated.

    Args:
        transactions: ``customer_id``, ``timestamp`` (naive datetime64), ``amount``.
        freq: ``"M"``, ``"Q"`` or ``"Y"`` (``"A"`` is an alias of ``"Y"``).
        start: Earliest time the reported periods may cover (inclusive).
        end: End of the data (exclusive).
        churn_after_days: Days without a purchase after which a customer counts as lost.

    Returns:
        One row per period, indexed by ``pd.Period`` (index name ``period``).

    Raises:
        DataError: on missing columns, no purchase before ``end``, or no full period.
        ConfigError: on a bad ``freq``, ``start``, ``end`` or ``churn_after_days``.
    """
    where = "period_kpis"
    period_freq = _check_freq(freq, where)
    _check_churn_after_days(churn_after_days, where)
    tx = _check_transactions(transactions, where)
    end_ts = _data_end(tx, end, where)
    start_ts = (
        pd.Period(tx["timestamp"].min(), period_freq).start_time
        if start is None
        else _as_timestamp(start, f"{where}: start")
    )
    if start_ts >= end_ts:
        raise ConfigError(f"{where}: expected start before end {end_ts}; got start {start_ts}")
    purchases = _purchases(tx, end_ts, where)
    periods = _full_periods(start_ts, end_ts, period_freq)
    if periods.empty:
        raise DataError(
            f"{where}: expected at least one full period {freq!r} between {start_ts} and "
            f"{end_ts} (end exclusive); got none"
        )
    base = _base_counts(
        _spans(purchases), periods, freq=period_freq, end=end_ts, churn_after_days=churn_after_days
    )
    activity = _activity(purchases, period_freq).reindex(periods, fill_value=0)
    table = pd.DataFrame(index=periods)
    table.index.name = "period"
    for column in ("customers_start", "new_customers", "lost_customers", "customers_end"):
        table[column] = base[column]
    start_base = _nonzero(table["customers_start"])
    table["retention_rate"] = (table["customers_end"] - table["new_customers"]) / start_base
    table["churn_rate"] = table["lost_customers"] / start_base
    table["active_customers"] = activity["active_customers"]
    table["orders"] = activity["orders"]
    table["revenue"] = activity["revenue"].astype(float)
    active = _nonzero(activity["active_customers"])
    table["purchase_frequency"] = activity["orders"] / active
    table["average_order_value"] = activity["revenue"] / _nonzero(activity["orders"])
    table["repeat_purchase_rate"] = activity["repeat_customers"] / active
    log.info(
        "%s: %d full %s periods from %s to %s, churn after %d days",
        where,
        len(periods),
        period_freq,
        periods[0],
        periods[-1],
        churn_after_days,
    )
    return table


def summary_kpis(
    transactions: pd.DataFrame,
    *,
    end: str | pd.Timestamp | None = None,
    churn_after_days: int = 90,
) -> dict[str, float]:
    """KPIs to date (all purchases before ``end``).

    Keys:

    - ``customers``: customers with at least one purchase.
    - ``repeat_purchase_rate``: share of those customers with two or more purchases to date.
    - ``purchase_frequency``: purchases per customer; ``average_order_value``: revenue per
      purchase.
    - ``average_lifespan_days``: mean days from first to last purchase over the customers lost
      by ``end`` (one-off buyers count with 0 days); NaN when nobody is lost yet.
    - ``expected_lifespan_months``: 1 / mean monthly churn rate (``period_kpis`` with
      ``freq="M"``), over the full months whose losses are all known, i.e. months that end at
      least ``churn_after_days`` before ``end`` (later months would understate churn); NaN when
      there is no such month with customers at its start, or the mean churn rate is 0.

    Args:
        transactions: ``customer_id``, ``timestamp`` (naive datetime64), ``amount``.
        end: End of the data (exclusive; default: the day after the last transaction).
        churn_after_days: Days without a purchase after which a customer counts as lost.

    Raises:
        DataError: on missing columns or no purchase before ``end``.
        ConfigError: on a bad ``end`` or ``churn_after_days``.
    """
    where = "summary_kpis"
    _check_churn_after_days(churn_after_days, where)
    tx = _check_transactions(transactions, where)
    end_ts = _data_end(tx, end, where)
    purchases = _purchases(tx, end_ts, where)
    spans = _spans(purchases)
    customers = len(spans)
    orders = len(purchases)
    lost = spans[_is_lost(spans, end_ts, churn_after_days)]
    lifespans = (lost["last"] - lost["first"]).dt.total_seconds() / 86_400.0
    return {
        "customers": float(customers),
        "repeat_purchase_rate": float((spans["orders"] > 1).sum()) / customers,
        "purchase_frequency": orders / customers,
        "average_order_value": float(purchases["amount"].sum()) / orders,
        "average_lifespan_days": float(lifespans.mean()) if len(lifespans) else math.nan,
        "expected_lifespan_months": _expected_lifespan_months(spans, end_ts, churn_after_days),
    }


def _full_periods(start: pd.Timestamp, end: pd.Timestamp, freq: str) -> pd.PeriodIndex:
    first = pd.Period(start, freq)
    if first.start_time < start:
        first += 1
    last = pd.Period(end, freq) - 1
    if first > last:
        return pd.PeriodIndex([], freq=freq)
    return pd.period_range(first, last, freq=freq)


def _base_counts(
    spans: pd.DataFrame,
    periods: pd.PeriodIndex,
    *,
    freq: str,
    end: pd.Timestamp,
    churn_after_days: int,
) -> pd.DataFrame:
    """S, N, lost and E for each period of ``periods`` (consecutive)."""
    acquired = spans["first"].dt.to_period(freq)
    lost = spans.loc[_is_lost(spans, end, churn_after_days), "last"].dt.to_period(freq)
    timeline = pd.period_range(min(acquired.min(), periods[0]), periods[-1], freq=freq)
    new = acquired.value_counts().reindex(timeline, fill_value=0)
    gone = lost.value_counts().reindex(timeline, fill_value=0)
    start = (new - gone).cumsum().shift(1, fill_value=0)
    counts = pd.DataFrame(
        {
            "customers_start": start,
            "new_customers": new,
            "lost_customers": gone,
            "customers_end": start + new - gone,
        }
    )
    return counts.reindex(periods)


def _activity(purchases: pd.DataFrame, freq: str) -> pd.DataFrame:
    """Active customers, orders, revenue and repeat customers per period with purchases."""
    rows = purchases.assign(period=purchases["timestamp"].dt.to_period(freq))
    per_customer = rows.groupby(["period", "customer_id"])["amount"].agg(["size", "sum"])
    return pd.DataFrame(
        {
            "active_customers": per_customer["size"].groupby(level="period").size(),
            "orders": per_customer["size"].groupby(level="period").sum(),
            "revenue": per_customer["sum"].groupby(level="period").sum(),
            "repeat_customers": (per_customer["size"] > 1).groupby(level="period").sum(),
        }
    )


def _expected_lifespan_months(
    spans: pd.DataFrame, end: pd.Timestamp, churn_after_days: int
) -> float:
    """1 / mean monthly churn rate over the months whose losses are all known by ``end``."""
    last = pd.Period(end - pd.Timedelta(days=churn_after_days), "M") - 1
    first = spans["first"].min().to_period("M")
    if last < first:
        return math.nan
    months = pd.period_range(first, last, freq="M")
    base = _base_counts(spans, months, freq="M", end=end, churn_after_days=churn_after_days)
    with_base = base[base["customers_start"] > 0]
    if with_base.empty:
        return math.nan
    churn = float((with_base["lost_customers"] / with_base["customers_start"]).mean())
    return 1.0 / churn if churn > 0 else math.nan

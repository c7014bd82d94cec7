"""The query's aggregates: purchase days, all-history running state per interval, windows."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from churn.features.config import PERIOD_DAYS, SECONDS_PER_DAY, FeatureConfig

log = logging.getLogger(__name__)


def _days(ts: ir.TimestampValue) -> ir.FloatingValue:
    """A timestamp as (fractional) days since the epoch."""
    return ts.epoch_seconds().cast("float64") / SECONDS_PER_DAY


def _spans(config: FeatureConfig) -> list[int]:
    """Every window length counted: the windows and the trend's two periods."""
    return sorted({*config.windows, config.trend_days, 2 * config.trend_days})


def _purchase_rows(purchases: ir.Table) -> ir.Table:
    """Purchases with the per-row helper columns that do not depend on the cutoff."""
    purchases = purchases.mutate(ts=_days(purchases.timestamp))
    # days since the epoch: the whole part is the day
    purchases = purchases.mutate(day=purchases.ts.floor().cast("float64"))
    # One window over each customer's purchases in time order. The row before a day's first
    # purchase is the previous purchase day's last one, so one lag gives the gap between
    # purchase days; the same order decides which of several tied rows comes first, so exactly
    # one row per day carries it. The running spend gives the last day's spend without a
    # second window: spend through the last day minus spend before it.
    in_order = ibis.window(group_by=purchases.customer_id, order_by=purchases.timestamp)
    running = ibis.window(
        group_by=purchases.customer_id,
        order_by=purchases.timestamp,
        preceding=None,
        following=0,
    )
    purchases = purchases.mutate(
        prev_day=purchases.day.lag().over(in_order),
        spend_so_far=purchases.amount.sum().over(running),
    )
    first_of_day = purchases.prev_day.isnull() | (purchases.prev_day != purchases.day)
    no_float = ibis.null("float64")
    purchases = purchases.mutate(
        first_of_day=first_of_day,
        # on a day's first row: the previous purchase day, the gap to it, the spend before it
        prev_day=ibis.ifelse(first_of_day, purchases.prev_day, no_float),
        gap=ibis.ifelse(first_of_day, purchases.day - purchases.prev_day, no_float),
        spend_before_day=ibis.ifelse(
            first_of_day, purchases.spend_so_far - purchases.amount, no_float
        ),
    )
    return purchases.select(
        "customer_id",
        "timestamp",
        "ts",
        "amount",
        "day",
        "first_of_day",
        "prev_day",
        "gap",
        "spend_so_far",
        "spend_before_day",
    )


def _history_aggregates(rows: ir.Table, cut: ir.Table, cutoffs: Sequence[pd.Timestamp]) -> ir.Table:
    """All-history aggregates per (customer, cutoff), merged from disjoint intervals.

    Each row falls in one interval between consecutive cutoffs; its partial aggregates (counts,
    sums, spread around the interval's mean, extremes) are computed once per (customer,
    interval), then accumulated in interval order. A customer's running state after interval j
    is their state at every cutoff from the j-th up to their next interval with a purchase, so
    a join on that range gives one row per (customer, cutoff) with a purchase before the
    cutoff, without joining every row to every later cutoff.
    """
    n = len(cutoffs)
    rows = rows.mutate(j=_interval(rows.timestamp, cutoffs, 0, n))
    rows = rows.filter(rows.j < n)  # at or after the last cutoff: never used
    partial: dict[str, Any] = {
        "n_purchases": rows.amount.count(),
        "monetary_sum": rows.amount.sum(),
        "spend_spread": rows.amount.var(how="pop"),  # later: sum of squares around the mean
        "monetary_max": rows.amount.max(),
        "first_ts": rows.ts.min(),
        "last_ts": rows.ts.max(),
        "frequency": rows.first_of_day.cast("int64").sum(),
        "gap_count": rows.gap.count(),
        "gap_squares": (rows.gap * rows.gap).sum(),
        "gap_max_days": rows.gap.max(),
        # running spends only grow, so the largest values belong to the last purchase day
        "spend_through_last_day": rows.spend_so_far.max(),
        "spend_before_last_day": rows.spend_before_day.max(),
        # previous purchase days grow with the day, so the largest is the last day's
        "prev_last_day": rows.prev_day.max(),
    }
    state = rows.group_by(["customer_id", "j"]).aggregate(**partial)
    # Spend around one reference per customer (the mean of their first interval): its sum and
    # sum of squares add up across intervals without cancelling digits.
    mean = state.monetary_sum / state.n_purchases
    by_interval = ibis.window(group_by=state.customer_id, order_by=state.j)
    reference = mean.first().over(by_interval) if n > 1 else mean
    offset = mean - reference
    state = state.mutate(
        centred_sum=state.n_purchases * offset,
        centred_squares=state.spend_spread * state.n_purchases
        + state.n_purchases * offset * offset,
    ).drop("spend_spread")
    combine = {name: "sum" for name in state.columns if name not in ("customer_id", "j")}
    combine |= {"first_ts": "min"} | {
        name: "max"
        for name in (
            "monetary_max",
            "last_ts",
            "gap_max_days",
            "spend_through_last_day",
            "spend_before_last_day",
            "prev_last_day",
        )
    }
    joined = _accumulate(state, cut, n, combine)
    return joined.select("customer_id", "cutoff", "c_days", *combine)


def _accumulate(
    state: ir.Table, cut: ir.Table, n: int, combine: Mapping[str, str], keys: Sequence[str] = ()
) -> ir.Table:
    """Per-interval ``state`` (``j``) accumulated in interval order, joined to each cutoff.

    ``combine`` names each column's merge (``sum``, ``min``, ``max``); ``keys`` are grouping
    columns besides ``customer_id``. Row j's running state holds for cutoffs ``k`` from j up
    to the group's next interval.
    """
    group = [state.customer_id, *(state[key] for key in keys)]
    if n > 1:
        running = ibis.window(group_by=group, order_by=state.j, preceding=None, following=0)
        state = state.mutate(
            **{name: getattr(state[name], how)().over(running) for name, how in combine.items()},
            next_j=state.j.lead().over(ibis.window(group_by=group, order_by=state.j)).fill_null(n),
        )
    else:
        state = state.mutate(next_j=ibis.literal(n, "int64"))
    return state.join(cut, (state.j <= cut.k) & (cut.k < state.next_j))


def _category_counts(
    purchases: ir.Table, cut: ir.Table, cutoffs: Sequence[pd.Timestamp]
) -> ir.Table:
    """Distinct categories and the most bought category's count, before each cutoff.

    Counted per (customer, category, interval) and accumulated like the history aggregates.
    """
    n = len(cutoffs)
    purchases = purchases.filter(purchases.category.notnull())
    purchases = purchases.mutate(j=_interval(purchases.timestamp, cutoffs, 0, n))
    purchases = purchases.filter(purchases.j < n)
    per_category = purchases.group_by(["customer_id", "category", "j"]).aggregate(
        bought=purchases.count()
    )
    joined = _accumulate(per_category, cut, n, {"bought": "sum"}, keys=("category",))
    return joined.group_by(["customer_id", "cutoff"]).aggregate(
        category_count=joined.count(), top_category=joined.bought.max()
    )


def _interval(ts: ir.TimestampValue, cutoffs: Sequence[pd.Timestamp], lo: int, hi: int) -> Any:
    """How many of the sorted ``cutoffs`` are at or before ``ts``, by binary search.

    Assumes those before ``lo`` are and those from ``hi`` on are not; the expression's depth
    is the logarithm of the number of cutoffs.
    """
    if lo == hi:
        return ibis.literal(lo, "int64")
    mid = (lo + hi) // 2
    at = ibis.literal(cutoffs[mid].to_pydatetime(), "timestamp")
    return ibis.ifelse(
        ts < at, _interval(ts, cutoffs, lo, mid), _interval(ts, cutoffs, mid + 1, hi)
    )


def _window_aggregates(purchases: ir.Table, cut: ir.Table, config: FeatureConfig) -> ir.Table:
    """Counts and spend in the windows before each cutoff, and the active periods.

    Only purchases inside the longest window are joined to each cutoff (one day of slack; the
    aggregates filter exactly), so the join grows with the windows, not with all history. The
    active periods are bits of one integer per (customer, cutoff), counted afterwards. Reads
    the transactions on its own (no per-row window), so the engine streams them.
    """
    spans = _spans(config)
    periods = config.active_periods
    longest = max(*spans, periods * PERIOD_DAYS)
    purchases = purchases.select(
        "customer_id", "timestamp", "amount", ts=_days(purchases.timestamp)
    )
    cut = cut.mutate(window_start=cut.c_days - (longest + 1))
    joined = purchases.join(
        cut, (purchases.timestamp < cut.cutoff) & (purchases.ts >= cut.window_start)
    )
    c = joined.c_days
    # age in days before the cutoff; the day's age is a whole number >= 1
    age = c - joined.ts
    day_age = c - joined.ts.floor()
    period = ((day_age - 1) / PERIOD_DAYS).floor().cast("int64")
    one = ibis.literal(1, "int64")
    aggregates: dict[str, Any] = {
        "period_bits": (one << period).bit_or(where=day_age <= periods * PERIOD_DAYS),
    }
    for w in spans:
        aggregates[f"purchases_{w}d"] = joined.amount.count(where=(age <= w))
        aggregates[f"spend_{w}d"] = joined.amount.sum(where=(age <= w))
    agg = joined.group_by(["customer_id", "cutoff"]).aggregate(**aggregates)
    bits = agg.period_bits.fill_null(0)
    # 30-day periods counted back from the cutoff with a purchase: the bits that are set
    active = sum(((bits >> p) & 1 for p in range(1, periods)), start=bits & 1)
    return agg.mutate(active_months=active).drop("period_bits")

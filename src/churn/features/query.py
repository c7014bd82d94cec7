"""The feature query: one ibis expression over every cutoff, from rows before each cutoff."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa

from churn.errors import ConfigError
from churn.features.aggregates import (
    _accumulate,
    _category_counts,
    _days,
    _history_aggregates,
    _interval,
    _purchase_rows,
    _spans,
    _window_aggregates,
)
from churn.features.config import FeatureConfig, feature_docs
from churn.features.events import _with_event_features
from churn.features.finish import BTYD_HELPERS
from churn.purchases import POSITIVE, is_purchase

log = logging.getLogger(__name__)


def btyd_summary(
    transactions: ir.Table,
    cutoffs: Sequence[pd.Timestamp | str],
    *,
    purchase_rule: str = POSITIVE,
) -> ir.Table:
    """What :func:`fit_btyd` needs of every buyer at each cutoff, as a lazy query.

    ``customer_id``, ``cutoff``, ``frequency`` (purchase days), ``first_day``, ``last_day``,
    ``c_days``: the same numbers as the full feature query's, from a much smaller one. A day
    lies within one interval between cutoffs (cutoffs are midnights), so distinct days add up
    across them.
    """
    values = _cutoff_values(cutoffs)
    n = len(values)
    purchases = transactions.filter(is_purchase(transactions.amount, purchase_rule))
    purchases = purchases.select(
        "customer_id", j=_interval(purchases.timestamp, values, 0, n), ts=_days(purchases.timestamp)
    )
    purchases = purchases.filter(purchases.j < n)
    state = purchases.group_by(["customer_id", "j"]).aggregate(
        frequency=purchases.ts.floor().nunique(),
        first_ts=purchases.ts.min(),
        last_ts=purchases.ts.max(),
    )
    combine = {"frequency": "sum", "first_ts": "min", "last_ts": "max"}
    joined = _accumulate(state, _cutoff_table(values), n, combine)
    return joined.select(
        "customer_id",
        "cutoff",
        "c_days",
        frequency=joined.frequency.cast("int64"),
        first_day=joined.first_ts.floor().cast("float64"),
        last_day=joined.last_ts.floor().cast("float64"),
    )


def feature_query(
    transactions: ir.Table,
    cutoffs: Sequence[pd.Timestamp | str],
    config: FeatureConfig,
    *,
    events: ir.Table | None = None,
    active_within_days: int | None = None,
    purchase_rule: str = POSITIVE,
) -> ir.Table:
    """The features as a lazy ibis query, before the BG/NBD step and the final types.

    Besides the features it holds the helper columns the BG/NBD step needs (``c_days``,
    ``first_day``, ``last_day``, ``last_ts``). With BG/NBD on, the population filter is left
    to :func:`finish_features` (the model is fitted on every buyer). Used as it is by engines
    that keep the result distributed (Spark); :func:`build_features` collects it.
    """
    if not cutoffs:
        raise ConfigError("build_features: expected at least one cutoff; got none")
    values = _cutoff_values(cutoffs)
    cut = _cutoff_table(values)
    has_category = "category" in transactions.columns
    # BG/NBD is fitted on every buyer, so with it the population filter comes after the fit.
    sql_filter = None if config.btyd_enabled else active_within_days
    query = _transaction_features(
        transactions, cut, values, config, has_category, sql_filter, purchase_rule
    )
    if events is not None:
        query = _with_event_features(query, events, cut, config)
    # the features and the BG/NBD helpers only: fewer columns to sort and hand over
    docs = feature_docs(config, has_category=has_category, has_events=events is not None)
    features = [name for name in docs if not name.startswith("btyd_")]
    return query.select("customer_id", "cutoff", *features, *BTYD_HELPERS)


def _cutoff_values(cutoffs: Sequence[pd.Timestamp | str]) -> list[pd.Timestamp]:
    """The distinct cutoffs, sorted; each must be a date (midnight)."""
    values = sorted({pd.Timestamp(c) for c in cutoffs})
    for value in values:
        if value != value.normalize():
            raise ConfigError(f"build_features: cutoffs must be dates (midnight); got {value}")
    return values


def _cutoff_table(values: Sequence[pd.Timestamp]) -> ir.Table:
    """The cutoffs with their position ``k`` and their day number ``c_days``."""
    arr = pa.array([v.to_pydatetime() for v in values], pa.timestamp("us"))
    days = [(v - pd.Timestamp(0)) / pd.Timedelta(days=1) for v in values]
    return ibis.memtable(
        pa.table(
            {
                "cutoff": arr,
                "k": pa.array(range(len(values)), pa.int64()),
                "c_days": pa.array(days, pa.float64()),
            }
        )
    )


def _transaction_features(
    tx: ir.Table,
    cut: ir.Table,
    cutoffs: Sequence[pd.Timestamp],
    config: FeatureConfig,
    has_category: bool,
    active_within_days: int | None,
    purchase_rule: str,
) -> ir.Table:
    purchases = tx.filter(is_purchase(tx.amount, purchase_rule))
    rows = _purchase_rows(purchases)
    history = _history_aggregates(rows, cut, cutoffs)
    recent = _window_aggregates(purchases, cut, config)
    agg = history.left_join(
        recent, [history.customer_id == recent.customer_id, history.cutoff == recent.cutoff]
    ).select(history, *(recent[name] for name in recent.columns[2:]))
    t = config.trend_days
    spans = _spans(config)
    agg = agg.mutate(
        # no purchase in a window: no purchases and spend 0, not missing
        **{f"purchases_{w}d": agg[f"purchases_{w}d"].fill_null(0) for w in spans},
        **{f"spend_{w}d": agg[f"spend_{w}d"].fill_null(0.0) for w in spans},
        active_months=agg.active_months.fill_null(0),
    )
    agg = agg.mutate(
        # timestamps in days since the epoch: their whole part is their day
        first_day=agg.first_ts.floor().cast("float64"),
        last_day=agg.last_ts.floor().cast("float64"),
        # the trend's earlier period (t, 2t] as the difference of two windows
        trend_prev_n=agg[f"purchases_{2 * t}d"] - agg[f"purchases_{t}d"],
        trend_prev_spend=agg[f"spend_{2 * t}d"] - agg[f"spend_{t}d"],
    )
    if active_within_days is not None:
        agg = agg.filter(agg.c_days - agg.last_ts <= active_within_days)
    agg = _with_refunds(agg, tx, cut)
    if has_category:
        counts = _category_counts(purchases, cut, cutoffs)
        agg = agg.left_join(
            counts, [agg.customer_id == counts.customer_id, agg.cutoff == counts.cutoff]
        ).select(agg, counts.category_count, counts.top_category)
    return _derive(agg, config, has_category)


def _with_refunds(agg: ir.Table, tx: ir.Table, cut: ir.Table) -> ir.Table:
    """Refunded amount before each cutoff (refunds are few: aggregated on their own)."""
    refunds = tx.filter(tx.amount < 0)
    joined = refunds.join(cut, refunds.timestamp < cut.cutoff)
    refunded = joined.group_by(["customer_id", "cutoff"]).aggregate(refunded=-joined.amount.sum())
    return agg.left_join(
        refunded, [agg.customer_id == refunded.customer_id, agg.cutoff == refunded.cutoff]
    ).select(agg, refunded.refunded)


def _derive(agg: ir.Table, config: FeatureConfig, has_category: bool) -> ir.Table:
    """Features computed from the per-(customer, cutoff) aggregates."""
    t = config.trend_days
    recency = agg.c_days - agg.last_ts
    gap_mean = ibis.ifelse(
        agg.frequency > 1,
        (agg.last_day - agg.first_day) / (agg.frequency - 1),
        ibis.null("float64"),
    )
    derived: dict[str, Any] = {
        "monetary_std": _sample_std(agg.n_purchases, agg.centred_sum, agg.centred_squares),
        # the gaps are whole days and sum to last_day - first_day: their sums are exact
        "gap_std_days": _sample_std(agg.gap_count, agg.last_day - agg.first_day, agg.gap_squares),
        "recency_days": recency,
        "tenure_days": agg.c_days - agg.first_ts,
        "monetary_mean": agg.monetary_sum / agg.n_purchases,
        "gap_mean_days": gap_mean,
        "gap_last_days": agg.last_day - agg.prev_last_day,
        "last_amount": agg.spend_through_last_day - agg.spend_before_last_day.fill_null(0.0),
        "recency_gap_ratio": recency / gap_mean,
        f"purchase_trend_{t}d": (
            (agg[f"purchases_{t}d"] + 1).cast("float64") / (agg.trend_prev_n + 1)
        ).ln(),
        f"spend_trend_{t}d": ((agg[f"spend_{t}d"] + 1) / (agg.trend_prev_spend + 1)).ln(),
        # nothing spent (zero-value orders only, label.purchase_rule=non_negative): missing
        "refund_share": ibis.ifelse(
            agg.monetary_sum > 0, agg.refunded.fill_null(0.0) / agg.monetary_sum, None
        ),
        "lifecycle_stage": ibis.cases(
            (agg.c_days - agg.first_ts < config.new_days, "new"),
            (
                (recency > config.lapsing_min_days)
                & (gap_mean.isnull() | (recency > config.lapsing_gap_multiple * gap_mean)),
                "lapsing",
            ),
            else_="established",
        ),
    }
    if has_category:
        derived["top_category_share"] = agg.top_category / agg.n_purchases
    return agg.mutate(**derived)


def _sample_std(count: ir.IntegerValue, total: ir.FloatingValue, squares: ir.FloatingValue) -> Any:
    """The sample standard deviation from a count, a sum and a sum of squares (2+ values).

    ``(n * sum(x^2) - sum(x)^2) / (n (n - 1))``: with values centred on one of them (spend) or
    whole (gaps), the difference loses no meaningful digits; rounding below zero is clipped.
    """
    n = count.cast("float64")
    variance = (n * squares - total * total) / (n * (n - 1))
    return ibis.ifelse(count > 1, ibis.greatest(variance, 0.0).sqrt(), ibis.null("float64"))

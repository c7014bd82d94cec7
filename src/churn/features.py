"""Behavioural features per (customer, cutoff), strictly from rows before the cutoff.

Feature definitions are written once as ibis expressions, so the same code runs on DuckDB
(embedded, the default, out of core over Parquet) and on Spark. All cutoffs are computed in one
query, and nothing loops over customers in Python:

* per-row helpers that do not depend on the cutoff (the gap to the previous purchase day, the
  running spend) come from one window over each customer's purchases;
* all-history aggregates are computed once per (customer, interval between consecutive cutoffs)
  and accumulated in cutoff order, so no row is joined to every later cutoff;
* window counts and spend join only the rows inside the longest window to each cutoff.

The same :func:`build_features` serves training (many cutoffs) and scoring (one as-of date), so
the two can never disagree; :func:`feature_docs` documents every column.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from churn import btyd
from churn.errors import ConfigError, check_keys
from churn.files import atomic_file

log = logging.getLogger(__name__)

SECONDS_PER_DAY = 86_400.0
PERIOD_DAYS = 30
MAX_ACTIVE_PERIODS = 62
RESULT_BATCH_ROWS = 500_000


@dataclass(frozen=True)
class FeatureConfig:
    """Window lengths and switches of the feature set (``conf/features``)."""

    windows: tuple[int, ...] = (30, 90, 180, 365)
    trend_days: int = 90
    event_days: int = 90
    active_periods: int = 12
    new_days: int = 90
    lapsing_gap_multiple: float = 2.0
    lapsing_min_days: int = 60
    btyd_enabled: bool = True
    btyd_time_unit_days: float = 7.0
    btyd_penalizer: float = 0.001
    btyd_min_customers: int = 200

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> FeatureConfig:
        """Build from the ``features`` config node (nested ``lifecycle`` and ``btyd``)."""
        flat: dict[str, Any] = {}
        for key, value in values.items():
            if key in ("lifecycle", "btyd") and isinstance(value, Mapping):
                prefix = "btyd_" if key == "btyd" else ""
                flat.update({f"{prefix}{k}": v for k, v in value.items()})
            else:
                flat[key] = value
        known = {f.name for f in dataclasses.fields(cls)}
        check_keys("features", flat, known)
        if "windows" in flat:
            flat["windows"] = tuple(int(w) for w in flat["windows"])
        config = cls(**flat)
        config.validate()
        return config

    def validate(self) -> None:
        """Raise ConfigError when a window or threshold cannot work."""
        if not self.windows or min(self.windows) < 1 or len(set(self.windows)) != len(self.windows):
            raise ConfigError(
                f"features.windows: expected distinct positive day counts; got {list(self.windows)}"
            )
        counts = (
            "trend_days",
            "event_days",
            "active_periods",
            "new_days",
            "lapsing_min_days",
            "btyd_min_customers",
        )
        for name in counts:
            if getattr(self, name) < 1:
                raise ConfigError(f"features.{name}: expected >= 1; got {getattr(self, name)}")
        if self.active_periods > MAX_ACTIVE_PERIODS:
            raise ConfigError(
                f"features.active_periods: expected at most {MAX_ACTIVE_PERIODS} (one bit each "
                f"in a 64-bit integer); got {self.active_periods}"
            )
        if self.lapsing_gap_multiple <= 0 or self.btyd_time_unit_days <= 0:
            raise ConfigError(
                "features: lifecycle.lapsing_gap_multiple and btyd.time_unit_days must be > 0; "
                f"got {self.lapsing_gap_multiple}, {self.btyd_time_unit_days}"
            )


def feature_docs(
    config: FeatureConfig, *, has_category: bool = True, has_events: bool = True
) -> dict[str, tuple[str, str]]:
    """Every feature column: name -> (meaning, window), in output order."""
    t, e, p = config.trend_days, config.event_days, config.active_periods
    docs: dict[str, tuple[str, str]] = {
        "recency_days": ("days from the last purchase to the cutoff", "all history"),
        "tenure_days": ("days from the first purchase to the cutoff", "all history"),
        "frequency": ("days with a purchase", "all history"),
        "n_purchases": ("purchase transactions (amount > 0)", "all history"),
        "monetary_sum": ("total spend", "all history"),
        "monetary_mean": ("mean spend per purchase", "all history"),
        "monetary_std": ("standard deviation of spend per purchase (2+ purchases)", "all history"),
        "monetary_max": ("largest purchase", "all history"),
        "last_amount": ("spend on the last purchase day", "all history"),
    }
    for w in config.windows:
        docs[f"purchases_{w}d"] = (f"purchases in the last {w} days", f"[c-{w}d, c)")
        docs[f"spend_{w}d"] = (f"spend in the last {w} days", f"[c-{w}d, c)")
    docs |= {
        f"purchase_trend_{t}d": (
            f"log((purchases in the last {t} days + 1) / (purchases in the {t} days before + 1))",
            f"[c-{2 * t}d, c)",
        ),
        f"spend_trend_{t}d": (
            f"log((spend in the last {t} days + 1) / (spend in the {t} days before + 1))",
            f"[c-{2 * t}d, c)",
        ),
        "gap_mean_days": ("mean days between consecutive purchase days (2+ days)", "all history"),
        "gap_std_days": ("standard deviation of those gaps (3+ days)", "all history"),
        "gap_max_days": ("longest gap between purchase days", "all history"),
        "gap_last_days": ("gap before the last purchase day", "all history"),
        "recency_gap_ratio": ("recency_days / gap_mean_days: how overdue", "all history"),
        "active_months": (
            f"{PERIOD_DAYS}-day periods with a purchase, of the last {p}",
            f"[c-{p * PERIOD_DAYS}d, c)",
        ),
        "refund_share": ("refunded amount / purchased amount", "all history"),
    }
    if has_category:
        docs |= {
            "category_count": ("distinct categories bought", "all history"),
            "top_category_share": ("share of purchases in the most bought category", "all history"),
        }
    docs["lifecycle_stage"] = (
        f"new (tenure < {config.new_days}d), lapsing (recency > {config.lapsing_min_days}d and > "
        f"{config.lapsing_gap_multiple:g} x usual gap), else established",
        "all history",
    )
    if has_events:
        docs |= {
            f"complaints_{e}d": (f"complaints in the last {e} days", f"[c-{e}d, c)"),
            f"tickets_{e}d": (f"support tickets in the last {e} days", f"[c-{e}d, c)"),
            "last_nps": ("the latest NPS answer (0-10)", "all history"),
            "nps_detractor": ("1 when the latest NPS answer is 0-6, 0 when 7-10", "all history"),
        }
    if config.btyd_enabled:
        docs |= {
            "btyd_p_alive": ("BG/NBD probability the customer is still active", "all history"),
            "btyd_expected_purchases": (
                "BG/NBD expected purchase days in the horizon",
                "all history; fitted at the cutoff",
            ),
        }
    return docs


def build_features(
    transactions: ir.Table,
    cutoffs: Sequence[pd.Timestamp | str],
    config: FeatureConfig,
    *,
    events: ir.Table | None = None,
    horizon_days: int,
    active_within_days: int | None = None,
) -> pa.Table:
    """Features of every customer with a purchase before each cutoff.

    Args:
        transactions: validated transactions (contract columns) as an ibis table.
        cutoffs: the cutoff dates; features use rows with ``timestamp < cutoff`` only.
        config: windows and switches.
        events: optional validated events (``customer_id, timestamp, type, value``).
        horizon_days: the label horizon, for the BG/NBD expected purchases.
        active_within_days: keep only customers with a purchase in ``[c - this, c)``.

    Returns:
        One row per (customer, cutoff), sorted by cutoff then customer_id: ``customer_id``
        (string), ``cutoff`` (timestamp[us]) and the columns of :func:`feature_docs`, with stable
        types (float64 for measures, int64 for counts, string for ``lifecycle_stage``).
    """
    started = time.perf_counter()
    query = feature_query(
        transactions, cutoffs, config, events=events, active_within_days=active_within_days
    )
    schema, batches = _sorted_batches(query)
    table = pa.Table.from_batches(batches, schema=schema)
    log.info(
        "features: %d rows for %d cutoffs in %.2f s",
        table.num_rows,
        len(cutoffs),
        time.perf_counter() - started,
    )
    params = fit_btyd(table, config) if config.btyd_enabled else {}
    finish = _finisher(
        transactions,
        config,
        params,
        events=events,
        horizon_days=horizon_days,
        active_within_days=active_within_days,
    )
    return finish(table)


def write_features(
    transactions: ir.Table,
    cutoffs: Sequence[pd.Timestamp | str],
    config: FeatureConfig,
    path: str | os.PathLike[str],
    *,
    events: ir.Table | None = None,
    horizon_days: int,
    active_within_days: int | None = None,
    then: Callable[[pa.Table], pa.Table] | None = None,
) -> int:
    """:func:`build_features` written to one Parquet file, out of core; returns the row count.

    ``then``, when given, is applied to each finished batch before it is written (e.g. to add
    labels); it must keep the rows' order and give every batch the same columns.

    The engine sorts the rows and streams them in batches; each batch gets its BG/NBD columns
    and final types and is written at once, so memory stays at the engine's own (on DuckDB,
    capped by ``engine.memory_limit``, beyond which it spills to disk) plus one batch. With
    BG/NBD on, the model is first fitted at each cutoff from a small query of three numbers
    per buyer. The file is written atomically (a temporary file, then a rename).
    """
    started = time.perf_counter()
    params: dict[pd.Timestamp, btyd.BGNBDParams] = {}
    if config.btyd_enabled:
        params = fit_btyd(btyd_summary(transactions, cutoffs).to_pyarrow(), config)
    query = feature_query(
        transactions, cutoffs, config, events=events, active_within_days=active_within_days
    )
    schema, batches = _sorted_batches(query)
    finish_batch = _finisher(
        transactions,
        config,
        params,
        events=events,
        horizon_days=horizon_days,
        active_within_days=active_within_days,
    )

    def finish(table: pa.Table) -> pa.Table:
        done = finish_batch(table)
        return done if then is None else then(done)

    rows = 0
    final = finish(schema.empty_table()).schema
    with atomic_file(path) as tmp, pq.ParquetWriter(tmp, final) as writer:
        for batch in batches:
            done = finish(pa.Table.from_batches([batch], schema=schema))
            writer.write_table(done)
            rows += done.num_rows
    log.info(
        "features: wrote %d rows for %d cutoffs to %s in %.2f s",
        rows,
        len(cutoffs),
        path,
        time.perf_counter() - started,
    )
    return rows


def _finisher(
    transactions: ir.Table,
    config: FeatureConfig,
    params: Mapping[pd.Timestamp, btyd.BGNBDParams],
    *,
    events: ir.Table | None,
    horizon_days: int,
    active_within_days: int | None,
) -> Callable[[pa.Table], pa.Table]:
    """:func:`finish_features` for rows of this input's query, with the fitted ``params``."""
    has_category = "category" in transactions.columns
    has_events = events is not None

    def finish(table: pa.Table) -> pa.Table:
        return finish_features(
            table,
            config,
            params=params,
            horizon_days=horizon_days,
            active_within_days=active_within_days,
            has_category=has_category,
            has_events=has_events,
        )

    return finish


def btyd_summary(transactions: ir.Table, cutoffs: Sequence[pd.Timestamp | str]) -> ir.Table:
    """What :func:`fit_btyd` needs of every buyer at each cutoff, as a lazy query.

    ``cutoff``, ``frequency`` (purchase days), ``first_day``, ``last_day``, ``c_days``: the
    same numbers as the full feature query's, from a much smaller one. A day lies within one
    interval between cutoffs (cutoffs are midnights), so distinct days add up across them.
    """
    values = _cutoff_values(cutoffs)
    n = len(values)
    purchases = transactions.filter(transactions.amount > 0)
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
        "cutoff",
        "c_days",
        frequency=joined.frequency.cast("int64"),
        first_day=joined.first_ts.floor().cast("float64"),
        last_day=joined.last_ts.floor().cast("float64"),
    )


def _sorted_batches(query: ir.Table) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
    """The query's rows sorted by cutoff then customer, as batches of the query's types.

    Streamed: the engine never hands over a second, converted copy of the whole result.
    """
    ordered = query.order_by(["cutoff", "customer_id"])
    schema = ordered.schema().to_pyarrow()
    reader = ordered.to_pyarrow_batches(chunk_size=RESULT_BATCH_ROWS)
    # each batch to the query's types (DuckDB sums integers into 128-bit decimals)
    return schema, (batch.cast(schema) for batch in reader)


def feature_query(
    transactions: ir.Table,
    cutoffs: Sequence[pd.Timestamp | str],
    config: FeatureConfig,
    *,
    events: ir.Table | None = None,
    active_within_days: int | None = None,
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
    query = _transaction_features(transactions, cut, values, config, has_category, sql_filter)
    if events is not None:
        query = _with_event_features(query, events, cut, config)
    # the features and the BG/NBD helpers only: fewer columns to sort and hand over
    docs = feature_docs(config, has_category=has_category, has_events=events is not None)
    features = [name for name in docs if not name.startswith("btyd_")]
    return query.select("customer_id", "cutoff", *features, *BTYD_HELPERS)


BTYD_HELPERS = ("c_days", "first_day", "last_day", "last_ts")


def finish_features(
    table: pa.Table,
    config: FeatureConfig,
    *,
    params: Mapping[pd.Timestamp, btyd.BGNBDParams],
    horizon_days: int,
    active_within_days: int | None,
    has_category: bool,
    has_events: bool,
) -> pa.Table:
    """Rows of :func:`feature_query` to final features: BG/NBD outputs, population, types.

    Works on any subset of the rows (e.g. one Spark partition) given the parameters fitted by
    :func:`fit_btyd` on all of them.
    """
    if config.btyd_enabled:
        keep = None
        if active_within_days is not None:
            recency = pc.subtract(table["c_days"], table["last_ts"])
            keep = pc.less_equal(recency, active_within_days).to_numpy(zero_copy_only=False)
        table = _with_btyd(table, config, horizon_days, params, score=keep)
        if keep is not None:
            table = table.filter(pa.array(keep))
    docs = feature_docs(config, has_category=has_category, has_events=has_events)
    return _finalise(table, docs)


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


def _days(ts: ir.TimestampValue) -> ir.FloatingValue:
    """A timestamp as (fractional) days since the epoch."""
    return ts.epoch_seconds().cast("float64") / SECONDS_PER_DAY


def _transaction_features(
    tx: ir.Table,
    cut: ir.Table,
    cutoffs: Sequence[pd.Timestamp],
    config: FeatureConfig,
    has_category: bool,
    active_within_days: int | None,
) -> ir.Table:
    rows = _purchase_rows(tx)
    history = _history_aggregates(rows, cut, cutoffs)
    recent = _window_aggregates(tx, cut, config)
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
        counts = _category_counts(tx, cut, cutoffs)
        agg = agg.left_join(
            counts, [agg.customer_id == counts.customer_id, agg.cutoff == counts.cutoff]
        ).select(agg, counts.category_count, counts.top_category)
    return _derive(agg, config, has_category)


def _spans(config: FeatureConfig) -> list[int]:
    """Every window length counted: the windows and the trend's two periods."""
    return sorted({*config.windows, config.trend_days, 2 * config.trend_days})


def _purchase_rows(tx: ir.Table) -> ir.Table:
    """Purchases with the per-row helper columns that do not depend on the cutoff."""
    purchases = tx.filter(tx.amount > 0)
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


def _category_counts(tx: ir.Table, cut: ir.Table, cutoffs: Sequence[pd.Timestamp]) -> ir.Table:
    """Distinct categories and the most bought category's count, before each cutoff.

    Counted per (customer, category, interval) and accumulated like the history aggregates.
    """
    n = len(cutoffs)
    purchases = tx.filter((tx.amount > 0) & tx.category.notnull())
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


def _window_aggregates(tx: ir.Table, cut: ir.Table, config: FeatureConfig) -> ir.Table:
    """Counts and spend in the windows before each cutoff, and the active periods.

    Only purchases inside the longest window are joined to each cutoff (one day of slack; the
    aggregates filter exactly), so the join grows with the windows, not with all history. The
    active periods are bits of one integer per (customer, cutoff), counted afterwards. Reads
    the transactions on its own (no per-row window), so the engine streams them.
    """
    spans = _spans(config)
    periods = config.active_periods
    longest = max(*spans, periods * PERIOD_DAYS)
    purchases = tx.filter(tx.amount > 0)
    purchases = purchases.select("customer_id", "timestamp", "amount", ts=_days(tx.timestamp))
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
        "refund_share": agg.refunded.fill_null(0.0) / agg.monetary_sum,
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


def _with_event_features(
    features: ir.Table, events: ir.Table, cut: ir.Table, config: FeatureConfig
) -> ir.Table:
    ev = events.mutate(
        ts=_days(events.timestamp), is_nps=(events.type == "nps") & events.value.notnull()
    )
    # the latest answer before c is the one whose next answer comes at c or later
    by_kind = ibis.window(group_by=[ev.customer_id, ev.is_nps], order_by=[ev.timestamp, ev.value])
    ev = ev.mutate(next_ts=ev.timestamp.lead().over(by_kind))
    joined = ev.join(cut, ev.timestamp < cut.cutoff)
    recent = _days(joined.cutoff) - joined.ts <= config.event_days
    is_last_nps = joined.is_nps & (joined.next_ts.isnull() | (joined.next_ts >= joined.cutoff))
    e = config.event_days
    agg = joined.group_by(["customer_id", "cutoff"]).aggregate(
        **{
            f"complaints_{e}d": joined.ts.count(where=recent & (joined.type == "complaint")),
            f"tickets_{e}d": joined.ts.count(where=recent & (joined.type == "support_ticket")),
            "last_nps": joined.value.max(where=is_last_nps),
        }
    )
    out = features.left_join(
        agg, [features.customer_id == agg.customer_id, features.cutoff == agg.cutoff]
    ).select(features, agg[f"complaints_{e}d"], agg[f"tickets_{e}d"], agg.last_nps)
    return out.mutate(
        **{
            f"complaints_{e}d": out[f"complaints_{e}d"].fill_null(0),
            f"tickets_{e}d": out[f"tickets_{e}d"].fill_null(0),
            "nps_detractor": ibis.cases(
                (out.last_nps.isnull(), ibis.null("float64")),
                (out.last_nps <= 6, 1.0),
                else_=0.0,
            ),
        }
    )


def _summary(
    table: pa.Table, unit: float
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    """The BG/NBD per-customer summary: x repeat purchase days, t_x and T in ``unit`` days."""
    frame = table.select(["cutoff", "frequency", "first_day", "last_day", "c_days"]).to_pandas()
    x = frame["frequency"].to_numpy(dtype=float) - 1
    t_x = (frame["last_day"] - frame["first_day"]).to_numpy(dtype=float) / unit
    big_t = (frame["c_days"] - frame["first_day"]).to_numpy(dtype=float) / unit
    return frame, x, t_x, big_t


def fit_btyd(table: pa.Table, config: FeatureConfig) -> dict[pd.Timestamp, btyd.BGNBDParams]:
    """Fit BG/NBD at each cutoff on every buyer so far (the rows of :func:`feature_query`).

    The model's summary per customer: x repeat purchase days, t_x from the first to the last
    purchase day, T from the first purchase day to the cutoff, in ``time_unit_days``. A cutoff
    with too few buyers, or whose fit fails, gets no parameters (its columns stay empty).
    """
    frame, x, t_x, big_t = _summary(table, config.btyd_time_unit_days)
    fitted: dict[pd.Timestamp, btyd.BGNBDParams] = {}
    previous: btyd.BGNBDParams | None = None  # warm start: neighbouring cutoffs fit alike
    cutoff_codes = frame["cutoff"].to_numpy()
    for cutoff in np.unique(cutoff_codes):
        rows = cutoff_codes == cutoff
        day = pd.Timestamp(cutoff)
        buyers = int(rows.sum())
        if buyers < config.btyd_min_customers:
            log.warning(
                "BG/NBD at %s: %d buyers, fewer than features.btyd.min_customers=%d; "
                "btyd features left empty for this cutoff",
                day.date(),
                buyers,
                config.btyd_min_customers,
            )
            continue
        try:
            params = btyd.fit_bgnbd(
                x[rows],
                t_x[rows],
                big_t[rows],
                penalizer=config.btyd_penalizer,
                initial=previous,
            )
        except btyd.ConvergenceError as err:
            log.warning(
                "BG/NBD at %s: %s; btyd features left empty for this cutoff", day.date(), err
            )
            continue
        log.info("BG/NBD at %s on %d buyers: %s", day.date(), buyers, params)
        previous = params
        fitted[day] = params
    return fitted


def _with_btyd(
    table: pa.Table,
    config: FeatureConfig,
    horizon_days: int,
    params: Mapping[pd.Timestamp, btyd.BGNBDParams],
    *,
    score: np.ndarray | None,
) -> pa.Table:
    """Add P(alive) and expected purchases in the horizon with the fitted ``params``.

    Only the rows where ``score`` is true (all when None) get the model's outputs.
    """
    unit = config.btyd_time_unit_days
    frame, x, t_x, big_t = _summary(table, unit)
    p_alive = np.full(len(frame), np.nan)
    expected = np.full(len(frame), np.nan)
    cutoff_codes = frame["cutoff"].to_numpy()
    for cutoff in np.unique(cutoff_codes):
        fitted = params.get(pd.Timestamp(cutoff))
        if fitted is None:
            continue
        rows = cutoff_codes == cutoff
        if score is not None:
            rows &= score
        p_alive[rows] = btyd.p_alive(fitted, x[rows], t_x[rows], big_t[rows])
        expected[rows] = btyd.expected_purchases(
            fitted, horizon_days / unit, x[rows], t_x[rows], big_t[rows]
        )
    table = table.append_column("btyd_p_alive", pa.array(p_alive, pa.float64()))
    return table.append_column("btyd_expected_purchases", pa.array(expected, pa.float64()))


def _finalise(table: pa.Table, docs: Mapping[str, tuple[str, str]]) -> pa.Table:
    """Keep the documented columns in order, with stable types (rows come sorted)."""
    columns: dict[str, pa.Array] = {
        "customer_id": table["customer_id"].cast(pa.string()),
        "cutoff": table["cutoff"].cast(pa.timestamp("us")),
    }
    for name in docs:
        column = table[name]
        if name == "lifecycle_stage":
            columns[name] = column.cast(pa.string())
        elif name in _COUNT_COLUMNS or name.startswith(("purchases_", "complaints_", "tickets_")):
            columns[name] = pc.fill_null(column, 0).cast(pa.int64())
        else:
            columns[name] = column.cast(pa.float64())
    return pa.table(columns)


_COUNT_COLUMNS = frozenset({"frequency", "n_purchases", "active_months", "category_count"})


def is_float_feature(name: str) -> bool:
    """Whether a feature column is continuous (float64) rather than a count or a category."""
    return not (
        name in _COUNT_COLUMNS
        or name == "lifecycle_stage"
        or name.startswith(("purchases_", "complaints_", "tickets_"))
    )

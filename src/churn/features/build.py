"""Run the feature query and finish it: the features in memory, or written to Parquet in batches."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from churn import btyd
from churn.features.config import FeatureConfig
from churn.features.finish import finish_features, fit_btyd
from churn.features.query import btyd_summary, feature_query
from churn.files import atomic_file
from churn.progress import Progress
from churn.purchases import POSITIVE

log = logging.getLogger(__name__)

# Rows per batch streamed from the engine (bounds memory while finishing and writing).
RESULT_BATCH_ROWS = 500_000
# The columns of :func:`btyd_summary` that :func:`fit_btyd` reads.
_SUMMARY_COLUMNS = ("cutoff", "c_days", "frequency", "first_day", "last_day")


@dataclass(frozen=True)
class Subset:
    """Which rows to compute: every cutoff for the customers ``keeps`` selects, and only the
    ``full_cutoffs`` for the others (e.g. a training sample beside whole evaluation cutoffs).

    ``keeps`` maps the ``customer_id`` column to a boolean expression; it must depend on the
    customer id alone, so that a customer is on one side at every cutoff.
    """

    keeps: Callable[[ir.StringValue], ir.BooleanValue]
    full_cutoffs: tuple[pd.Timestamp, ...] = ()


def build_features(
    transactions: ir.Table,
    cutoffs: Sequence[pd.Timestamp | str],
    config: FeatureConfig,
    *,
    events: ir.Table | None = None,
    horizon_days: int,
    active_within_days: int | None = None,
    purchase_rule: str = POSITIVE,
    subset: Subset | None = None,
) -> pa.Table:
    """Features of every customer with a purchase before each cutoff.

    Args:
        transactions: validated transactions (contract columns) as an ibis table.
        cutoffs: the cutoff dates; features use rows with ``timestamp < cutoff`` only.
        config: windows and switches.
        events: optional validated events (``customer_id, timestamp, type, value``).
        horizon_days: the label horizon, for the BG/NBD expected purchases.
        active_within_days: keep only customers with a purchase in ``[c - this, c)``.
        purchase_rule: which amounts are purchases (:mod:`churn.purchases`).
        subset: when given, only its rows are computed (the others never enter the query);
            BG/NBD is still fitted at each cutoff on every buyer, from :func:`btyd_summary`,
            so a customer's row equals their row of the whole table.

    Returns:
        One row per (customer, cutoff), sorted by cutoff then customer_id: ``customer_id``
        (string), ``cutoff`` (timestamp[us]) and the columns of :func:`feature_docs`, with stable
        types (float64 for measures, int64 for counts, string for ``lifecycle_stage``).
    """
    started = time.perf_counter()
    params: dict[pd.Timestamp, btyd.BGNBDParams] = {}
    if config.btyd_enabled and subset is not None:
        params = _fit_on_every_buyer(transactions, cutoffs, config, purchase_rule=purchase_rule)
    query = _query(
        transactions,
        cutoffs,
        config,
        events=events,
        active_within_days=active_within_days,
        purchase_rule=purchase_rule,
        subset=subset,
    )
    schema, batches = _sorted_batches(query)
    table = pa.Table.from_batches(batches, schema=schema)
    log.info(
        "features: %d rows for %d cutoffs in %.2f s",
        table.num_rows,
        len(cutoffs),
        time.perf_counter() - started,
    )
    if config.btyd_enabled and subset is None:
        params = fit_btyd(table, config)
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
    purchase_rule: str = POSITIVE,
    then: Callable[[pa.Table], pa.Table] | None = None,
    subset: Subset | None = None,
) -> int:
    """:func:`build_features` written to one Parquet file, out of core; returns the row count.

    ``then``, when given, is applied to each finished batch before it is written (e.g. to add
    labels); it must keep the rows' order and give every batch the same columns.

    The engine sorts the rows and streams them in batches; each batch gets its BG/NBD columns
    and final types and is written at once, so memory stays at the engine's own (on DuckDB,
    capped by ``engine.memory_limit``, beyond which it spills to disk) plus one batch. With
    BG/NBD on, the model is first fitted at each cutoff from a small query of three numbers
    per buyer. The file is written atomically (a temporary file, then a rename). ``subset``
    restricts the rows as in :func:`build_features`.
    """
    started = time.perf_counter()
    params: dict[pd.Timestamp, btyd.BGNBDParams] = {}
    if config.btyd_enabled:
        params = _fit_on_every_buyer(transactions, cutoffs, config, purchase_rule=purchase_rule)
    query = _query(
        transactions,
        cutoffs,
        config,
        events=events,
        active_within_days=active_within_days,
        purchase_rule=purchase_rule,
        subset=subset,
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


def _fit_on_every_buyer(
    transactions: ir.Table,
    cutoffs: Sequence[pd.Timestamp | str],
    config: FeatureConfig,
    *,
    purchase_rule: str,
) -> dict[pd.Timestamp, btyd.BGNBDParams]:
    """:func:`fit_btyd` on every buyer's three numbers at each cutoff (a small query).

    The summary comes in the whole table's row order (cutoff, then customer), so the fit sees
    the same arrays in the same order as a fit on the whole table's rows.
    """
    summary = btyd_summary(transactions, cutoffs, purchase_rule=purchase_rule)
    ordered = summary.order_by(["cutoff", "customer_id"]).select(*_SUMMARY_COLUMNS)
    return fit_btyd(ordered.to_pyarrow(), config)


def _query(
    transactions: ir.Table,
    cutoffs: Sequence[pd.Timestamp | str],
    config: FeatureConfig,
    *,
    events: ir.Table | None,
    active_within_days: int | None,
    purchase_rule: str,
    subset: Subset | None,
) -> ir.Table:
    """:func:`feature_query`, or with ``subset`` the union of its two sides.

    The kept customers' rows come from a query over every cutoff with only their input rows,
    so they are computed exactly as in the whole table; the other customers' from a query over
    the full cutoffs only.
    """
    options: dict[str, Any] = {
        "active_within_days": active_within_days,
        "purchase_rule": purchase_rule,
    }
    if subset is None:
        return feature_query(transactions, cutoffs, config, events=events, **options)
    parts = [(True, cutoffs)] + ([(False, subset.full_cutoffs)] if subset.full_cutoffs else [])
    queries = []
    for keep, at in parts:
        tx = transactions.filter(_side(subset, transactions, keep=keep))
        ev = None if events is None else events.filter(_side(subset, events, keep=keep))
        queries.append(feature_query(tx, at, config, events=ev, **options))
    return queries[0] if len(queries) == 1 else queries[0].union(queries[1])


def _side(subset: Subset, table: ir.Table, *, keep: bool) -> ir.BooleanValue:
    """The rows of ``table`` whose customer is kept (or, with ``keep`` false, is not)."""
    kept = subset.keeps(table.customer_id)
    return kept if keep else ~kept


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


def _sorted_batches(query: ir.Table) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
    """The query's rows sorted by cutoff then customer, as batches of the query's types.

    Streamed: the engine never hands over a second, converted copy of the whole result.
    """
    ordered = query.order_by(["cutoff", "customer_id"])
    schema = ordered.schema().to_pyarrow()
    reader = ordered.to_pyarrow_batches(chunk_size=RESULT_BATCH_ROWS)

    def batches() -> Iterator[pa.RecordBatch]:
        # each batch to the query's types (DuckDB sums integers into 128-bit decimals)
        with Progress("feature batches", unit="rows") as progress:
            for batch in reader:
                yield batch.cast(schema)
                progress.update(batch.num_rows)

    return schema, batches()

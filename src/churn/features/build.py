"""Run the feature query and finish it: the features in memory, or written to Parquet in batches."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence

import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from churn import btyd
from churn.features.config import FeatureConfig
from churn.features.finish import finish_features, fit_btyd
from churn.features.query import btyd_summary, feature_query
from churn.files import atomic_file
from churn.purchases import POSITIVE

log = logging.getLogger(__name__)

# Rows per batch streamed from the engine (bounds memory while finishing and writing).
RESULT_BATCH_ROWS = 500_000


def build_features(
    transactions: ir.Table,
    cutoffs: Sequence[pd.Timestamp | str],
    config: FeatureConfig,
    *,
    events: ir.Table | None = None,
    horizon_days: int,
    active_within_days: int | None = None,
    purchase_rule: str = POSITIVE,
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

    Returns:
        One row per (customer, cutoff), sorted by cutoff then customer_id: ``customer_id``
        (string), ``cutoff`` (timestamp[us]) and the columns of :func:`feature_docs`, with stable
        types (float64 for measures, int64 for counts, string for ``lifecycle_stage``).
    """
    started = time.perf_counter()
    query = feature_query(
        transactions,
        cutoffs,
        config,
        events=events,
        active_within_days=active_within_days,
        purchase_rule=purchase_rule,
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
    purchase_rule: str = POSITIVE,
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
        summary = btyd_summary(transactions, cutoffs, purchase_rule=purchase_rule)
        params = fit_btyd(summary.to_pyarrow(), config)
    query = feature_query(
        transactions,
        cutoffs,
        config,
        events=events,
        active_within_days=active_within_days,
        purchase_rule=purchase_rule,
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


def _sorted_batches(query: ir.Table) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
    """The query's rows sorted by cutoff then customer, as batches of the query's types.

    Streamed: the engine never hands over a second, converted copy of the whole result.
    """
    ordered = query.order_by(["cutoff", "customer_id"])
    schema = ordered.schema().to_pyarrow()
    reader = ordered.to_pyarrow_batches(chunk_size=RESULT_BATCH_ROWS)
    # each batch to the query's types (DuckDB sums integers into 128-bit decimals)
    return schema, (batch.cast(schema) for batch in reader)

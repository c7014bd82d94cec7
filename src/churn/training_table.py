"""The labelled training table: features of the population at each cutoff with the churn label.

One row per (customer, cutoff) of the population (:mod:`churn.labels`), the features from
:mod:`churn.features` (strictly before the cutoff) and ``churned`` (0/1: no purchase in
``[c, c + H)``). :func:`build` returns it in memory; :func:`write` writes it to Parquet in batches;
:func:`schedule` registers a loaded dataset on an engine and lays out the labelled cutoffs.
With a :class:`churn.sampling.CustomerSample`, only the sampled customers' rows are computed at
the training cutoffs (the test and calibration cutoffs stay whole unless sampled too).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from churn import engine, sampling
from churn.data import Dataset
from churn.features import FeatureConfig, Subset, build_features, write_features
from churn.labels import LabelConfig, cutoff_schedule, data_end, label_outcomes

if TYPE_CHECKING:
    from churn.recipes import TrainConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Schedule:
    """The input registered on an engine, its data end and the labelled cutoffs (latest first)."""

    tables: engine.Tables
    end: pd.Timestamp
    cutoffs: list[pd.Timestamp]


def schedule(
    dataset: Dataset,
    label_config: LabelConfig,
    *,
    engine_config: Mapping[str, Any],
    end_date: str | None = None,
) -> Schedule:
    """Register ``dataset`` on the configured engine and lay out its labelled cutoffs."""
    con = engine.connect(engine_config)
    tables = engine.register(
        con, dataset.transactions, customers=dataset.customers, events=dataset.events
    )
    end = data_end(tables.transactions, end_date=end_date, purchase_rule=label_config.purchase_rule)
    cutoffs = cutoff_schedule(end, label_config)
    log.info(
        "data end %s; %d cutoffs %s .. %s; horizon %d days",
        end.date(),
        len(cutoffs),
        cutoffs[-1].date(),
        cutoffs[0].date(),
        label_config.horizon_days,
    )
    return Schedule(tables, end, cutoffs)


@dataclass(frozen=True)
class TrainingTable:
    """The labelled table and the training sample it was built for (None: every customer)."""

    table: pa.Table
    sample: sampling.CustomerSample | None


def build_for(
    planned: Schedule,
    feature_config: FeatureConfig,
    label_config: LabelConfig,
    *,
    settings: TrainConfig | None = None,
    seed: int = 0,
) -> TrainingTable:
    """:func:`build` over every cutoff of ``planned``, for the sample ``settings`` ask for.

    The sample (``settings.max_customers``, :func:`churn.sampling.plan_sample`) is drawn with
    ``seed`` before the features are computed, so only its rows enter the training cutoffs.
    """
    sample = None
    if settings is not None:
        sample = sampling.plan_sample(
            planned.tables.transactions,
            planned.cutoffs,
            label_config,
            end=planned.end,
            max_customers=settings.max_customers,
            max_rows=settings.max_rows,
            sample_evaluation=settings.sample_evaluation,
            min_class_rows=settings.min_class_rows,
            seed=seed,
        )
    table = build(
        planned.tables.transactions,
        planned.cutoffs,
        feature_config,
        label_config,
        end=planned.end,
        events=planned.tables.events,
        subset=None if sample is None else sample.subset(),
    )
    return TrainingTable(table, sample)


def write_for(
    planned: Schedule,
    feature_config: FeatureConfig,
    label_config: LabelConfig,
    path: str | os.PathLike[str],
) -> int:
    """:func:`write` over every cutoff of ``planned``; returns the row count."""
    return write(
        planned.tables.transactions,
        planned.cutoffs,
        feature_config,
        label_config,
        path,
        end=planned.end,
        events=planned.tables.events,
    )


def build(
    transactions: ir.Table,
    cutoffs: Sequence[pd.Timestamp],
    feature_config: FeatureConfig,
    label_config: LabelConfig,
    *,
    end: pd.Timestamp,
    events: ir.Table | None = None,
    subset: Subset | None = None,
) -> pa.Table:
    """Features of the population at each cutoff with the churn label ``churned`` (0/1).

    Rows are sorted by cutoff then customer_id; ``churned`` is 1 when the customer made no
    purchase in ``[c, c + H)``. With ``subset``, only its rows (:class:`churn.features.Subset`).
    """
    stayed = _stayed(transactions, cutoffs, label_config, end=end, subset=subset)
    features = build_features(
        transactions,
        cutoffs,
        feature_config,
        events=events,
        horizon_days=label_config.horizon_days,
        active_within_days=label_config.active_within_days,
        purchase_rule=label_config.purchase_rule,
        subset=subset,
    )
    table = _with_labels(features, stayed)
    log_churn_shares(table)
    return table


def write(
    transactions: ir.Table,
    cutoffs: Sequence[pd.Timestamp],
    feature_config: FeatureConfig,
    label_config: LabelConfig,
    path: str | os.PathLike[str],
    *,
    end: pd.Timestamp,
    events: ir.Table | None = None,
) -> int:
    """:func:`build` written to one Parquet file out of core; returns the row count.

    The features come in batches (:func:`churn.features.write_features`), each labelled and
    written at once; only the (customer, cutoff) pairs who stayed are held in memory.
    """
    stayed = label_outcomes(
        transactions,
        cutoffs,
        horizon_days=label_config.horizon_days,
        end=end,
        purchase_rule=label_config.purchase_rule,
    )
    return write_features(
        transactions,
        cutoffs,
        feature_config,
        path,
        events=events,
        horizon_days=label_config.horizon_days,
        active_within_days=label_config.active_within_days,
        purchase_rule=label_config.purchase_rule,
        then=lambda batch: _with_labels(batch, stayed),
    )


def _stayed(
    transactions: ir.Table,
    cutoffs: Sequence[pd.Timestamp],
    label_config: LabelConfig,
    *,
    end: pd.Timestamp,
    subset: Subset | None,
) -> pa.Table:
    """The (customer, cutoff) pairs who stayed, for the rows of ``subset`` only when given."""
    options: dict[str, Any] = {
        "horizon_days": label_config.horizon_days,
        "end": end,
        "purchase_rule": label_config.purchase_rule,
    }
    if subset is None:
        return label_outcomes(transactions, cutoffs, **options)
    kept = subset.keeps(transactions.customer_id)
    parts = [label_outcomes(transactions.filter(kept), cutoffs, **options)]
    if subset.full_cutoffs:
        parts.append(label_outcomes(transactions.filter(~kept), subset.full_cutoffs, **options))
    return pa.concat_tables(parts)


def _with_labels(features: pa.Table, stayed: pa.Table) -> pa.Table:
    """``features`` (sorted by cutoff, customer) with ``churned``: 0 for the pairs in ``stayed``."""
    flags = stayed.append_column("stayed", pa.array([True] * stayed.num_rows, pa.bool_()))
    joined = features.join(flags, keys=["customer_id", "cutoff"], join_type="left outer")
    churned = pc.if_else(pc.is_null(joined["stayed"]), 1, 0).cast(pa.int64())
    table = joined.drop_columns(["stayed"]).append_column("churned", churned)
    return table.sort_by([("cutoff", "ascending"), ("customer_id", "ascending")])


def log_churn_shares(table: pa.Table) -> None:
    """Log each cutoff's population and churn share (``cutoff`` and ``churned`` columns)."""
    shares = table.group_by("cutoff").aggregate([("churned", "mean"), ("churned", "count")])
    rows = shares.sort_by("cutoff").to_pylist()
    for row in rows:
        log.debug(
            "cutoff %s: %d customers, churn share %.3f",
            pd.Timestamp(row["cutoff"]).date(),
            row["churned_count"],
            row["churned_mean"],
        )
    if rows:
        share = [r["churned_mean"] for r in rows]
        log.info(
            "%d cutoffs %s..%s: %d to %d customers, churn share %.3f to %.3f "
            "(first %.3f, last %.3f)",
            len(rows),
            pd.Timestamp(rows[0]["cutoff"]).date(),
            pd.Timestamp(rows[-1]["cutoff"]).date(),
            min(r["churned_count"] for r in rows),
            max(r["churned_count"] for r in rows),
            min(share),
            max(share),
            share[0],
            share[-1],
        )


def churn_share(path: str | os.PathLike[str]) -> float:
    """The churn share of a written table (NaN when empty), after logging it per cutoff."""
    labelled = pq.read_table(path, columns=["cutoff", "churned"])
    log_churn_shares(labelled)
    churned = labelled["churned"].to_numpy()
    share = float(churned.mean()) if len(churned) else float("nan")
    log.info("%s: %d columns, churn share %.3f", path, len(pq.read_schema(path)), share)
    return share

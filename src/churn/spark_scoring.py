"""Scoring on Apache Spark: the bundle's model applied to feature rows partition by partition.

:func:`features_on_spark` builds the features at the as-of date as a Spark DataFrame without
collecting them. The verified model is broadcast to the executors and applied with
``mapInPandas``, one Arrow batch at a time, with the same functions as :mod:`churn.scoring`:
the population rule, the calibrated probability, threshold tiers, value and the SHAP reasons of
the at-risk customers. The at-risk list is written as Parquet partitioned by risk tier. Offers
are not planned here: their budget is global, so :func:`churn.offers.assign_offers` runs on the
(much smaller) at-risk list afterwards.
"""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from churn import offers, scoring
from churn.errors import BundleError, ConfigError
from churn.features import FeatureConfig, feature_query, finish_features, fit_btyd

log = logging.getLogger(__name__)

OUTPUT_COLUMNS = [
    ("customer_id", "string"),
    ("status", "string"),
    ("churn_probability", "double"),
    ("risk_tier", "string"),
    ("lifecycle_stage", "string"),
    ("value", "double"),
    ("value_at_risk", "double"),
    ("reason_1", "string"),
    ("reason_2", "string"),
    ("reason_3", "string"),
]


def score_batch(
    batch: pd.DataFrame,
    model: Any,
    names: list[str],
    *,
    dtypes: Mapping[str, str],
    tiers: scoring.TierConfig,
    horizon_days: int,
    active_within_days: int | None,
    margin: float,
) -> pd.DataFrame:
    """Score one batch of feature rows (buyers): status, probability, tier, value, reasons."""
    frame = batch.astype({k: v for k, v in dtypes.items() if k in batch.columns}).reset_index(
        drop=True
    )
    scored = (
        np.ones(len(frame), dtype=bool)
        if active_within_days is None
        else frame["recency_days"].to_numpy() <= active_within_days
    )
    probability = np.full(len(frame), np.nan)
    tier = pd.Series(pd.NA, index=frame.index, dtype="string")
    if scored.any():
        population = frame[scored]
        p = model.predict_proba(population[names])[:, 1]
        probability[scored] = p
        tier[scored] = scoring.assign_tiers(p, tiers).to_numpy()
    value = offers.customer_value(
        frame["monetary_sum"], frame["tenure_days"], horizon_days=horizon_days, margin=margin
    ).to_numpy()
    out = pd.DataFrame(
        {
            "customer_id": frame["customer_id"].astype(str),
            "status": np.where(scored, "scored", "lapsed"),
            "churn_probability": probability,
            "risk_tier": tier,
            "lifecycle_stage": frame["lifecycle_stage"].astype("string"),
            "value": value,
            "value_at_risk": np.where(scored, probability * value, np.nan),
        }
    )
    explain = (scored & tier.isin(tiers.at_risk).fillna(False).to_numpy(dtype=bool)).astype(bool)
    reasons = scoring.explain(model, frame[explain], names, batch_size=max(1, int(explain.sum())))
    for column in ("reason_1", "reason_2", "reason_3"):
        values = pd.Series(pd.NA, index=frame.index, dtype="string")
        if column in reasons:
            values[explain] = reasons[column].to_numpy()
        out[column] = values
    return out


Finish = Callable[[pd.DataFrame], pd.DataFrame]


def features_on_spark(
    con: Any,
    transactions: Any,
    as_of: pd.Timestamp,
    config: FeatureConfig,
    *,
    events: Any = None,
    horizon_days: int,
) -> tuple[Any, Finish]:
    """Every buyer's features at ``as_of`` as a Spark DataFrame, without collecting them.

    The feature query runs on Spark and stays there; only BG/NBD's per-customer summary (three
    numbers a customer) is collected to fit the model on the driver. The returned ``finish``
    turns a pandas batch of the query's rows into final features (BG/NBD outputs and types),
    for :func:`score_on_spark` to apply in each partition.

    Args:
        con: an ibis PySpark backend (``churn.engine.connect`` with ``engine=spark``).
        transactions: the transactions as an ibis table of that backend.
        as_of: the as-of date.
        config: the bundle's feature config.
        events: the events table, when the model uses event features.
        horizon_days: the label horizon (BG/NBD expected purchases).
    """
    query = feature_query(transactions, [as_of], config, events=events)
    params: dict[pd.Timestamp, Any] = {}
    if config.btyd_enabled:
        summary = query.select("cutoff", "frequency", "first_day", "last_day", "c_days")
        params = fit_btyd(summary.to_pyarrow(), config)
    con._run_pre_execute_hooks(query)  # registers the cutoffs table with the session
    frame = con._session.sql(con.compile(query))
    # plain values only: the closure is shipped to the executors (no ibis or Spark objects)
    has_category = "category" in transactions.columns
    has_events = events is not None

    def finish(batch: pd.DataFrame) -> pd.DataFrame:
        table = pa.Table.from_pandas(batch, preserve_index=False)
        done = finish_features(
            table,
            config,
            params=params,
            horizon_days=horizon_days,
            active_within_days=None,
            has_category=has_category,
            has_events=has_events,
        )
        return done.to_pandas()

    return frame, finish


def score_on_spark(
    features: Any,
    model: Any,
    manifest: Mapping[str, Any],
    *,
    tiers: scoring.TierConfig,
    margin: float,
    output: str | os.PathLike[str],
    finish: Finish | None = None,
) -> Any:
    """Score a Spark DataFrame of features and write the at-risk list (partitioned Parquet).

    Args:
        features: a ``pyspark.sql.DataFrame`` of :func:`churn.features.build_features` rows at
            one as-of date (every buyer).
        model: the bundle's verified model.
        manifest: the bundle's manifest (features, horizon, training config).
        tiers: risk tiers; only ``thresholds`` (a rank needs the whole population at once).
        margin: value = margin x expected spend over the horizon.
        output: folder for the at-risk list, ``risk_tier=<tier>/part-*.parquet``; replaced as a
            whole (written beside it, then renamed).

    Returns:
        The scored Spark DataFrame (every buyer, lazily evaluated).
    """
    if tiers.method != "thresholds":
        raise ConfigError("score on Spark: tiers.method must be thresholds (quantiles need a rank)")
    expected = {f["name"]: str(f["dtype"]) for f in manifest.get("features", [])}
    missing = [name for name in expected if name not in features.columns]
    if finish is not None:
        missing = []  # the features are finished in each partition, then checked there
    if missing:
        raise BundleError(f"feature schema mismatch: the Spark features lack {missing}")
    names = list(expected)
    label = manifest.get("config", {}).get("label", {})
    horizon = int(manifest["horizon_days"])
    active = label.get("active_within_days")
    dtypes = {k: ("string" if v in ("str", "string", "object") else v) for k, v in expected.items()}
    session = features.sparkSession
    shared = session.sparkContext.broadcast(model)
    schema = ", ".join(f"{name} {kind}" for name, kind in OUTPUT_COLUMNS)

    def apply(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for raw in batches:
            batch = raw if finish is None else finish(raw)
            absent = [name for name in names if name not in batch.columns]
            if absent:
                raise BundleError(f"feature schema mismatch: the features lack {absent}")
            yield score_batch(
                batch,
                shared.value,
                names,
                dtypes=dtypes,
                tiers=tiers,
                horizon_days=horizon,
                active_within_days=active,
                margin=margin,
            )

    source = features if finish is not None else features.select("customer_id", *names)
    scored = source.mapInPandas(apply, schema)
    at_risk = scored.filter(scored.risk_tier.isin(list(tiers.at_risk)))
    final = Path(output)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".{final.name}.{uuid.uuid4().hex}.tmp"
    try:
        at_risk.write.partitionBy("risk_tier").parquet(str(tmp))
        old = final.parent / f".{final.name}.{uuid.uuid4().hex}.old"
        if final.exists():
            os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("spark: at-risk list written to %s (partitioned by risk_tier)", final)
    return scored

"""Scoring on Apache Spark: the bundle's model applied to feature rows partition by partition.

:func:`features_on_spark` builds the features at the as-of date as a Spark DataFrame without
collecting them. The verified model is broadcast to the executors and applied with
``mapInPandas``, one Arrow batch at a time, with the same functions as :mod:`churn.scoring`:
the population rule, the calibrated probability, threshold tiers, value and the SHAP reasons of
the at-risk customers. For ``value.method=clv`` the four columns the value fit needs
(:data:`churn.value.COLUMNS`) of every buyer are collected and the fit runs on the driver, as
BG/NBD's at the feature step; the fitted model goes to the executors with the closure.
The at-risk list is written as Parquet partitioned by risk tier. Offers are not planned here:
their budget is global, so :func:`churn.offers.assign_offers` runs on the (much smaller) at-risk
list afterwards.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import uuid
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from churn import monitoring, offers, value
from churn.bundle import Manifest
from churn.errors import BundleError, ConfigError
from churn.features import FeatureConfig, feature_query, finish_features, fit_btyd
from churn.purchases import POSITIVE
from churn.scoring.local import drift_of, plan_offers
from churn.scoring.predict import explain
from churn.scoring.rows import (
    CONTACT_COLUMNS,
    SCORE_COLUMNS,
    TALLY_COLUMNS,
    at_risk_list,
    buyer_rows,
    in_population,
    signup_rows,
    signup_value,
    summary,
    tally,
)
from churn.scoring.settings import ScoreConfig, ScoringOutcome
from churn.scoring.tiers import TierConfig

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
    ("eligible", "boolean"),
]


def score_batch(
    batch: pd.DataFrame,
    model: Any,
    names: list[str],
    *,
    dtypes: Mapping[str, str],
    tiers: TierConfig,
    active_within_days: int | None,
    value_model: value.ValueModel,
    offer_config: offers.OfferConfig | None = None,
) -> pd.DataFrame:
    """Score one batch of feature rows (buyers): status, probability, tier, value, reasons.

    With ``offer_config``, ``eligible`` flags the customers some offer could go to, and they
    get reasons too: the driver plans offers on the at-risk and eligible rows only.
    """
    frame = batch.astype({k: v for k, v in dtypes.items() if k in batch.columns}).reset_index(
        drop=True
    )
    scored = in_population(frame, active_within_days)
    p = model.predict_proba(frame[scored][names])[:, 1] if scored.any() else np.array([])
    out = buyer_rows(frame, scored, p, tiers=tiers, value_model=value_model)
    eligible = np.zeros(len(frame), dtype=bool)
    if offer_config is not None:
        # offers needing a customer attribute are checked again on the driver, with it
        catalog = [dataclasses.replace(o, requires_attribute=None) for o in offer_config.catalog]
        for offer in catalog:
            eligible |= offers.eligibility(out, offer)
    out["eligible"] = eligible
    at_risk = out["risk_tier"].isin(tiers.at_risk).fillna(False).to_numpy(dtype=bool)
    explained = (scored & (at_risk | eligible)).astype(bool)
    reasons = explain(model, frame[explained], names, batch_size=max(1, int(explained.sum())))
    for column in ("reason_1", "reason_2", "reason_3"):
        values = pd.Series(pd.NA, index=frame.index, dtype="string")
        if column in reasons:
            values[explained] = reasons[column].to_numpy()
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
    purchase_rule: str = POSITIVE,
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
        purchase_rule: which amounts are purchases (the bundle's ``label.purchase_rule``).
    """
    query = feature_query(transactions, [as_of], config, events=events, purchase_rule=purchase_rule)
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
    manifest: Manifest,
    *,
    tiers: TierConfig,
    margin: float,
    output: str | os.PathLike[str] | None = None,
    finish: Finish | None = None,
    offer_config: offers.OfferConfig | None = None,
    value_model: value.ValueModel | None = None,
) -> Any:
    """Score a Spark DataFrame of features and write the at-risk list (partitioned Parquet).

    Args:
        features: a ``pyspark.sql.DataFrame`` of :func:`churn.features.build_features` rows at
            one as-of date (every buyer).
        model: the bundle's verified model.
        manifest: the bundle's manifest (features, horizon, training config).
        tiers: risk tiers; only ``thresholds`` (a rank needs the whole population at once).
        margin: value = margin x expected spend over the horizon.
        output: when given, the at-risk list is written there,
            ``risk_tier=<tier>/part-*.parquet``, replacing the folder as a whole.
        finish: turns raw rows of :func:`features_on_spark` into features, per batch.
        offer_config: adds the ``eligible`` column (see :func:`score_batch`).
        value_model: how values are computed (:func:`spark_value_model`); by default the
            heuristic with ``margin`` over the model's horizon.

    Returns:
        The scored Spark DataFrame (every buyer, lazily evaluated).
    """
    if tiers.method != "thresholds":
        raise ConfigError("score on Spark: tiers.method must be thresholds (quantiles need a rank)")
    expected = {f.name: f.dtype for f in manifest.features}
    missing = [name for name in expected if name not in features.columns]
    if finish is not None:
        missing = []  # the features are finished in each partition, then checked there
    if missing:
        raise BundleError(f"feature schema mismatch: the Spark features lack {missing}")
    names = list(expected)
    if value_model is None:
        value_model = value.heuristic_model(
            value.ValueConfig(margin=margin), horizon_days=manifest.horizon_days
        )
    active = manifest.training.active_within_days
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
                active_within_days=active,
                value_model=value_model,
                offer_config=offer_config,
            )

    source = features if finish is not None else features.select("customer_id", *names)
    scored = source.mapInPandas(apply, schema)
    if output is not None:
        write_partitioned(
            scored.filter(scored.risk_tier.isin(list(tiers.at_risk))), output, by="risk_tier"
        )
    return scored


def spark_value_model(
    features: Any, config: value.ValueConfig, manifest: Manifest
) -> value.ValueModel:
    """The value model of a Spark scoring run, fitted on the driver.

    For ``clv`` only the columns the fit needs (four numbers a buyer) are collected from
    ``features`` (every buyer's rows, raw or finished: both hold them).
    """
    if config.method == "heuristic":
        return value.heuristic_model(config, horizon_days=manifest.horizon_days)
    summary = features.select(*value.COLUMNS).toPandas()
    return value.fit_value(
        summary, config, horizon_days=manifest.horizon_days, features=manifest.training.features
    )


def write_partitioned(frame: Any, output: str | os.PathLike[str], *, by: str | None) -> Path:
    """Write a Spark DataFrame as Parquet (partitioned by ``by``), replacing ``output`` whole.

    Spark writes beside the target; the folder is then renamed into place (local file systems).
    """
    final = Path(output)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".{final.name}.{uuid.uuid4().hex}.tmp"
    try:
        writer = frame.write.partitionBy(by) if by else frame.write
        writer.parquet(str(tmp))
        old = final.parent / f".{final.name}.{uuid.uuid4().hex}.old"
        if final.exists():
            os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("spark: wrote %s%s", final, f" (partitioned by {by})" if by else "")
    return final


def score_distributed(
    features: Any,
    finish: Finish,
    model: Any,
    manifest: Manifest,
    *,
    settings: ScoreConfig,
    tiers: TierConfig,
    offer_config: offers.OfferConfig,
    thresholds: monitoring.DriftConfig,
    no_purchase: Sequence[str] = (),
    attributes: pd.DataFrame | None = None,
    suppressed: Collection[str] = (),
    cooled: Collection[str] = (),
    earlier: Mapping[str, str] | None = None,
    drift_rows: int = 100_000,
    value_config: value.ValueConfig | None = None,
) -> tuple[ScoringOutcome, Any, pd.DataFrame]:
    """Score on Spark, then plan offers on the driver over the rows that can get one.

    Every buyer is scored on the cluster (:func:`score_on_spark`); only the at-risk and
    offer-eligible rows, and a sample of ``drift_rows`` feature rows for the drift check, come
    to the driver. Returns the outcome (its ``scores`` are empty: the scored Spark DataFrame,
    returned too and cached, holds them) and the driver's score rows for :func:`write_scores`:
    the sign-ups who never bought, and the contact columns of every buyer the plan touched.
    """
    config = value_config or value.ValueConfig(margin=offer_config.margin)
    value_model = spark_value_model(features, config, manifest)
    scored = score_on_spark(
        features,
        model,
        manifest,
        tiers=tiers,
        margin=offer_config.margin,
        finish=finish,
        offer_config=offer_config,
        value_model=value_model,
    ).persist()
    buyers = scored.count()
    candidates = scored.filter(
        scored.eligible | scored.risk_tier.isin(list(tiers.at_risk))
    ).toPandas()
    log.info("spark: %d buyers scored; %d at-risk or offer-eligible", buyers, len(candidates))
    newcomers = sorted(set(map(str, no_purchase)) - set(candidates["customer_id"]))
    new_values = scored.filter(scored.lifecycle_stage == "new").select("value").toPandas()
    extra = signup_rows(newcomers, value=signup_value(new_values["value"].to_numpy()))
    customers = pd.concat([candidates.drop(columns="eligible"), extra], ignore_index=True).astype(
        {"status": "string", "risk_tier": "string", "lifecycle_stage": "string"}
    )
    customers.insert(1, "as_of", settings.as_of)
    customers, on_list, assignment = plan_offers(
        customers,
        settings=settings,
        tiers=tiers,
        offer_config=offer_config,
        attributes=attributes,
        suppressed=suppressed,
        cooled=cooled,
        earlier=earlier,
    )
    at_risk = at_risk_list(customers[on_list])

    fraction = min(1.0, drift_rows / max(buyers, 1))
    sample = features.sample(fraction=fraction, seed=settings.seed) if fraction < 1 else features
    drift = drift_of(
        finish(sample.toPandas()), model, manifest, settings=settings, thresholds=thresholds
    )
    counts = summary(_spark_tally(scored, extra), at_risk, assignment, offer_config)
    empty = pd.DataFrame(columns=SCORE_COLUMNS)
    touched = (
        (customers["contact_status"] != "no_offer")
        | customers["earlier_campaign"].notna()
        | (customers["assignment_probability"] != 1.0)
    )
    driver_rows = customers[touched.to_numpy(dtype=bool) | customers["status"].eq("no_purchase")]
    outcome = ScoringOutcome(empty, at_risk, drift, assignment, counts, value_model.to_dict())
    return outcome, scored, driver_rows


def _spark_tally(scored: Any, signups: pd.DataFrame) -> pd.DataFrame:
    """:func:`churn.scoring.rows.tally` of the Spark scores, with the sign-ups' rows added."""
    from pyspark.sql import functions as F  # noqa: N812 - Spark's own convention

    grouped = scored.groupBy("status", "risk_tier").agg(
        F.count("*").alias("customers"), F.sum("value_at_risk").alias("value_at_risk")
    )
    frame = grouped.toPandas().astype({"status": "string", "risk_tier": "string"})
    frame = pd.concat([frame, tally(signups)], ignore_index=True) if len(signups) else frame
    return frame[TALLY_COLUMNS]


def write_scores(
    scored: Any, folder: Path, *, as_of: pd.Timestamp, driver_rows: pd.DataFrame
) -> None:
    """Every customer's scores as a Parquet dataset ``folder/scores`` (Spark parts + sign-ups).

    ``driver_rows`` (from :func:`score_distributed`) give the contact columns of the buyers the
    plan touched, joined in on the cluster (everyone else: no offer), and the sign-ups' rows.
    """
    from pyspark.sql import functions as F  # noqa: N812 - Spark's own convention

    columns = [c for c in SCORE_COLUMNS if c not in {"as_of", *CONTACT_COLUMNS}]
    frame = scored.select(*columns).withColumn(
        "as_of", F.lit(as_of.to_pydatetime()).cast("timestamp_ntz")
    )
    buyers = driver_rows[driver_rows["status"] != "no_purchase"]
    contacts = scored.sparkSession.createDataFrame(_contact_frame(buyers), schema=_CONTACT_SCHEMA)
    frame = frame.join(F.broadcast(contacts), on="customer_id", how="left").fillna(_UNTOUCHED)
    target = folder / "scores"
    frame.select(*SCORE_COLUMNS).write.parquet(str(target))
    no_purchase = driver_rows[driver_rows["status"] == "no_purchase"]
    if len(no_purchase):
        first = next(target.glob("*.parquet"))
        schema = pq.read_schema(first)
        rows = no_purchase.assign(as_of=as_of)[SCORE_COLUMNS]
        table = pa.Table.from_pandas(rows, schema=schema, preserve_index=False)
        pq.write_table(table, target / "part-no-purchase.parquet")


# the contact columns of a buyer the plan did not touch
_UNTOUCHED = {"offer_cost": 0.0, "control_group": False, "contact_status": "no_offer"}
_UNTOUCHED |= {"explored": False, "assignment_probability": 1.0}
_CONTACT_SCHEMA = (  # in the order of CONTACT_COLUMNS
    "customer_id string, offer string, offer_cost double, expected_net_benefit double, "
    "control_group boolean, control_offer string, contact_status string, "
    "earlier_campaign string, explored boolean, assignment_probability double"
)


def _contact_frame(rows: pd.DataFrame) -> pd.DataFrame:
    """The contact columns of ``rows`` as plain Python values (Spark's createDataFrame)."""
    frame = rows[["customer_id", *CONTACT_COLUMNS]].astype(object)
    numbers = ("offer_cost", "expected_net_benefit", "assignment_probability")
    flags = ("control_group", "explored")
    return frame.where(frame.notna(), None).astype(
        {**dict.fromkeys(numbers, "float64"), **dict.fromkeys(flags, "bool")}
    )

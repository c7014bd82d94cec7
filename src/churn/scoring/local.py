"""Scoring in memory: probability, tier, value, offers, reasons and drift for every customer."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from churn import monitoring, offers, value
from churn.bundle import Manifest
from churn.scoring.predict import explain, predict
from churn.scoring.rows import (
    SCORE_COLUMNS,
    _customer_rows,
    at_risk_list,
    in_population,
    summary,
    tally,
)
from churn.scoring.schema import check_schema
from churn.scoring.settings import ScoreConfig, ScoringOutcome
from churn.scoring.tiers import TierConfig

log = logging.getLogger(__name__)

# the uplift objective's effect matrix from (features, customers); see churn.uplift.targeting
Targeter = Callable[[pd.DataFrame, pd.DataFrame], Any]


def score(
    features: pd.DataFrame,
    model: Any,
    manifest: Manifest,
    *,
    settings: ScoreConfig,
    tiers: TierConfig,
    offer_config: offers.OfferConfig,
    thresholds: monitoring.DriftConfig,
    no_purchase: Collection[str] = (),
    attributes: pd.DataFrame | None = None,
    suppressed: Collection[str] = (),
    cooled: Collection[str] = (),
    earlier: Mapping[str, str] | None = None,
    value_config: value.ValueConfig | None = None,
    uplift: Targeter | None = None,
) -> ScoringOutcome:
    """Score every buyer at the as-of date and plan the offers.

    Args:
        features: :func:`churn.features.build_features` at ``settings.as_of`` for every buyer
            (no population filter), one row per customer.
        model: the bundle's calibrated model.
        manifest: the bundle's manifest (features, references).
        settings: as-of date, horizon, population window, batches.
        tiers: risk tier config.
        offer_config: catalog, budget and contact policy.
        thresholds: drift warn and flag levels.
        no_purchase: known customers without a purchase before the as-of date.
        attributes: customer attributes (indexed by customer_id) offers may require.
        suppressed: opted-out customer ids.
        cooled: customer ids offered within the cooldown.
        earlier: customer id -> as-of date of an earlier campaign whose window is still open.
        value_config: how values are computed (:mod:`churn.value`); by default the heuristic
            with ``offer_config.margin`` over the model's horizon.
        uplift: with ``offers.objective: uplift``, the effect matrix from the features and the
            scored customers (:func:`churn.uplift.targeting.targeting` with its model bound).
    """
    names = check_schema(features, manifest.features)
    frame = features.reset_index(drop=True)
    population = in_population(frame, settings.active_within_days)
    p = predict(model, frame[population], names, batch_size=settings.batch_size)
    log.info(
        "scored %d customers at %s (%d lapsed); mean churn probability %.3f",
        int(population.sum()),
        settings.as_of.date(),
        int((~population).sum()),
        float(p.mean()) if p.size else float("nan"),
    )
    config = value_config or value.ValueConfig(margin=offer_config.margin)
    value_model = value.fit_value(
        frame, config, horizon_days=settings.horizon_days, features=manifest.training.features
    )
    customers = _customer_rows(
        frame,
        population,
        p,
        no_purchase,
        settings=settings,
        tiers=tiers,
        value_model=value_model,
    )
    aim = uplift(frame, customers) if uplift is not None else None
    customers, on_list, assignment = plan_offers(
        customers,
        settings=settings,
        effect=None if aim is None else aim.effect,
        objective=None if aim is None else aim.record,
        tiers=tiers,
        offer_config=offer_config,
        attributes=attributes,
        suppressed=suppressed,
        cooled=cooled,
        earlier=earlier,
    )
    scored = (customers["status"] == "scored").to_numpy(dtype=bool)
    offered = customers["offer"].notna().to_numpy(dtype=bool)
    explained = {"all": scored, "at_risk": scored & on_list, "offered": scored & offered}.get(
        settings.reasons_for, np.zeros(len(customers), dtype=bool)
    )
    _add_reasons(customers, frame, explained, model, names, batch_size=settings.batch_size)
    drift = _drift(frame[population], p, names, manifest, thresholds)

    at_risk = at_risk_list(customers[on_list])
    scores = customers[SCORE_COLUMNS].reset_index(drop=True)
    counts = summary(tally(scores), at_risk, assignment, offer_config)
    return ScoringOutcome(scores, at_risk, drift, assignment, counts, value_model.to_dict())


def plan_offers(
    customers: pd.DataFrame,
    *,
    settings: ScoreConfig,
    tiers: TierConfig,
    offer_config: offers.OfferConfig,
    attributes: pd.DataFrame | None,
    suppressed: Collection[str],
    cooled: Collection[str],
    earlier: Mapping[str, str] | None = None,
    effect: np.ndarray | None = None,
    objective: Mapping[str, Any] | None = None,
) -> tuple[pd.DataFrame, np.ndarray, offers.Assignment]:
    """Join the attributes offers need, assign offers, and mark who is on the at-risk list.

    ``effect`` is the predicted uplift per customer and offer (``offers.objective: uplift``);
    ``objective`` records which objective was asked for and used (the manifest's
    ``offers.plan.objective``).

    Returns the customers with the offer columns and ``model_version``, a mask of the rows on
    the list (the at-risk tiers, and everyone else an offer is planned for: onboarding,
    win-back), and the assignment.
    """
    if attributes is not None and not attributes.empty:
        extra = attributes.reindex(customers["customer_id"].astype(str).to_numpy())
        customers = customers.assign(**{str(c): extra[c].to_numpy() for c in extra.columns})
    assignment = offers.assign_offers(
        customers,
        offer_config,
        seed=settings.seed,
        suppressed=suppressed,
        cooled=cooled,
        as_of=settings.as_of,
        earlier=earlier,
        effect=effect,
    )
    asked = offer_config.objective
    record = {"asked": asked, "used": asked} if objective is None else dict(objective)
    assignment.plan = {**assignment.plan, "objective": record}
    customers = customers.join(assignment.columns)
    customers["model_version"] = settings.model_version
    at_risk_tier = customers["risk_tier"].isin(tiers.at_risk).fillna(False).to_numpy(dtype=bool)
    contacted = (customers["offer"].notna() | customers["control_group"]).to_numpy(dtype=bool)
    return customers, at_risk_tier | contacted, assignment


def _add_reasons(
    customers: pd.DataFrame,
    frame: pd.DataFrame,
    explained: np.ndarray,
    model: Any,
    names: Sequence[str],
    *,
    batch_size: int,
) -> None:
    """Fill ``reason_1..3`` for the ``explained`` customers (buyers come first, in order)."""
    buyers = explained[: len(frame)]
    reason_columns = explain(model, frame[buyers], names, batch_size=batch_size)
    for column in reason_columns.columns:
        values = pd.Series(pd.NA, index=customers.index, dtype="string")
        values.iloc[np.flatnonzero(explained)] = reason_columns[column].to_numpy()
        customers[column] = values


def _drift(
    population: pd.DataFrame,
    p: np.ndarray,
    names: Sequence[str],
    manifest: Manifest,
    thresholds: monitoring.DriftConfig,
) -> pd.DataFrame:
    """PSI of each feature and of the score against the bundle's training reference."""
    references = manifest.reference_distributions
    current = population[[c for c in names if c in references]].assign(churn_probability=p)
    if current.empty or not references:
        return pd.DataFrame(columns=monitoring.REPORT_COLUMNS)
    known = {k: v for k, v in references.items() if k in current.columns}
    return monitoring.drift_report(known, current, thresholds=thresholds)


def drift_of(
    features: pd.DataFrame,
    model: Any,
    manifest: Manifest,
    *,
    settings: ScoreConfig,
    thresholds: monitoring.DriftConfig,
) -> pd.DataFrame:
    """The drift report of feature rows (e.g. a sample): population, score, PSI per column."""
    names = check_schema(features, manifest.features)
    frame = features.reset_index(drop=True)
    if settings.active_within_days is not None:
        frame = frame[frame["recency_days"].to_numpy() <= settings.active_within_days]
    p = predict(model, frame, names, batch_size=settings.batch_size) if len(frame) else np.array([])
    return _drift(frame, p, names, manifest, thresholds)

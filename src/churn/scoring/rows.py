"""The row rules of a scored export: statuses, probability, tier, value, the at-risk list, counts.

Defined once and used by both the local and the Spark scorer.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from typing import Any

import numpy as np
import pandas as pd

from churn import offers
from churn.scoring.settings import ScoreConfig
from churn.scoring.tiers import TierConfig, assign_tiers
from churn.value import ValueModel, customer_values

log = logging.getLogger(__name__)

# What the plan did with each customer, in scores.parquet for everyone (pipelines.outcomes)
CONTACT_COLUMNS = [
    "offer",
    "offer_cost",
    "expected_net_benefit",
    "control_group",
    "control_offer",
    "contact_status",
    "earlier_campaign",
    "explored",
    "assignment_probability",
]
SCORE_COLUMNS = [
    "customer_id",
    "as_of",
    "status",
    "churn_probability",
    "risk_tier",
    "lifecycle_stage",
    "value",
    "value_at_risk",
    *CONTACT_COLUMNS,
]
AT_RISK_COLUMNS = [
    "customer_id",
    "as_of",
    "churn_probability",
    "risk_tier",
    "lifecycle_stage",
    "value",
    "value_at_risk",
    "offer",
    "offer_cost",
    "expected_net_benefit",
    "reason_1",
    "reason_2",
    "reason_3",
    "model_version",
    "status",
    "control_group",
    "control_offer",
    "contact_status",
    "earlier_campaign",
]


def at_risk_list(rows: pd.DataFrame) -> pd.DataFrame:
    """The at-risk list's columns, sorted by expected net benefit (then value at risk, id)."""
    return rows.sort_values(
        ["expected_net_benefit", "value_at_risk", "customer_id"],
        ascending=[False, False, True],
        na_position="last",
    )[AT_RISK_COLUMNS].reset_index(drop=True)


def in_population(frame: pd.DataFrame, active_within_days: int | None) -> np.ndarray:
    """Which buyers are in the population: a purchase within the window (all without one)."""
    if active_within_days is None:
        return np.ones(len(frame), dtype=bool)
    return frame["recency_days"].to_numpy() <= active_within_days


def buyer_rows(
    frame: pd.DataFrame,
    scored: np.ndarray,
    p: np.ndarray,
    *,
    tiers: TierConfig,
    value_model: ValueModel,
) -> pd.DataFrame:
    """One row per buyer of ``frame``: status, probability, tier, stage, value, value at risk.

    ``scored`` marks the buyers in the population (status ``scored``, probability ``p`` in their
    order, a tier); the others are ``lapsed``, with no probability. Values come from
    ``value_model`` (:func:`churn.value.customer_values`). Both scorers, local and on Spark,
    build their rows here.
    """
    n = len(frame)
    rows = np.flatnonzero(scored)
    probability = np.full(n, np.nan)
    probability[rows] = p
    tier = pd.Series(pd.NA, index=range(n), dtype="string")
    tier.iloc[rows] = assign_tiers(p, tiers).to_numpy()
    value = customer_values(frame, value_model)
    return pd.DataFrame(
        {
            "customer_id": pd.Series(frame["customer_id"].astype(str).to_numpy(), dtype="string"),
            "status": pd.Series(np.where(scored, "scored", "lapsed"), dtype="string"),
            "churn_probability": probability,
            "risk_tier": tier,
            "lifecycle_stage": pd.Series(
                frame["lifecycle_stage"].astype("string").to_numpy(), dtype="string"
            ),
            "value": value,
            "value_at_risk": np.where(scored, probability * value, np.nan),
        }
    )


def signup_value(new_values: np.ndarray) -> float:
    """What a sign-up who never bought is worth: the median value of the new buyers (0 if none)."""
    values = np.asarray(new_values, dtype=float)
    values = values[~np.isnan(values)]
    return float(np.median(values)) if values.size else 0.0


def signup_rows(newcomers: Sequence[str], *, value: float) -> pd.DataFrame:
    """Score rows of known customers without a purchase: status ``no_purchase``, no probability."""
    n = len(newcomers)
    return pd.DataFrame(
        {
            "customer_id": pd.Series(list(newcomers), dtype="string"),
            "status": pd.Series(["no_purchase"] * n, dtype="string"),
            "churn_probability": np.full(n, np.nan),
            "risk_tier": pd.Series(pd.NA, index=range(n), dtype="string"),
            "lifecycle_stage": pd.Series(pd.NA, index=range(n), dtype="string"),
            "value": np.full(n, value),
            "value_at_risk": np.full(n, np.nan),
        }
    )


def new_buyer_values(rows: pd.DataFrame) -> np.ndarray:
    """The values of the buyers in lifecycle stage ``new`` (the sign-up value's basis)."""
    return rows["value"].to_numpy(dtype=float)[(rows["lifecycle_stage"] == "new").to_numpy(bool)]


def _customer_rows(
    frame: pd.DataFrame,
    in_population: np.ndarray,
    p: np.ndarray,
    no_purchase: Collection[str],
    *,
    settings: ScoreConfig,
    tiers: TierConfig,
    value_model: ValueModel,
) -> pd.DataFrame:
    """Buyers (scored or lapsed) then sign-ups without a purchase: status, p, tier, value."""
    buyers = buyer_rows(frame, in_population, p, tiers=tiers, value_model=value_model)
    newcomers = sorted(set(map(str, no_purchase)) - set(buyers["customer_id"]))
    signups = signup_rows(newcomers, value=signup_value(new_buyer_values(buyers)))
    rows = pd.concat([buyers, signups], ignore_index=True) if newcomers else buyers
    rows.insert(1, "as_of", settings.as_of)
    return rows


TALLY_COLUMNS = ["status", "risk_tier", "customers", "value_at_risk"]


def tally(scores: pd.DataFrame) -> pd.DataFrame:
    """Customers and value at risk by status and tier: what the run's counts are made from."""
    grouped = scores.groupby(["status", "risk_tier"], dropna=False)
    counted = grouped.agg(
        customers=("status", "size"), value_at_risk=("value_at_risk", "sum")
    ).reset_index()
    return counted[TALLY_COLUMNS]


def summary(
    tallied: pd.DataFrame,
    at_risk: pd.DataFrame,
    assignment: offers.Assignment,
    offer_config: offers.OfferConfig,
) -> dict[str, Any]:
    """The run's counts (the export manifest's ``counts``) from its :func:`tally` and list."""
    tiers = tallied[tallied["risk_tier"].notna()]
    return {
        "customers": int(tallied["customers"].sum()),
        "by_status": _sums(tallied, "status", "customers", int),
        "by_tier": _sums(tiers, "risk_tier", "customers", int),
        "at_risk": len(at_risk),
        "by_offer": dict(assignment.counts),
        "control_group": int(at_risk["control_group"].sum()),
        "by_contact_status": {
            str(k): int(v)
            for k, v in at_risk["contact_status"].value_counts(dropna=True).sort_index().items()
        },
        "value_at_risk_by_tier": _sums(tiers, "risk_tier", "value_at_risk", float),
        "budget": offer_config.budget,
        "budget_used": assignment.budget_used,
        "expected_net_benefit": float(at_risk["expected_net_benefit"].sum(skipna=True)),
    }


def _sums(frame: pd.DataFrame, by: str, column: str, kind: type) -> dict[str, Any]:
    sums = frame.groupby(by, dropna=True)[column].sum().sort_index()
    return {str(k): kind(v) for k, v in sums.items()}

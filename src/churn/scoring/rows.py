"""The row rules of a scored export: statuses, probability, tier, value, the at-risk list, counts.

Defined once and used by both the local and the Spark scorer.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Any

import numpy as np
import pandas as pd

from churn import offers
from churn.scoring.settings import ScoreConfig
from churn.scoring.tiers import TierConfig, assign_tiers

log = logging.getLogger(__name__)

SCORE_COLUMNS = [
    "customer_id",
    "as_of",
    "status",
    "churn_probability",
    "risk_tier",
    "lifecycle_stage",
    "value",
    "value_at_risk",
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
    "contact_status",
]


def at_risk_list(rows: pd.DataFrame) -> pd.DataFrame:
    """The at-risk list's columns, sorted by expected net benefit (then value at risk, id)."""
    return rows.sort_values(
        ["expected_net_benefit", "value_at_risk", "customer_id"],
        ascending=[False, False, True],
        na_position="last",
    )[AT_RISK_COLUMNS].reset_index(drop=True)


def _customer_rows(
    frame: pd.DataFrame,
    in_population: np.ndarray,
    p: np.ndarray,
    no_purchase: Collection[str],
    *,
    settings: ScoreConfig,
    tiers: TierConfig,
    margin: float,
) -> pd.DataFrame:
    """Buyers (scored or lapsed) then sign-ups without a purchase: status, p, tier, value."""
    newcomers = sorted(set(map(str, no_purchase)) - set(frame["customer_id"].astype(str)))
    n_buyers, n = len(frame), len(frame) + len(newcomers)
    rows = np.flatnonzero(in_population)
    ids = pd.concat(
        [frame["customer_id"].astype("string"), pd.Series(newcomers, dtype="string")],
        ignore_index=True,
    )
    status = np.array(["lapsed"] * n_buyers + ["no_purchase"] * len(newcomers), dtype=object)
    status[rows] = "scored"
    probability = np.full(n, np.nan)
    probability[rows] = p
    tier = pd.Series(pd.NA, index=range(n), dtype="string")
    tier.iloc[rows] = assign_tiers(p, tiers).to_numpy()
    stage = pd.Series(pd.NA, index=range(n), dtype="string")
    stage.iloc[:n_buyers] = frame["lifecycle_stage"].astype("string").to_numpy()
    value = np.full(n, np.nan)
    value[:n_buyers] = offers.customer_value(
        frame["monetary_sum"],
        frame["tenure_days"],
        horizon_days=settings.horizon_days,
        margin=margin,
    ).to_numpy()
    if newcomers:
        # a sign-up who never bought is worth what a typical new customer is worth
        new_values = value[:n_buyers][(frame["lifecycle_stage"] == "new").to_numpy(dtype=bool)]
        value[n_buyers:] = float(np.median(new_values)) if new_values.size else 0.0
    return pd.DataFrame(
        {
            "customer_id": ids,
            "as_of": settings.as_of,
            "status": pd.Series(status, dtype="string"),
            "churn_probability": probability,
            "risk_tier": tier,
            "lifecycle_stage": stage,
            "value": value,
            "value_at_risk": np.where(status == "scored", probability * value, np.nan),
        }
    )


def _summary(
    scores: pd.DataFrame,
    at_risk: pd.DataFrame,
    assignment: offers.Assignment,
    offer_config: offers.OfferConfig,
) -> dict[str, Any]:
    return {
        "customers": len(scores),
        "by_status": _counts(scores["status"]),
        "by_tier": _counts(scores["risk_tier"]),
        "at_risk": len(at_risk),
        "by_offer": dict(assignment.counts),
        "control_group": int(at_risk["control_group"].sum()),
        "by_contact_status": _counts(at_risk["contact_status"]),
        "value_at_risk_by_tier": {
            str(k): float(v)
            for k, v in scores.groupby("risk_tier", dropna=True)["value_at_risk"].sum().items()
        },
        "budget": offer_config.budget,
        "budget_used": assignment.budget_used,
        "expected_net_benefit": float(at_risk["expected_net_benefit"].sum(skipna=True)),
    }


def _counts(column: pd.Series) -> dict[str, int]:
    return {str(k): int(v) for k, v in column.value_counts(dropna=True).sort_index().items()}

"""Customer value and retention offers under a budget (docs/scoring-and-offers.md).

**Value** (:mod:`churn.value` chooses the method) is, by :func:`customer_value` (the
heuristic), the margin on a customer's expected spend over the horizon, from their past spend:
``margin x H x total spend / max(tenure, 30 days)``. ``value_at_risk = p x value``.

**Offers** come from a catalog in config. An offer is *eligible* for a customer when their
status is among the offer's ``statuses`` (default: scored), their lifecycle stage among its
``stages`` (scored and lapsed customers), their risk tier among its ``tiers`` (scored customers
only), their value at least ``min_value`` and, when the offer ``requires_attribute``, that
customer attribute is present. Lapsed customers and sign-ups who never bought have no
probability; they count as ``p = 1`` (no purchase expected without action).

**Assignment**: every eligible (customer, offer) pair with a positive expected net benefit
``p x value x save_rate - cost`` is a candidate; each customer gets at most one offer, within
the offers' capacities and the total budget. The plan is exact (``planner: exact``, the
default): the integer programme of :mod:`churn.planner`, started from the greedy plan and never
worse than it, with its optimality gap reported; ``planner: greedy`` takes the candidates by net
benefit, largest first, while capacity and budget last (a customer whose best offer is full or
too costly for what is left may get their next best). Customers on the suppression list or
offered within the cooldown are never offered; a seeded random share (``control_fraction``, or
the offer's own) of the customers who would get an offer is held back as a **control group**:
flagged, not contacted, so save rates can be measured. The control draw is per campaign: a hash
of the seed, the as-of date and the customer id, so a different share of customers is held back
each month. Customers still inside an earlier campaign's outcome window are flagged
(``earlier_campaign``) in either arm alike.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from churn import exploration, planner
from churn.catalog import OBJECTIVES, SAVE_RATES, STAGES, STATUSES, Offer, OfferConfig
from churn.errors import ConfigError

log = logging.getLogger(__name__)

__all__ = [
    "OBJECTIVES",
    "SAVE_RATES",
    "STAGES",
    "STATUSES",
    "Assignment",
    "Offer",
    "OfferConfig",
    "assign_offers",
    "benefits",
    "customer_value",
    "eligibility",
    "expected_saved_value",
]

STRATEGIES = ("net_benefit", "highest_risk", "random")
MIN_TENURE_DAYS = 30.0
# What happened to each customer's contact, in the at-risk list's ``contact_status`` column.
CONTACT = ("offer", "explore", "control", "suppressed", "cooldown", "budget", "no_offer")


def customer_value(
    monetary_sum: pd.Series, tenure_days: pd.Series, *, horizon_days: int, margin: float
) -> pd.Series:
    """Margin on the expected spend over the horizon, from the lifetime spend rate."""
    tenure = tenure_days.astype("float64").clip(lower=MIN_TENURE_DAYS)
    rate = monetary_sum.astype("float64").fillna(0.0).clip(lower=0.0) / tenure
    return margin * horizon_days * rate


@dataclass
class Assignment:
    """Per-customer offer columns, aligned with the input rows, and the plan's totals."""

    columns: pd.DataFrame
    budget_used: float
    counts: dict[str, int] = field(default_factory=dict)
    strategy: str = "net_benefit"
    plan: dict[str, Any] = field(default_factory=dict)  # how it was planned (churn.planner)


def eligibility(customers: pd.DataFrame, offer: Offer) -> np.ndarray:
    """Whether each customer may receive ``offer`` (before budget, capacity and contact rules)."""
    status = customers["status"].astype(str)
    ok = status.isin(offer.statuses).to_numpy(dtype=bool, copy=True)
    if offer.stages is not None:
        staged = status.isin(["scored", "lapsed"]).to_numpy()
        in_stage = customers["lifecycle_stage"].astype("string").isin(offer.stages).fillna(False)
        ok &= ~staged | in_stage.to_numpy(dtype=bool)
    if offer.tiers is not None:
        scored = (status == "scored").to_numpy()
        in_tier = customers["risk_tier"].astype("string").isin(offer.tiers).fillna(False)
        ok &= ~scored | in_tier.to_numpy(dtype=bool)
    ok &= customers["value"].fillna(0.0).to_numpy() >= offer.min_value
    if offer.requires_attribute is not None:
        if offer.requires_attribute not in customers.columns:
            return np.zeros(len(customers), dtype=bool)
        ok &= customers[offer.requires_attribute].notna().to_numpy()
    return ok


def assign_offers(
    customers: pd.DataFrame,
    config: OfferConfig,
    *,
    seed: int,
    suppressed: Collection[str] = (),
    cooled: Collection[str] = (),
    strategy: str = "net_benefit",
    as_of: pd.Timestamp | None = None,
    earlier: Mapping[str, str] | None = None,
    effect: np.ndarray | None = None,
) -> Assignment:
    """Choose at most one offer per customer within the budget and capacities.

    Args:
        customers: one row per customer: ``customer_id, status, churn_probability, risk_tier,
            lifecycle_stage, value`` and any customer attributes offers require.
        config: catalog, budget and contact policy.
        seed: seeds the control group (stable per customer id and campaign) and the random
            strategy.
        suppressed: customer ids that opted out: never offered.
        cooled: customer ids offered within the cooldown: skipped.
        as_of: the campaign's as-of date: the control group is drawn per campaign.
        earlier: customer id -> as-of date of an earlier campaign whose outcome window is still
            open and in which the customer was contacted or held back (``earlier_campaign``).
        strategy: ``net_benefit`` (the method above), or a reference to compare it with:
            ``highest_risk`` (the costliest eligible offer to the riskiest customers first) or
            ``random`` (customers in random order, each their costliest eligible offer).
        effect: rows x catalog offers, the predicted uplift of each offer (``offers.objective:
            uplift``, :mod:`churn.uplift.targeting`); where given (not NaN) a pair's expected
            net benefit is ``uplift x value - cost`` instead of ``p x value x save_rate - cost``.

    Returns:
        Columns ``offer, offer_cost, expected_net_benefit, control_group, control_offer,
        contact_status, earlier_campaign`` in the order of ``customers``, the budget used and
        the count per offer.
    """
    if strategy not in STRATEGIES:
        raise ConfigError(
            f"assign_offers: strategy must be one of {list(STRATEGIES)}; got {strategy!r}"
        )
    n = len(customers)
    p = customers["churn_probability"].astype("float64").fillna(1.0).to_numpy()
    value = customers["value"].astype("float64").fillna(0.0).to_numpy()
    ids = customers["customer_id"].astype(str)
    blocked = ids.isin(set(suppressed)).to_numpy() | ids.isin(set(cooled)).to_numpy()

    salt = "" if as_of is None else str(pd.Timestamp(as_of).date())
    allowed = np.column_stack(
        [eligibility(customers, o) & ~blocked for o in config.catalog] or [np.zeros(n, bool)]
    )
    costs = np.array([o.cost for o in config.catalog] + [np.nan])
    explored = exploration.explore(
        ids,
        allowed,
        costs[:-1],
        fraction=config.explore_fraction,
        budget=config.budget,
        seed=seed,
        salt=salt,
    )
    worth = benefits(config.catalog, p, value, effect)
    pairs = []
    for k, offer in enumerate(config.catalog):
        ok = allowed[:, k] & ~explored.explored
        benefit = worth[:, k]
        # the plan only makes offers worth their cost; the reference strategies ignore worth
        rows = np.flatnonzero(ok & (benefit > 0) if strategy == "net_benefit" else ok)
        pairs.append(
            pd.DataFrame(
                {
                    "row": rows,
                    "offer": k,
                    "benefit": benefit[rows],
                    "cost": offer.cost,
                    "p": p[rows],
                }
            )
        )
    candidates = pd.concat(pairs, ignore_index=True)
    candidates = _order(candidates, strategy, seed=seed, n=n)

    share = exploration.stable_share(ids, seed=seed, salt=salt)
    fractions = [
        config.control_fraction if o.control_fraction is None else o.control_fraction
        for o in config.catalog
    ]
    capacities = [o.capacity for o in config.catalog]
    budget = config.budget - explored.cost
    plan = planner.greedy_plan(candidates, n, budget=budget, capacities=capacities)
    if strategy == "net_benefit" and config.planner == "exact":
        plan = planner.exact_plan(
            candidates,
            n,
            budget=budget,
            capacities=capacities,
            time_limit=config.planner_time_limit_seconds,
            gap=config.planner_gap,
            incumbent=plan,
        )
    chosen, over_budget = plan.chosen, plan.over_budget
    # A control customer is one the plan would contact: held back, the offer's budget and
    # capacity are set aside but not spent, so the group stays a fixed share of the plan.
    in_control = (chosen >= 0) & (share < np.append(fractions, 0.0)[chosen])
    probability = exploration.assignment_probability(
        allowed,
        explored.offer,
        chosen,
        in_control,
        np.asarray(fractions, dtype=float),
        fraction=config.explore_fraction,
    )
    chosen = np.where(explored.explored, explored.offer, chosen)
    offered = (chosen >= 0) & ~in_control
    names = np.array([o.name for o in config.catalog] + [None], dtype=object)
    pick = np.where(chosen >= 0, chosen, len(config.catalog))
    benefit = np.column_stack([worth, np.full(n, np.nan)])[np.arange(n), pick]
    contact = np.select(
        [
            ids.isin(set(suppressed)).to_numpy(),
            ids.isin(set(cooled)).to_numpy(),
            in_control,
            explored.explored,
            offered,
            over_budget,
        ],
        ["suppressed", "cooldown", "control", "explore", "offer", "budget"],
        default="no_offer",
    )
    columns = pd.DataFrame(
        {
            "offer": pd.Series(names[pick], index=customers.index, dtype="string").where(offered),
            "offer_cost": np.where(offered, costs[pick], 0.0),
            "expected_net_benefit": np.where(offered, benefit, np.nan),
            "control_group": in_control,
            "control_offer": pd.Series(names[pick], index=customers.index, dtype="string").where(
                in_control
            ),
            "contact_status": pd.Series(contact, index=customers.index, dtype="string"),
            "explored": explored.explored,
            "assignment_probability": probability,
            "earlier_campaign": pd.Series(
                ids.map(dict(earlier or {})).to_numpy(), index=customers.index, dtype="string"
            ),
        },
        index=customers.index,
    )
    counts = columns["offer"].value_counts().to_dict()
    used = float(columns["offer_cost"].sum())
    log.info(
        "offers (%s): %d offered for %.2f of budget %.2f, %d in the control group, %s",
        strategy,
        int(offered.sum()),
        used,
        config.budget,
        int(in_control.sum()),
        counts,
    )
    counted = {str(k): int(v) for k, v in counts.items()}
    return Assignment(columns, used, counted, strategy, plan.report)


def benefits(
    catalog: Sequence[Offer],
    p: np.ndarray,
    value: np.ndarray,
    effect: np.ndarray | None,
) -> np.ndarray:
    """Rows x offers: expected net benefit, ``uplift x value - cost`` where an uplift is known.

    Elsewhere (and for every row without ``effect``) ``p x value x save_rate - cost``.
    """
    rates = np.array([o.save_rate for o in catalog], dtype=float)
    costs = np.array([o.cost for o in catalog], dtype=float)
    risk = p[:, None] * value[:, None] * rates[None, :] - costs[None, :]
    if effect is None:
        return risk
    by_effect = effect * value[:, None] - costs[None, :]
    return np.where(np.isnan(effect), risk, by_effect)


def _order(candidates: pd.DataFrame, strategy: str, *, seed: int, n: int) -> pd.DataFrame:
    """Candidate pairs in the order the greedy allocation takes them."""
    if strategy == "net_benefit":
        return candidates.sort_values(["benefit", "row", "offer"], ascending=[False, True, True])
    if strategy == "highest_risk":
        return candidates.sort_values(["p", "cost", "row"], ascending=[False, False, True])
    rank = np.random.default_rng(seed).permutation(n)
    return candidates.assign(rank=rank[candidates["row"].to_numpy()]).sort_values(
        ["rank", "cost"], ascending=[True, False]
    )


def expected_saved_value(
    assignment: Assignment, p: np.ndarray, value: np.ndarray, config: OfferConfig
) -> float:
    """Sum of ``p x value x save_rate - cost`` over the customers offered, with the given ``p``.

    With the true probabilities (the demo's oracle), this is what a plan is worth; it compares
    strategies at the same budget.
    """
    rates = {o.name: o.save_rate for o in config.catalog}
    offer = assignment.columns["offer"]
    offered = offer.notna().to_numpy()
    save = np.array([rates.get(str(o), 0.0) if o is not pd.NA else 0.0 for o in offer])
    gain = np.where(offered, p * value * save, 0.0)
    return float(gain.sum() - assignment.columns["offer_cost"].sum())

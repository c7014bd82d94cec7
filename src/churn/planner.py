"""Offer plans: at most one offer per customer within a budget and per-offer capacities.

The candidates are (customer row, offer) pairs with a benefit (expected net benefit) and a
cost. Two planners choose among them:

* **greedy** (:func:`greedy_plan`): the pairs in a given order (largest benefit first for the
  net-benefit plan), each taken while the customer has no offer yet, the offer's capacity and
  the budget last. Fast; no bound on how far it is from the best plan.
* **exact** (:func:`exact_plan`): the integer programme

      max sum_i b_i x_i  s.t.  sum_{i of customer j} x_i <= 1,  sum_i c_i x_i <= budget,
      sum_{i of offer k} x_i <= capacity_k,  x_i in {0, 1},

  solved by HiGHS through :func:`scipy.optimize.milp` within a time limit. Before solving,
  candidates that cannot be in an optimal plan are dropped: those with no positive benefit, and
  those **dominated** for their customer by an offer without a capacity limit that costs no more
  and brings no less (a dominated offer with a binding capacity may still be needed when the
  better one is full, so only uncapped offers dominate). The greedy plan is the incumbent: the
  exact plan is kept only when it is worth at least as much, so a time limit never makes the
  plan worse; the run reports the optimality gap against HiGHS's dual bound.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, sparse

log = logging.getLogger(__name__)

PLANNERS = ("greedy", "exact")


@dataclass(frozen=True)
class Plan:
    """The offer index chosen per customer row (-1: none) and how the plan was found."""

    chosen: np.ndarray
    over_budget: np.ndarray  # had a candidate the budget could not pay for
    report: dict[str, Any] = field(default_factory=dict)


def greedy_plan(
    candidates: pd.DataFrame,
    n: int,
    *,
    budget: float,
    capacities: Sequence[int | None],
) -> Plan:
    """Take the candidates in their order while customer, capacity and budget allow."""
    started = time.perf_counter()
    chosen = np.full(n, -1)
    over_budget = np.zeros(n, dtype=bool)
    left = float(budget)
    capacity = [n if c is None else int(c) for c in capacities]
    for row, k, cost in zip(
        candidates["row"].to_numpy(),
        candidates["offer"].to_numpy(),
        candidates["cost"].to_numpy(dtype=float),
        strict=True,
    ):
        if chosen[row] >= 0 or capacity[k] <= 0:
            continue
        if cost > left:
            over_budget[row] = True
            continue
        chosen[row] = k
        capacity[k] -= 1
        left -= cost
    objective = _objective(candidates, chosen)
    report = {
        "planner": "greedy",
        "objective": objective,
        "seconds": round(time.perf_counter() - started, 3),
    }
    return Plan(chosen, over_budget, report)


def drop_dominated(candidates: pd.DataFrame, capped: Sequence[bool]) -> pd.DataFrame:
    """The candidates without non-positive benefits and without pairs an uncapped offer dominates.

    A pair is dominated when an earlier pair of the same customer for an uncapped offer costs no
    more and brings no less (pairs sorted by cost, then benefit from the largest).
    """
    kept = candidates[candidates["benefit"] > 0]
    ordered = kept.sort_values(
        ["row", "cost", "benefit", "offer"], ascending=[True, True, False, True]
    )
    uncapped = ~np.asarray(capped, dtype=bool)[ordered["offer"].to_numpy()]
    benefit = ordered["benefit"].to_numpy(dtype=float)
    best = pd.Series(np.where(uncapped, benefit, -np.inf), index=ordered.index)
    rows = ordered["row"].to_numpy()
    before = best.groupby(rows).cummax().groupby(rows).shift(1)
    dominated = before.fillna(-np.inf).to_numpy() >= benefit
    return ordered[~dominated]


def exact_plan(
    candidates: pd.DataFrame,
    n: int,
    *,
    budget: float,
    capacities: Sequence[int | None],
    time_limit: float,
    gap: float = 1e-4,
    incumbent: Plan | None = None,
) -> Plan:
    """The best plan by integer programming (HiGHS), never worse than ``incumbent``.

    The linear relaxation is solved first: its value bounds every plan, and its solution has
    only a few fractional pairs (one per binding constraint, at most). Rounded down and repaired
    (the left budget and capacities filled greedily), it is usually within ``gap`` of the bound;
    only when it is not does the integer programme run, within what is left of ``time_limit``.
    ``incumbent`` defaults to the greedy plan of the candidates by benefit, largest first.
    """
    started = time.perf_counter()
    if incumbent is None:
        ordered = candidates.sort_values(["benefit", "row", "offer"], ascending=[False, True, True])
        incumbent = greedy_plan(ordered, n, budget=budget, capacities=capacities)
    kept = drop_dominated(candidates, [c is not None for c in capacities]).reset_index(drop=True)
    report: dict[str, Any] = {
        "planner": "exact",
        "candidates": len(candidates),
        "candidates_kept": len(kept),
        "greedy_objective": incumbent.report["objective"],
    }
    if kept.empty:  # nothing worth offering: the empty plan is optimal
        report |= {"solver_objective": 0.0, "bound": 0.0, "method": "empty"}
        return _finish(incumbent, report, np.full(n, -1), started)
    benefit = kept["benefit"].to_numpy(dtype=float)
    matrix, upper = _constraints(kept, budget, capacities)
    # HiGHS's presolve is slow on this shape (a million one-row customers and one dense budget
    # row) and gains nothing here: the relaxation is solved without it, by interior point with
    # crossover to a vertex (few fractional pairs)
    relaxed = optimize.linprog(
        -benefit,
        A_ub=matrix,
        b_ub=upper,
        bounds=(0, 1),
        method="highs-ipm",
        options={"presolve": False, "time_limit": float(time_limit)},
    )
    if relaxed.x is None:
        report |= {"status": str(relaxed.message), "bound": None}
        return _finish(incumbent, report, None, started)
    report["bound"] = float(-relaxed.fun)
    picked = _repaired(kept, relaxed.x >= 1 - 1e-9, budget, capacities)
    report |= {"method": "relaxation, rounded and repaired", "status": str(relaxed.message)}
    value = float(benefit[picked].sum())
    if report["bound"] - value > gap * max(abs(report["bound"]), 1e-12):
        result = optimize.milp(
            -benefit,
            constraints=optimize.LinearConstraint(matrix, -np.inf, upper),
            integrality=np.ones(len(kept)),
            bounds=optimize.Bounds(0, 1),
            options={
                "time_limit": max(time_limit - (time.perf_counter() - started), 0.01),
                "mip_rel_gap": gap,
                "disp": False,
            },
        )
        report["status"] = str(result.message)
        if result.x is not None and float(benefit[result.x > 0.5].sum()) > value:
            picked = result.x > 0.5
            report["method"] = "integer programme"
        bound = getattr(result, "mip_dual_bound", None)
        if bound is not None and np.isfinite(bound):
            report["bound"] = min(report["bound"], float(-bound))
    # solvers keep constraints to a tolerance (1e-7): the costs must add up to the budget at most
    picked = _within(kept, picked, float(budget) + 1e-9 * max(float(budget), 1.0))
    chosen = np.full(n, -1)
    chosen[kept["row"].to_numpy()[picked]] = kept["offer"].to_numpy()[picked]
    report["solver_objective"] = float(benefit[picked].sum())
    return _finish(incumbent, report, chosen, started)


def _constraints(
    kept: pd.DataFrame, budget: float, capacities: Sequence[int | None]
) -> tuple[sparse.csr_matrix, np.ndarray]:
    """One offer per customer, the budget, and each capped offer's capacity."""
    m = len(kept)
    offers_of = kept["offer"].to_numpy()
    customer_index = np.unique(kept["row"].to_numpy(), return_inverse=True)[1]
    customers = int(customer_index.max()) + 1
    blocks = [
        sparse.csr_matrix((np.ones(m), (customer_index, np.arange(m))), shape=(customers, m)),
        sparse.csr_matrix(kept["cost"].to_numpy(dtype=float)[None, :]),
    ]
    upper = [np.ones(customers), np.array([float(budget)])]
    for k, cap in enumerate(capacities):
        if cap is not None and (offers_of == k).any():
            blocks.append(sparse.csr_matrix((offers_of == k).astype(float)[None, :]))
            upper.append(np.array([float(cap)]))
    return sparse.vstack(blocks, format="csr"), np.concatenate(upper)


def _within(kept: pd.DataFrame, picked: np.ndarray, budget: float) -> np.ndarray:
    """``picked`` without its least worthwhile pairs while their costs exceed the budget."""
    picked = picked.copy()
    cost = kept["cost"].to_numpy(dtype=float)
    ratio = kept["benefit"].to_numpy(dtype=float) / np.maximum(cost, 1e-12)
    for i in np.flatnonzero(picked)[np.argsort(ratio[picked], kind="stable")]:
        if math.fsum(cost[picked]) <= budget:
            break
        picked[i] = False
    return picked


def _repaired(
    kept: pd.DataFrame, picked: np.ndarray, budget: float, capacities: Sequence[int | None]
) -> np.ndarray:
    """``picked`` with the left budget and capacities filled greedily by benefit per cost."""
    picked = picked.copy()
    rows, offers_of = kept["row"].to_numpy(), kept["offer"].to_numpy()
    cost = kept["cost"].to_numpy(dtype=float)
    left = float(budget) - float(cost[picked].sum())
    capacity = [
        None if c is None else int(c) - int((offers_of[picked] == k).sum())
        for k, c in enumerate(capacities)
    ]
    served = set(rows[picked].tolist())
    ratio = kept["benefit"].to_numpy(dtype=float) / np.maximum(cost, 1e-12)
    cheapest = float(cost.min())
    for i in np.argsort(-ratio, kind="stable"):
        if left + 1e-9 < cheapest:
            break
        if picked[i] or rows[i] in served or cost[i] > left + 1e-9:
            continue
        k = offers_of[i]
        if capacity[k] is not None:
            if capacity[k] <= 0:
                continue
            capacity[k] -= 1
        picked[i] = True
        served.add(rows[i])
        left -= cost[i]
    return picked


def _finish(
    incumbent: Plan, report: dict[str, Any], chosen: np.ndarray | None, started: float
) -> Plan:
    """Keep the better of the incumbent and the solver's plan; report the gap to the bound."""
    greedy = float(incumbent.report["objective"])
    solver = report.get("solver_objective")
    use_solver = chosen is not None and solver is not None and solver >= greedy - 1e-9
    final = chosen if use_solver and chosen is not None else incumbent.chosen
    value = float(solver) if use_solver and solver is not None else greedy
    bound = report.get("bound")
    report |= {
        "objective": value,
        "kept": "solver" if use_solver else "greedy",
        "gain_over_greedy": value - greedy,
        "gap": None if bound is None else max(bound - value, 0.0) / max(abs(bound), 1e-12),
        "seconds": round(time.perf_counter() - started, 3),
    }
    had = incumbent.over_budget | (incumbent.chosen >= 0)
    over_budget = had & (final < 0)
    log.info(
        "exact plan: %s candidates (%s kept), worth %.2f (greedy %.2f), gap %s, %.1f s",
        report.get("candidates"),
        report.get("candidates_kept"),
        value,
        greedy,
        "n/a" if report["gap"] is None else f"{report['gap']:.2e}",
        report["seconds"],
    )
    return Plan(final, over_budget, report)


def _objective(candidates: pd.DataFrame, chosen: np.ndarray) -> float:
    """Sum of the chosen pairs' benefits."""
    rows = candidates["row"].to_numpy()
    hit = chosen[rows] == candidates["offer"].to_numpy()
    return float(candidates["benefit"].to_numpy(dtype=float)[hit].sum())

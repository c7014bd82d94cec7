"""The offer planners: greedy, and the exact integer programme checked against brute force."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from churn.planner import drop_dominated, exact_plan, greedy_plan


def _candidates(rows: list[tuple[int, int, float, float]]) -> pd.DataFrame:
    """(row, offer, benefit, cost) pairs, ordered by benefit (the greedy plan's order)."""
    frame = pd.DataFrame(rows, columns=["row", "offer", "benefit", "cost"])
    return frame.sort_values(["benefit", "row", "offer"], ascending=[False, True, True])


def _brute_force(
    candidates: pd.DataFrame, n: int, budget: float, capacities: list[int | None]
) -> float:
    """The best plan's value by trying every choice (an offer or none) for every customer."""
    options = [
        [None, *candidates[candidates["row"] == r].itertuples(index=False)] for r in range(n)
    ]
    best = 0.0
    for plan in itertools.product(*options):
        picked = [c for c in plan if c is not None]
        if sum(c.cost for c in picked) > budget + 1e-9:
            continue
        used = [sum(1 for c in picked if c.offer == k) for k in range(len(capacities))]
        if any(cap is not None and u > cap for u, cap in zip(used, capacities, strict=True)):
            continue
        best = max(best, sum(c.benefit for c in picked))
    return best


def _check(plan_chosen: np.ndarray, candidates: pd.DataFrame, budget: float, caps: list) -> float:
    """The plan's value, after checking it keeps every rule."""
    pairs = candidates.set_index(["row", "offer"])
    total_cost, total = 0.0, 0.0
    for row, k in enumerate(plan_chosen):
        if k < 0:
            continue
        total_cost += float(pairs.loc[(row, k), "cost"])
        total += float(pairs.loc[(row, k), "benefit"])
    assert total_cost <= budget + 1e-9
    for k, cap in enumerate(caps):
        if cap is not None:
            assert int((plan_chosen == k).sum()) <= cap
    return total


def test_exact_beats_greedy_where_greedy_is_short_sighted() -> None:
    # greedy takes the single best pair (benefit 10 for cost 10) and has no budget left; the
    # best plan takes the two pairs worth 6 each for 5 each
    candidates = _candidates([(0, 0, 10.0, 10.0), (1, 0, 6.0, 5.0), (2, 0, 6.0, 5.0)])
    greedy = greedy_plan(candidates, 3, budget=10.0, capacities=[None])
    exact = exact_plan(candidates, 3, budget=10.0, capacities=[None], time_limit=10)
    assert greedy.report["objective"] == pytest.approx(10.0)
    assert exact.report["objective"] == pytest.approx(12.0)
    assert exact.report["gain_over_greedy"] == pytest.approx(2.0)
    assert exact.report["gap"] == pytest.approx(0.0, abs=1e-6)
    assert exact.chosen.tolist() == [-1, 0, 0]
    assert exact.over_budget.tolist() == [True, False, False]


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 4),
            st.integers(0, 2),
            st.floats(0.5, 20.0, allow_nan=False),
            st.floats(0.0, 10.0, allow_nan=False),
        ),
        min_size=1,
        max_size=12,
        unique_by=lambda c: (c[0], c[1]),
    ),
    st.floats(0.0, 25.0),
    st.lists(st.one_of(st.none(), st.integers(0, 3)), min_size=3, max_size=3),
)
def test_exact_matches_brute_force(
    pairs: list[tuple[int, int, float, float]], budget: float, caps: list[int | None]
) -> None:
    candidates = _candidates(pairs)
    plan = exact_plan(candidates, 5, budget=budget, capacities=caps, time_limit=10)
    value = _check(plan.chosen, candidates, budget, caps)
    assert value == pytest.approx(plan.report["objective"], abs=1e-6)
    assert value == pytest.approx(_brute_force(candidates, 5, budget, caps), abs=1e-6)
    greedy = greedy_plan(candidates, 5, budget=budget, capacities=caps)
    assert value >= greedy.report["objective"] - 1e-9


def test_dominated_pairs_are_dropped_only_by_uncapped_offers() -> None:
    candidates = _candidates(
        [
            (0, 0, 5.0, 1.0),  # uncapped, cheap and good
            (0, 1, 4.0, 2.0),  # dominated by offer 0: dropped
            (0, 2, 6.0, 3.0),  # better, dearer: kept
            (1, 2, 5.0, 1.0),  # capped offer 2 dominates offer 0 for row 1 ...
            (1, 0, 4.0, 2.0),  # ... but 2 may be full: kept
            (2, 0, -1.0, 1.0),  # no benefit: dropped
        ]
    )
    kept = drop_dominated(candidates, [False, False, True])
    assert sorted(zip(kept["row"], kept["offer"], strict=True)) == [(0, 0), (0, 2), (1, 0), (1, 2)]


def test_capacity_that_binds_and_a_budget_of_zero() -> None:
    candidates = _candidates([(r, 0, 10.0 - r, 1.0) for r in range(5)] + [(0, 1, 3.0, 1.0)])
    plan = exact_plan(candidates, 5, budget=100.0, capacities=[2, None], time_limit=10)
    # offer 0 fits two customers: rows 1 and 2 get it (9 + 8), row 0 the uncapped offer 1 (3),
    # better than rows 0 and 1 on offer 0 (10 + 9)
    assert plan.report["objective"] == pytest.approx(20.0)
    assert plan.chosen.tolist() == [1, 0, 0, -1, -1]
    nothing = exact_plan(candidates, 5, budget=0.0, capacities=[2, None], time_limit=10)
    assert (nothing.chosen == -1).all()
    assert nothing.report["objective"] == 0.0


def test_no_candidates_is_an_empty_optimal_plan() -> None:
    empty = _candidates([(0, 0, -1.0, 1.0)])
    plan = exact_plan(empty, 2, budget=10.0, capacities=[None], time_limit=10)
    assert (plan.chosen == -1).all()
    assert plan.report["gap"] == 0.0


def test_a_time_limit_keeps_a_plan_no_worse_than_greedy() -> None:
    rng = np.random.default_rng(0)
    n = 3000
    rows = [
        (r, k, float(rng.gamma(2.0, 5.0)), float(rng.choice([1, 3, 5, 25])))
        for r in range(n)
        for k in range(4)
    ]
    candidates = _candidates(rows)
    greedy = greedy_plan(candidates, n, budget=4000.0, capacities=[None, 200, None, 50])
    plan = exact_plan(
        candidates, n, budget=4000.0, capacities=[None, 200, None, 50], time_limit=0.01
    )
    assert plan.report["objective"] >= greedy.report["objective"] - 1e-9
    _check(plan.chosen, candidates, 4000.0, [None, 200, None, 50])

"""The exact offer planner against the greedy one: plan value, optimality gap and time.

    python benchmarks/planner.py [--customers 100000 1000000] [--repeats 3] [--budget-share 0.2]

Customers as scoring hands them to the planner (status, churn probability, tier, lifecycle
stage, value; seeded), the default offer catalog (conf/offers/default.yaml), a budget that pays
for about ``--budget-share`` of what every worthwhile offer would cost, so it binds. For each
size: the greedy plan's and the exact plan's expected net benefit, the exact plan's gain over
greedy, its gap to HiGHS's bound, candidates before and after dropping dominated pairs, and the
wall time of each planner (median of ``--repeats``; the exact planner's time includes its
greedy incumbent).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from churn.offers import OfferConfig, assign_offers

REPO = Path(__file__).resolve().parents[1]
TIERS = ["low", "medium", "high", "very_high"]


def population(n: int, seed: int) -> pd.DataFrame:
    """Scored customers like a demo scoring run's: probabilities, tiers, stages and values."""
    rng = np.random.default_rng(seed)
    p = rng.beta(1.2, 1.4, n)
    tier = np.array(TIERS, dtype=object)[np.digitize(p, [0.3, 0.6, 0.8])]
    return pd.DataFrame(
        {
            "customer_id": [f"c{i:08d}" for i in range(n)],
            "status": pd.Series(["scored"] * n, dtype="string"),
            "churn_probability": p,
            "risk_tier": pd.Series(tier, dtype="string"),
            "lifecycle_stage": pd.Series(
                rng.choice(["new", "established", "lapsing"], n, p=[0.2, 0.6, 0.2]),
                dtype="string",
            ),
            "value": rng.lognormal(3.5, 1.0, n),
        }
    )


def config(budget: float, planner: str) -> OfferConfig:
    values = yaml.safe_load((REPO / "conf" / "offers" / "default.yaml").read_text())
    values |= {"budget": budget, "planner": planner, "outcomes_dir": None}
    return OfferConfig.from_mapping(values, tiers=TIERS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--budget-share", type=float, default=0.2)
    args = parser.parse_args()
    print(
        "customers  greedy_value  exact_value  gain   gap       candidates  kept     "
        "greedy_s  exact_s"
    )
    for n in args.customers:
        customers = population(n, seed=0)
        unlimited = assign_offers(customers, config(1e12, "greedy"), seed=0)
        budget = args.budget_share * unlimited.budget_used
        times: dict[str, list[float]] = {"greedy": [], "exact": []}
        plans = {}
        repeats = args.repeats if n <= 200_000 else 1
        for planner in ("greedy", "exact"):
            for _ in range(repeats):
                started = time.perf_counter()
                plans[planner] = assign_offers(customers, config(budget, planner), seed=0)
                times[planner].append(time.perf_counter() - started)
        exact = plans["exact"].plan
        greedy_value = float(exact["greedy_objective"])
        gap = exact.get("gap")
        print(
            f"{n:>9,}  {greedy_value:>12,.0f}  {exact['objective']:>11,.0f}  "
            f"{100 * exact['gain_over_greedy'] / max(greedy_value, 1e-9):>4.2f}%  "
            f"{'n/a' if gap is None else f'{gap:.1e}':>8}  {exact['candidates']:>10,}  "
            f"{exact['candidates_kept']:>7,}  {statistics.median(times['greedy']):>8.1f}  "
            f"{statistics.median(times['exact']):>7.1f}"
        )


if __name__ == "__main__":
    main()

"""Targeting by effect against targeting by risk, valued with the demo world's true effects.

    python benchmarks/targeting.py [--seeds 1 2 3] [--customers 20000] [--campaigns 5]
                                   [--explore-fraction 0.2] [--control-fraction 0.1]
                                   [--out data/benchmarks/targeting.jsonl]

One churn model is trained on a world of its own (seed 1000), so no plan sees its own outcomes.
Then, per seed, a demo world (default parameters, a longer held-back future: 360 days) is run
the way a retention team would learn from campaigns: ``--campaigns`` times ``pipelines.score``
(the budget's plan with exploration and a control group) and ``pipelines.simulate_campaign
days=30``; the world moves on until their windows have passed; ``pipelines.outcomes`` measures
them and ``pipelines.uplift`` trains, evaluates out of time and gates the uplift model.

At the next date ``A`` (data end), with the same budget, capacities and contact rules, and no
control group or exploration (targeting alone is compared), three plans are made:

* **risk**: ``offers.objective=net_benefit`` with the save rates measured by the campaigns;
* **uplift**: ``offers.objective=uplift`` (the gated champion; without one, the plan is the
  risk plan and the row says so), and **uplift (any)**: the latest uplift model served whatever
  its gate said;
* **oracle**: the exact planner on the true effect of every eligible (customer, offer) pair
  (``churn.synthetic.contact.offer_effects``: churn in ``[A, A + H)`` without and with the
  offer, from the same campaign stream a campaign run would use).

Each plan's **true incremental net value** is ``sum over its contacts of (churned without -
churned with) x value - cost``. Printed per seed and as medians: each plan's value, its share of
the oracle's, the uplift plan's ratio to the risk plan's, and the gate's decision and Qini.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf

from churn import offers, planner, synthetic
from churn.synthetic.contact import offer_effects
from churn.synthetic.effects import CampaignConfig
from churn.synthetic.state import load_world
from churn.uplift import UpliftStore
from pipelines import outcomes, score, simulate_campaign, uplift

sys.path.insert(0, str(Path(__file__).resolve().parent))
from runs import REPO, train_model

CONF = REPO / "conf"
FUTURE_DAYS = 360


def _cfg(name: str, overrides: list[str]) -> DictConfig:
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name=name, overrides=overrides)


def _world(seed: int, customers: int, folder: Path) -> None:
    values = OmegaConf.to_container(_cfg("generate", []).generate.world, resolve=True)
    values["future_days"] = FUTURE_DAYS  # type: ignore[index]
    params = synthetic.WorldConfig.from_mapping(values)  # type: ignore[arg-type]
    synthetic.save(synthetic.generate(params, n_customers=customers, seed=seed), folder, seed=seed)


def _score(common: list[str], work: Path, exports: Path, *extra: str) -> Path:
    cfg = _cfg(
        "score",
        [*common, f"export.dir={exports}", f"output_dir={work / 'run'}", *extra],
    )
    return Path(score.run(cfg).folder)


def _plan_value(plan: pd.DataFrame, effects: pd.DataFrame) -> dict[str, float]:
    """True incremental net value of the contacts in ``plan`` (``contact_status == offer``)."""
    contacted = plan[plan["contact_status"] == "offer"][["customer_id", "offer", "value"]]
    merged = contacted.merge(effects, on=["customer_id", "offer"], how="left", validate="1:1")
    saved = merged["churned_without_offer"].astype(float) - merged["churned_with_offer"].astype(
        float
    )
    cost = plan.loc[plan["contact_status"] == "offer", "offer_cost"].sum()
    return {
        "value": float((saved * merged["value"]).sum() - cost),
        "contacts": len(contacted),
        "saved": float(saved.sum()),
        "cost": float(cost),
    }


def _oracle(
    scores: pd.DataFrame, effects: pd.DataFrame, config: offers.OfferConfig
) -> pd.DataFrame:
    """The exact plan on the true effects, as a frame like an export's scores."""
    index = {o.name: k for k, o in enumerate(config.catalog)}
    rows = effects.merge(
        scores[["customer_id", "value"]].reset_index(names="row"), on="customer_id", how="inner"
    )
    cost = rows["offer"].map({o.name: o.cost for o in config.catalog}).to_numpy(dtype=float)
    gain = rows["churned_without_offer"].astype(float) - rows["churned_with_offer"].astype(float)
    candidates = pd.DataFrame(
        {
            "row": rows["row"].to_numpy(),
            "offer": rows["offer"].map(index).to_numpy(),
            "benefit": gain.to_numpy() * rows["value"].to_numpy() - cost,
            "cost": cost,
            "p": 1.0,
        }
    )
    candidates = candidates[candidates["benefit"] > 0].sort_values(
        ["benefit", "row", "offer"], ascending=[False, True, True]
    )
    capacities = [o.capacity for o in config.catalog]
    greedy = planner.greedy_plan(
        candidates, len(scores), budget=config.budget, capacities=capacities
    )
    plan = planner.exact_plan(
        candidates,
        len(scores),
        budget=config.budget,
        capacities=capacities,
        time_limit=120.0,
        gap=1e-6,
        incumbent=greedy,
    )
    names = np.array([o.name for o in config.catalog] + [None], dtype=object)
    costs = np.array([o.cost for o in config.catalog] + [0.0])
    chosen = np.where(plan.chosen >= 0, plan.chosen, len(config.catalog))
    return pd.DataFrame(
        {
            "customer_id": scores["customer_id"].to_numpy(),
            "value": scores["value"].to_numpy(),
            "offer": names[chosen],
            "offer_cost": costs[chosen],
            "contact_status": np.where(plan.chosen >= 0, "offer", "no_offer"),
        }
    )


def _eligible_pairs(scores: pd.DataFrame, config: offers.OfferConfig) -> pd.DataFrame:
    """Every (customer, offer) the catalog allows, on the export's own columns."""
    blocked = scores["contact_status"].isin(["suppressed", "cooldown"]).to_numpy()
    pairs = []
    for offer in config.catalog:
        ok = offers.eligibility(scores, offer) & ~blocked
        pairs.append(
            pd.DataFrame({"customer_id": scores.loc[ok, "customer_id"], "offer": offer.name})
        )
    return pd.concat(pairs, ignore_index=True)


def one_seed(seed: int, args: argparse.Namespace, model_dir: Path, work: Path) -> dict[str, Any]:
    data, exports = work / "data", work / "exports"
    _world(seed, args.customers, data)
    common = [
        f"data.generate.output_dir={data}",
        "tracking=none",
        f"seed={seed}",
        f"offers.outcomes_dir={work / 'outcomes'}",
        f"offers.uplift_dir={work / 'uplift'}",
    ]
    scoring = [*common, f"model_dir={model_dir}", "score.reasons_for=none"]
    sim = [f"data_dir={data}", f"export_dir={exports}", f"seed={seed}"]
    learning = [
        f"offers.explore_fraction={args.explore_fraction}",
        f"offers.control_fraction={args.control_fraction}",
    ]
    for _ in range(args.campaigns):
        _score(scoring, work, exports, *learning)
        simulate_campaign.run(_cfg("simulate_campaign", [*sim, "days=30"]))
    horizon = int(_cfg("score", []).world.horizon_days)
    simulate_campaign.run(_cfg("simulate_campaign", [*sim, f"days={horizon - 30}"]))
    outcomes.run(
        _cfg(
            "outcomes",
            [
                *common,
                f"export.dir={exports}",
                f"outcomes.dir={work / 'outcomes'}",
                f"output_dir={work / 'run'}",
            ],
        )
    )
    trained = uplift.run(
        _cfg(
            "uplift",
            [
                *common,
                f"model_dir={model_dir}",
                f"export.dir={exports}",
                f"uplift.model_dir={work / 'uplift'}",
                f"output_dir={work / 'run'}",
                *args.uplift,
            ],
        )
    )
    final = ["offers.control_fraction=0", "offers.explore_fraction=0"]
    plans: dict[str, pd.DataFrame] = {}
    folder = _score(scoring, work, work / "final-risk", *final, "offers.save_rates=measured")
    plans["risk"] = pd.read_parquet(folder / "scores.parquet")
    final.append("offers.save_rates=measured")
    folder = _score(scoring, work, work / "final-uplift", *final, "offers.objective=uplift")
    plans["uplift"] = pd.read_parquet(folder / "scores.parquet")
    store = UpliftStore(work / "uplift")
    if trained.version is not None and store.champion != trained.version:
        store.promote(trained.version, reason="benchmark: served whatever its gate said")
        folder = _score(scoring, work, work / "final-any", *final, "offers.objective=uplift")
        plans["uplift_any"] = pd.read_parquet(folder / "scores.parquet")
    else:
        plans["uplift_any"] = plans["uplift"]
    config = offers.OfferConfig.from_mapping(
        OmegaConf.to_container(_cfg("score", scoring).offers, resolve=True),  # type: ignore[arg-type]
        tiers=list(_cfg("score", []).tiers.names),
    )
    as_of = pd.Timestamp(plans["risk"]["as_of"].iloc[0])
    state = load_world(data)
    campaign = CampaignConfig.from_mapping(
        OmegaConf.to_container(_cfg("simulate_campaign", []).campaign, resolve=True)  # type: ignore[arg-type]
    )
    effects = offer_effects(
        state, as_of, horizon, _eligible_pairs(plans["risk"], config), campaign, seed=seed
    )
    plans["oracle"] = _oracle(plans["risk"], effects, config)
    values = {name: _plan_value(plan, effects) for name, plan in plans.items()}
    manifest = store.manifests()[-1] if store.versions() else {}
    evaluation = manifest.get("evaluation", {})
    return {
        "seed": seed,
        "as_of": str(as_of.date()),
        "plans": values,
        "gate": {
            "status": trained.status,
            "passed": trained.passed,
            "qini_uplift": evaluation.get("qini_uplift"),
            "qini_risk": evaluation.get("qini_risk"),
            "reason": trained.reason,
        },
    }


def summarise(results: list[dict[str, Any]]) -> None:
    """Per seed each plan's true value and share of the oracle's; medians over the seeds."""
    names = ("risk", "uplift", "uplift_any", "oracle")
    print("seed  as_of       " + "  ".join(f"{n:>12}" for n in names) + "  uplift/risk  gate")
    for r in results:
        v = {n: r["plans"][n]["value"] for n in names}
        # a ratio means something only when the risk plan earns anything
        ratio = v["uplift"] / v["risk"] if v["risk"] > 0 else float("nan")
        gate = r["gate"]
        q = (
            f"Qini {gate['qini_uplift']:.4f} vs {gate['qini_risk']:.4f}"
            if gate["qini_uplift"] is not None
            else gate["status"]
        )
        print(
            f"{r['seed']:>4}  {r['as_of']}  "
            + "  ".join(f"{v[n]:>12.0f}" for n in names)
            + f"  {ratio:>11.2f}  {'passed' if gate['passed'] else 'not passed'} ({q})"
        )
        line = "  ".join(f"{n} {v[n] / v['oracle']:.1%}" for n in names[:-1])
        print(f"      share of the oracle's value: {line}")
    if results:
        value = {n: statistics.median(r["plans"][n]["value"] for r in results) for n in names}
        share = {
            n: statistics.median(
                r["plans"][n]["value"] / r["plans"]["oracle"]["value"] for r in results
            )
            for n in names
        }
        print(
            "medians: "
            + ", ".join(f"{n} {value[n]:.0f} ({share[n]:.1%} of the oracle)" for n in names)
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--campaigns", type=int, default=5)
    parser.add_argument("--explore-fraction", type=float, default=0.2)
    parser.add_argument("--control-fraction", type=float, default=0.1)
    parser.add_argument(
        "--uplift", nargs="*", default=[], help="overrides of pipelines.uplift: uplift.learner=t"
    )
    parser.add_argument("--out", type=Path, default=REPO / "data/benchmarks/targeting.jsonl")
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        train_data = root / "train-world"
        _world(1000, args.customers, train_data)
        model_dir = train_model(train_data, root)
        for seed in args.seeds:
            record = one_seed(seed, args, model_dir, root / f"seed{seed}")
            results.append(record)
            with args.out.open("a", encoding="utf-8") as out:
                out.write(json.dumps(record) + "\n")
            print(f"seed {seed}: {json.dumps(record['plans'])}", flush=True)
    summarise(results)


if __name__ == "__main__":
    main()

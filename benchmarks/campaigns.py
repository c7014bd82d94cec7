"""Do measured save rates cover the true effect? Campaigns simulated on many seeded worlds.

    python benchmarks/campaigns.py [--seeds 100] [--customers 5000] [--control-fraction 0.25]
                                   [--campaigns 3] [--out data/benchmarks/campaigns.jsonl]

One model is trained on a world of its own (seed 1000). Then, for every seed, a small demo world
is generated and run month after month the way a retention team runs it: ``pipelines.score``
(the plan, its control group drawn per campaign with ``offers.control_fraction``), then
``pipelines.simulate_campaign days=30``, ``--campaigns`` times; the world is moved on until the
last campaign's window has passed, and ``pipelines.outcomes`` measures every campaign. Each
offer x campaign cell is compared with the truth from the oracle (both outcomes of every
contacted and control customer): the intention-to-treat save rate ``1 - mean(churned with the
offer) / mean(churned without)`` over the cell's two arms.

Printed: the cells, the share the fixed rule deems measurable, the 95% intervals' coverage of
the truth among them (target 90-98%, over at least 100 seeds, at least half measurable), and the
error of the pooled save rate (churn.save_rates, configured rate as the prior) after 1, 2, ...
campaigns. Results per seed are appended to ``--out`` (JSON lines), so a long run can be
resumed and read while it goes.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf

from churn import synthetic
from churn.save_rates import CampaignArms, pooled_save_rate
from pipelines import outcomes, score, simulate_campaign

sys.path.insert(0, str(Path(__file__).resolve().parent))
from runs import REPO, train_model

CONF = REPO / "conf"


def _cfg(name: str, overrides: list[str]) -> DictConfig:
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name=name, overrides=overrides)


def _world(seed: int, customers: int, folder: Path) -> None:
    values = OmegaConf.to_container(_cfg("generate", []).generate.world, resolve=True)
    params = synthetic.WorldConfig.from_mapping(values)  # type: ignore[arg-type]
    synthetic.save(synthetic.generate(params, n_customers=customers, seed=seed), folder, seed=seed)


def _truth(data: Path, as_of: str) -> dict[str, float]:
    """The true intention-to-treat save rate of each offer of one campaign (both arms)."""
    oracle = pd.read_parquet(data / "campaigns" / as_of / "oracle.parquet")
    out = {}
    for offer, rows in oracle.groupby("offer"):
        without = float(rows["churned_without_offer"].mean())
        if without > 0:
            out[str(offer)] = 1 - float(rows["churned_with_offer"].mean()) / without
    return out


def one_seed(seed: int, args: argparse.Namespace, model_dir: Path, work: Path) -> dict[str, Any]:
    """Run the campaigns on one seeded world; the measured and true save rates per cell."""
    data, exports, measured = work / "data", work / "exports", work / "outcomes"
    _world(seed, args.customers, data)
    common = [f"data.generate.output_dir={data}", f"export.dir={exports}", "tracking=none"]
    for _ in range(args.campaigns):
        score.run(
            _cfg(
                "score",
                [
                    *common,
                    f"model_dir={model_dir}",
                    f"output_dir={work / 'run'}",
                    f"offers.control_fraction={args.control_fraction}",
                    f"seed={seed}",
                ],
            )
        )
        sim = [f"data_dir={data}", f"export_dir={exports}", f"seed={seed}"]
        simulate_campaign.run(_cfg("simulate_campaign", [*sim, "days=30"]))
    horizon = int(_cfg("score", []).world.horizon_days)
    rest = horizon - 30
    simulate_campaign.run(_cfg("simulate_campaign", [*sim, f"days={rest}"]))
    result = outcomes.run(
        _cfg("outcomes", [*common, f"outcomes.dir={measured}", f"output_dir={work / 'run'}"])
    )
    cells = []
    for as_of in result.measured:
        truth = _truth(data, as_of)
        document = json.loads((measured / as_of / "outcomes.json").read_text(encoding="utf-8"))
        for row in document["by_offer"]:
            if row["offer"] not in truth:
                continue
            cells.append(
                {
                    "seed": seed,
                    "as_of": as_of,
                    "offer": row["offer"],
                    "truth": truth[row["offer"]],
                    "save_rate": row["save_rate"],
                    "low": row["save_rate_low"],
                    "high": row["save_rate_high"],
                    "measurable": bool(row["measurable"]),
                    "counts": [
                        row["contacted"],
                        row["churned_contacted"],
                        row["control"],
                        row["churned_control"],
                    ],
                    "configured": row["configured_save_rate"],
                }
            )
    return {"seed": seed, "cells": cells}


def summarise(results: list[dict[str, Any]], campaigns: int) -> None:
    cells = [c for r in results for c in r["cells"]]
    measurable = [c for c in cells if c["measurable"]]
    covered = [c for c in measurable if c["low"] <= c["truth"] <= c["high"]]
    print(f"seeds {len(results)}, offer x campaign cells {len(cells)}")
    if not cells:
        return
    print(f"measurable {len(measurable)} ({100 * len(measurable) / len(cells):.0f}%)")
    if measurable:
        print(f"95% intervals covering the truth: {100 * len(covered) / len(measurable):.1f}%")
    by_offer: dict[str, list[dict[str, Any]]] = {}
    for c in cells:
        by_offer.setdefault(c["offer"], []).append(c)
    print("offer                        cells  measurable  covered  mean truth  mean measured")
    for offer, rows in sorted(by_offer.items()):
        ok = [c for c in rows if c["measurable"]]
        hit = [c for c in ok if c["low"] <= c["truth"] <= c["high"]]
        measured = [c["save_rate"] for c in rows if c["save_rate"] is not None]
        print(
            f"{offer:<28} {len(rows):>5}  {len(ok):>10}  {len(hit):>7}  "
            f"{statistics.mean(c['truth'] for c in rows):>10.3f}  "
            f"{statistics.mean(measured) if measured else float('nan'):>13.3f}"
        )
    print("pooled save rate error (mean |pooled - mean truth|) after k campaigns:")
    for k in range(1, campaigns + 1):
        errors = []
        for r in results:
            for offer in {c["offer"] for c in r["cells"]}:
                rows = sorted(
                    (c for c in r["cells"] if c["offer"] == offer), key=lambda c: c["as_of"]
                )
                if len(rows) < k:
                    continue
                arms = [CampaignArms(c["as_of"], offer, *c["counts"]) for c in rows[:k]]
                pooled = pooled_save_rate(rows[0]["configured"], 50.0, arms)
                errors.append(abs(pooled.rate - statistics.mean(c["truth"] for c in rows[:k])))
        if errors:
            print(f"  {k}: {statistics.mean(errors):.4f} over {len(errors)} offer x seed pairs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--control-fraction", type=float, default=0.25)
    parser.add_argument("--campaigns", type=int, default=3)
    parser.add_argument("--out", type=Path, default=REPO / "data/benchmarks/campaigns.jsonl")
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    done = {}
    if args.out.exists():
        for line in args.out.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            done[record["seed"]] = record
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        train_data = root / "train-world"
        _world(1000, args.customers, train_data)
        model_dir = train_model(train_data, root)
        for seed in range(args.seeds):
            if seed in done:
                continue
            work = root / f"seed{seed}"
            record = one_seed(seed, args, model_dir, work)
            shutil.rmtree(work, ignore_errors=True)
            done[seed] = record
            with args.out.open("a", encoding="utf-8") as out:
                out.write(json.dumps(record) + "\n")
            print(f"seed {seed}: {len(record['cells'])} cells", flush=True)
    summarise([done[s] for s in sorted(done) if s < args.seeds], args.campaigns)


if __name__ == "__main__":
    main()

"""Acceptance figures of ``python -m pipelines.train`` on the default demo data, over seeds.

For each generator seed: generate the default demo world (20,000 customers) with that seed,
then time the whole ``python -m pipelines.train`` (data loading, features at 12 cutoffs, tuning
off, evaluation and deployment fits, plots, bundle, MLflow tracking to a fresh SQLite file) as a
subprocess, and read the run's ``metrics.json``. Prints, per seed and as mean and spread over
seeds: the calibrated model's test ROC-AUC, Brier score and ECE, each baseline's, the margins,
the oracle's and the gap to it, and the wall time.

    python benchmarks/train.py [--seeds 0 1 2] [--customers 20000] [overrides ...]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

from runs import run, world_data

BASELINES = ("recency", "rfm_logistic", "bgnbd")


def _one(seed: int, customers: int, overrides: list[str], root: Path) -> dict[str, float]:
    data = world_data("demo", seed, customers, root)
    work = root / f"seed{seed}"
    work.mkdir()
    seconds = run(
        [
            sys.executable,
            "-m",
            "pipelines.train",
            f"data.generate.output_dir={data}",
            f"seed={seed}",
            f"model_dir={work}/models/churn",
            f"hydra.run.dir={work}/run",
            *overrides,
        ],
        cwd=work,  # mlflow.db and mlruns/ land here
    )
    metrics = json.loads((work / "run" / "metrics.json").read_text())
    row = {"seconds": seconds}
    for name in ("roc_auc", "brier", "ece", "pr_auc", "capture_top10"):
        row[f"model {name}"] = metrics[f"test/{name}"]
        for other in (*BASELINES, "oracle"):
            key = f"test/{other}/{name}"
            if key in metrics:
                row[f"{other} {name}"] = metrics[key]
    for baseline in BASELINES:
        row[f"AUC margin over {baseline}"] = (
            metrics["test/roc_auc"] - metrics[f"test/{baseline}/roc_auc"]
        )
        row[f"Brier margin over {baseline}"] = (
            metrics[f"test/{baseline}/brier"] - metrics["test/brier"]
        )
    if "test/oracle/roc_auc" in metrics:
        row["AUC gap to oracle"] = metrics["test/oracle/roc_auc"] - metrics["test/roc_auc"]
        row["Brier gap to oracle"] = metrics["test/brier"] - metrics["test/oracle/brier"]
    return row


def main() -> None:
    """Run the seeds and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("overrides", nargs="*", help="extra Hydra overrides for pipelines.train")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="churn-train-bench-") as tmp:
        rows = {seed: _one(seed, args.customers, args.overrides, Path(tmp)) for seed in args.seeds}
    names = list(next(iter(rows.values())))
    header = f"{'test cutoff metric':32}" + "".join(f"{'seed ' + str(s):>10}" for s in rows)
    print(f"pipelines.train on the demo world ({args.customers} customers), per generator seed")
    print(header + f"{'mean':>10}{'spread':>10}")
    for name in names:
        values = [rows[s][name] for s in rows]
        spread = max(values) - min(values)
        cells = "".join(f"{v:10.4f}" for v in values)
        print(f"{name:32}{cells}{statistics.mean(values):10.4f}{spread:10.4f}")
    print("spread = max - min over seeds; seconds = wall time of the whole pipelines.train")


if __name__ == "__main__":
    main()

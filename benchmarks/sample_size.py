"""The training sample's size against quality, time and memory (``train.max_customers``).

Generates the demo world once at ``--customers`` customers (``data/benchmarks/``, git-ignored)
and reads its files once (a warm disk cache for every run), then runs the whole
``python -m pipelines.train`` (tracking off) in a fresh process for each sample size and repeat,
and prints per size the medians of: the calibrated model's test ROC-AUC, Brier score and ECE
(the test cutoff is never sampled, so every size is scored on the same rows), the training rows
and customers of the evaluation recipe, the wall time of the whole run and its peak RSS.

    python benchmarks/sample_size.py [--customers 200000] [--sizes 10000 30000 100000 all]
                                     [--repeats 1] [--seed 0] [overrides ...]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
from pathlib import Path

from runs import run_measured, world_data

RECIPE = re.compile(r"evaluation recipe: (\d+) training rows \((\d+) customers\)")
COLUMNS = ("roc_auc", "brier", "ece", "rows", "customers", "seconds", "rss_gib")


def _one(size: str, data: Path, seed: int, overrides: list[str], work: Path) -> dict[str, float]:
    """One ``pipelines.train`` at sample size ``size`` (``all``: no sample) in ``work``."""
    work.mkdir(parents=True)
    setting = "null" if size == "all" else size
    seconds, rss = run_measured(
        [
            sys.executable,
            "-m",
            "pipelines.train",
            f"data.generate.output_dir={data}",
            f"seed={seed}",
            f"train.max_customers={setting}",
            "tracking=none",
            f"model_dir={work}/models/churn",
            f"hydra.run.dir={work}/run",
            *overrides,
        ],
        cwd=work,
    )
    metrics = json.loads((work / "run" / "metrics.json").read_text())
    found = RECIPE.search((work / "run" / "train.log").read_text())
    rows, customers = (int(found[1]), int(found[2])) if found else (0, 0)
    return {
        "roc_auc": metrics["test/roc_auc"],
        "brier": metrics["test/brier"],
        "ece": metrics["test/ece"],
        "rows": rows,
        "customers": customers,
        "seconds": seconds,
        "rss_gib": rss / 1024,
    }


def _warm(data: Path) -> None:
    """Read the world's files once, so the first run does not pay for a cold disk cache."""
    for path in sorted(data.rglob("*.parquet")):
        path.read_bytes()


def main() -> None:
    """Run every size and repeat, and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--sizes", nargs="+", default=["10000", "30000", "100000", "all"])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0, help="the world's and the training's")
    parser.add_argument("overrides", nargs="*", help="extra Hydra overrides for pipelines.train")
    args = parser.parse_args()
    for size in args.sizes:
        if size != "all" and not size.isdigit():
            parser.error(f"--sizes: expected whole numbers or 'all'; got {size!r}")
    with tempfile.TemporaryDirectory(prefix="churn-sample-bench-") as tmp:
        root = Path(tmp)
        data = world_data("demo", args.seed, args.customers, root)
        _warm(data)
        medians = {}
        for size in args.sizes:
            runs = [
                _one(size, data, args.seed, args.overrides, root / f"{size}-{k}")
                for k in range(args.repeats)
            ]
            medians[size] = {c: statistics.median(r[c] for r in runs) for c in COLUMNS}
            print(f"done: max_customers={size}: {medians[size]}", file=sys.stderr)
    print(
        f"pipelines.train on the demo world ({args.customers} customers, seed {args.seed}); "
        f"medians of {args.repeats} run(s) per size"
    )
    print(
        f"{'max_customers':>14}{'customers':>11}{'rows':>10}{'ROC-AUC':>9}{'Brier':>8}"
        f"{'ECE':>8}{'wall s':>8}{'peak GiB':>9}"
    )
    for size, m in medians.items():
        print(
            f"{size:>14}{m['customers']:>11,.0f}{m['rows']:>10,.0f}{m['roc_auc']:>9.4f}"
            f"{m['brier']:>8.4f}{m['ece']:>8.4f}{m['seconds']:>8.1f}{m['rss_gib']:>9.2f}"
        )
    print("customers, rows: the evaluation recipe's training customers and rows")


if __name__ == "__main__":
    main()

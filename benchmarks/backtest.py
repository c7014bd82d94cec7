"""Backtest figures of the deployed recipe and the baselines on every demo world, over seeds.

For each world (``conf/world/<name>.yaml``; ``short`` is left out, its history is too short for
4 dates at its horizon) and generator seed: generate the world (20,000 customers by default),
run ``python -m pipelines.backtest world=<name>`` (4 as-of dates, the world's default horizon
and step, tracking off) as a subprocess and read its tables. Prints, per world:

* the median over seeds of each scorer's pooled metrics (ROC-AUC, Brier, ECE, calibration in
  the large) and the model's gap to the oracle;
* the acceptance checks at every (seed, date): the upper end of the 95% interval of the model's
  ROC-AUC minus the best baseline's is >= 0, the mean difference over the dates is >= 0, the
  model's Brier is no higher than every baseline's, its ECE is at most 0.015 and its
  calibration in the large within +-0.01.

``--cost`` instead times one ``pipelines.train`` and one ``pipelines.backtest`` on the same data
(tracking off), alternately, ``--repeats`` times, and prints the medians and their ratio.

    python benchmarks/backtest.py [--worlds demo cohort ...] [--seeds 0 1 2] [--customers 20000]
    python benchmarks/backtest.py --cost [--world demo] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import pandas as pd

from runs import REPO, run, world_data

BASELINES = ("recency", "rfm_logistic", "bgnbd")
SHOWN = ("roc_auc", "brier", "ece", "calibration_in_the_large")


def _backtest(world: str, data: Path, seed: int, run_dir: Path, extra: list[str]) -> float:
    return run(
        [
            sys.executable,
            "-m",
            "pipelines.backtest",
            f"world={world}",
            f"data.generate.output_dir={data}",
            f"seed={seed}",
            "tracking=none",
            f"hydra.run.dir={run_dir}",
            *extra,
        ],
        cwd=run_dir.parent,
    )


def _checks(per_date: pd.DataFrame, differences: pd.DataFrame) -> dict[str, bool]:
    """The acceptance checks of one seed's backtest."""
    dated = differences[differences["date"] != "pooled"]
    auc = dated[dated["metric"] == "roc_auc"]
    model = per_date[per_date["scorer"] == "model"].set_index("date")
    baselines = per_date[per_date["scorer"].isin(BASELINES)]
    best_brier = baselines.groupby("date")["brier"].min()
    return {
        "AUC interval reaches 0 at every date": bool((auc["high"] >= 0).all()),
        "mean AUC difference >= 0": bool(auc["difference"].mean() >= 0),
        "Brier <= every baseline at every date": bool(
            (model["brier"] <= best_brier.reindex(model.index) + 1e-12).all()
        ),
        "ECE <= 0.015 at every date": bool((model["ece"] <= 0.015).all()),
        "calibration in the large within +-0.01 at every date": bool(
            (model["calibration_in_the_large"].abs() <= 0.01).all()
        ),
    }


def _world(world: str, seeds: list[int], customers: int, root: Path, extra: list[str]) -> None:
    pooled, checks, seconds = [], [], []
    for seed in seeds:
        data = world_data(world, seed, customers, root)
        run_dir = root / f"{world}-{seed}" / "run"
        run_dir.parent.mkdir(parents=True)
        seconds.append(_backtest(world, data, seed, run_dir, extra))
        folder = run_dir / "backtest"
        pooled.append(pd.read_csv(folder / "pooled.csv").assign(seed=seed))
        checks.append(
            _checks(pd.read_csv(folder / "per_date.csv"), pd.read_csv(folder / "differences.csv"))
        )
    table = pd.concat(pooled).groupby("scorer", sort=False)[list(SHOWN)].median()
    print(f"\n## {world}: pooled over 4 dates, median of seeds {seeds}, {customers} customers\n")
    print("| scorer | " + " | ".join(SHOWN) + " |")
    print("|---|" + "---|" * len(SHOWN))
    for scorer, row in table.iterrows():
        print(
            f"| {scorer} | "
            + " | ".join(
                f"{row[m]:+.4f}" if m.startswith("cal") else f"{row[m]:.4f}" for m in SHOWN
            )
            + " |"
        )
    if "oracle" in table.index:
        gap = table.loc["oracle", "roc_auc"] - table.loc["model", "roc_auc"]
        print(f"\nmodel's ROC-AUC gap to the oracle: {gap:.4f}")
    print("\n| check | seeds passing |")
    print("|---|---|")
    for name in checks[0]:
        print(f"| {name} | {sum(c[name] for c in checks)} of {len(checks)} |")
    print(f"\nbacktest wall time: median {statistics.median(seconds):.1f} s")


def _cost(world: str, customers: int, repeats: int, root: Path) -> None:
    data = world_data(world, 0, customers, root)
    train_s, backtest_s = [], []
    for i in range(repeats):
        work = root / f"cost-{i}"
        work.mkdir()
        train_s.append(
            run(
                [
                    sys.executable,
                    "-m",
                    "pipelines.train",
                    f"world={world}",
                    f"data.generate.output_dir={data}",
                    "tracking=none",
                    f"model_dir={work}/models/churn",
                    f"hydra.run.dir={work}/train",
                ],
                cwd=work,
            )
        )
        backtest_s.append(_backtest(world, data, 0, work / "backtest", []))
    train_median, backtest_median = statistics.median(train_s), statistics.median(backtest_s)
    print(f"world {world}, {customers} customers, {repeats} alternating runs, tracking off")
    print(f"pipelines.train:    median {train_median:.1f} s  {[round(s, 1) for s in train_s]}")
    print(
        f"pipelines.backtest: median {backtest_median:.1f} s  {[round(s, 1) for s in backtest_s]}"
    )
    print(f"ratio backtest / train: {backtest_median / train_median:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worlds", nargs="+", default=None)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--cost", action="store_true")
    parser.add_argument("--world", default="demo")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("overrides", nargs="*", help="extra overrides for pipelines.backtest")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="churn-backtest-bench-") as tmp:
        root = Path(tmp)
        if args.cost:
            _cost(args.world, args.customers, args.repeats, root)
            return
        worlds = args.worlds or sorted(
            p.stem for p in (REPO / "conf" / "world").glob("*.yaml") if p.stem != "short"
        )
        for world in worlds:
            _world(world, args.seeds, args.customers, root, args.overrides)


if __name__ == "__main__":
    main()

"""Scoring figures: acceptance on the demo data, and throughput at a million customers.

    python benchmarks/score.py [--customers 1000000] [--repeats 3] [--skip-scale]

1. **Demo acceptance** (the default demo world, 20,000 customers, seed 0): trains a bundle
   (``tracking=none``), times ``python -m pipelines.score``, then checks the scores against the
   held-back future: realised churn (no purchase in the horizon after the as-of date) per risk
   tier; and compares the offer plan with two references at the same budget, valuing each plan
   with the generator's true probabilities (the oracle): ``highest_risk`` (the costliest eligible
   offer to the riskiest customers first) and ``random`` (customers in random order, mean of 5
   seeds).
2. **Throughput**: the demo world generated at ``--customers`` (default 1M, about 15M
   transactions), scored with the demo bundle (features included), ``--repeats`` runs in fresh
   processes: median wall time, customers per second and peak RSS, and the per-stage times of
   the median run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from churn import offers, synthetic
from churn.scoring import TierConfig

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "data" / "demo"


_WRAPPER = (
    "import resource, runpy, sys\n"
    "sys.argv = sys.argv[1:]\n"
    "try:\n"
    "    runpy.run_module(sys.argv[0], run_name='__main__', alter_sys=True)\n"
    "finally:\n"
    "    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
    "    sys.stderr.write(f'\\nPEAK_RSS_KIB={kib}\\n')\n"
)


def _python(args: list[str], cwd: Path) -> tuple[float, float]:
    """Run ``python -m <args>`` in a fresh process; return wall seconds and its peak RSS (GiB)."""
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "MLFLOW_LOGGING_LEVEL": "WARNING"}
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _WRAPPER, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-4000:])
        raise SystemExit(f"failed: {' '.join(args)}")
    kib = int(proc.stderr.rsplit("PEAK_RSS_KIB=", 1)[1].split()[0])
    return elapsed, kib / 2**20


def _generate(folder: Path, customers: int, tmp: Path) -> None:
    if (folder / "transactions.parquet").exists():
        return
    _python(
        [
            "pipelines.generate",
            f"generate.output_dir={folder}",
            f"generate.n_customers={customers}",
            f"hydra.run.dir={tmp}/generate",
        ],
        REPO,
    )


def _score_cmd(data: Path, model: Path, exports: Path, run: Path) -> list[str]:
    return [
        "pipelines.score",
        f"data.generate.output_dir={data}",
        f"model_dir={model}",
        f"export.dir={exports}",
        f"hydra.run.dir={run}",
    ]


def demo_acceptance(tmp: Path) -> Path:
    """Train on the demo data, score it, print tiers against the future and the offer plans."""
    _generate(DEMO, 20_000, tmp)
    model = tmp / "models" / "churn"
    seconds, _ = _python(
        [
            "pipelines.train",
            f"data.generate.output_dir={DEMO}",
            "tracking=none",
            f"model_dir={model}",
            f"hydra.run.dir={tmp}/train",
        ],
        REPO,
    )
    print(f"trained the demo bundle in {seconds:.1f} s")
    seconds, rss = _python(_score_cmd(DEMO, model, tmp / "exports", tmp / "score"), REPO)
    exported = (tmp / "exports").iterdir()
    folder = next(p for p in exported if p.is_dir() and not p.name.startswith("."))
    manifest = json.loads((folder / "manifest.json").read_text())
    as_of = pd.Timestamp(manifest["as_of"])
    horizon = int(manifest["model"]["horizon_days"])
    print(
        f"scored the demo population ({manifest['counts']['customers']} customers) in "
        f"{seconds:.1f} s wall (peak RSS {rss:.2f} GiB); stages: "
        + ", ".join(f"{k} {v:.2f} s" for k, v in manifest["seconds"].items())
    )

    scores = pd.read_parquet(folder / "scores.parquet")
    future = pd.read_parquet(DEMO / "future" / "transactions.parquet")
    bought = future[
        (future["amount"] > 0)
        & (future["timestamp"] >= as_of)
        & (future["timestamp"] < as_of + pd.Timedelta(days=horizon))
    ]["customer_id"]
    scored = scores[scores["status"] == "scored"].copy()
    scored["churned"] = ~scored["customer_id"].isin(set(bought))
    print(
        f"\nrealised churn in the {horizon} days after {as_of.date()} (held-back future), by tier"
    )
    print(f"{'tier':12}{'customers':>10}{'mean p':>9}{'realised':>10}")
    for name in TierConfig().names:
        rows = scored[scored["risk_tier"] == name]
        print(
            f"{name:12}{len(rows):10d}{rows['churn_probability'].mean():9.3f}"
            f"{rows['churned'].mean():10.3f}"
        )
    _compare_plans(scores, as_of, horizon)
    return model


def _compare_plans(scores: pd.DataFrame, as_of: pd.Timestamp, horizon: int) -> None:
    """Value each strategy's plan with the oracle's probabilities at the same budget."""
    import yaml

    catalog = yaml.safe_load((REPO / "conf" / "offers" / "default.yaml").read_text())
    tiers = yaml.safe_load((REPO / "conf" / "tiers" / "default.yaml").read_text())
    config = offers.OfferConfig.from_mapping(catalog, tiers=tiers["names"])
    truth, world = synthetic.load_truth(DEMO)
    oracle = synthetic.oracle_no_purchase(truth, world, as_of, horizon_days=horizon)
    # the oracle knows every buyer; a sign-up who never bought makes no purchase without action
    true_p = oracle.reindex(scores["customer_id"]).fillna(1.0).to_numpy()
    value = scores["value"].fillna(0.0).to_numpy()
    print(f"\noffer plans at the same budget ({config.budget:.0f}), valued with the oracle")
    print(f"{'strategy':14}{'offered':>9}{'cost':>10}{'saved value - cost':>20}")
    for strategy in ("net_benefit", "highest_risk", "random"):
        seeds = range(5) if strategy == "random" else range(1)
        results = []
        for seed in seeds:
            plan = offers.assign_offers(scores, config, seed=seed, strategy=strategy)
            results.append(
                (
                    int(plan.columns["offer"].notna().sum()),
                    plan.budget_used,
                    offers.expected_saved_value(plan, true_p, value, config),
                )
            )
        offered, cost, saved = (statistics.mean(x) for x in zip(*results, strict=True))
        print(f"{strategy:14}{offered:9.0f}{cost:10.0f}{saved:20.0f}")


def throughput(customers: int, repeats: int, model: Path, tmp: Path) -> None:
    """Median wall time and peak RSS of scoring ``customers`` (features included)."""
    data = REPO / "data" / "benchmarks" / f"demo-{customers}-seed0"
    _generate(data, customers, tmp)
    runs = []
    for k in range(repeats):
        seconds, rss = _python(
            _score_cmd(data, model, tmp / f"exports-{k}", tmp / f"scale-{k}"), REPO
        )
        manifest = json.loads(
            next((tmp / f"exports-{k}").iterdir()).joinpath("manifest.json").read_text()
        )
        runs.append((seconds, rss, manifest))
    runs.sort(key=lambda r: r[0])
    seconds, _, manifest = runs[len(runs) // 2]
    n = manifest["counts"]["customers"]
    rss = max(r[1] for r in runs)
    print(
        f"\nscoring {n} customers ({manifest['input']['rows']['transactions']['used']} "
        f"transactions), {repeats} runs: median {seconds:.1f} s wall "
        f"({n / seconds:,.0f} customers/s), peak RSS {rss:.2f} GiB; runs "
        + ", ".join(f"{r[0]:.1f}" for r in runs)
    )
    print(
        "stages of the median run: "
        + ", ".join(f"{k} {v:.1f} s" for k, v in manifest["seconds"].items())
    )


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-scale", action="store_true")
    args = parser.parse_args()
    np.seterr(all="ignore")
    with tempfile.TemporaryDirectory(prefix="churn-score-bench-") as name:
        tmp = Path(name)
        model = demo_acceptance(tmp)
        if not args.skip_scale:
            throughput(args.customers, args.repeats, model, tmp)


if __name__ == "__main__":
    main()

"""Train and score end to end at scale: wall time, peak memory and stage times per pipeline.

    python benchmarks/end_to_end.py [--customers 3200000] [--repeats 1] [--train ...] [--score ...]

The default demo world generated at ``--customers`` (3.2M customers are about 50M transactions;
written once to ``data/benchmarks/demo-<customers>-seed0``), then ``python -m pipelines.train``
(``tracking=none``, the defaults otherwise: ``train.max_customers: auto`` samples the training
customers inside the query) and ``python -m pipelines.score`` with the bundle it stored, each in a
fresh process, ``--repeats`` times. Printed per pipeline: the median wall time, the peak resident
memory of the process (``wait4``), the stage times of the median run (from the run's log and the
export manifest) and, for scoring, customers per second. ``--train`` and ``--score`` pass extra
overrides, e.g. ``--score score.reasons_for=offered``.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
from pathlib import Path

import pyarrow.parquet as pq

from runs import run_measured, world_data

_STAGE = re.compile(r"stage (\w+): done in ([0-9.]+) s")


def _stages(log: Path) -> dict[str, float]:
    """``stage <name>: done in <s> s`` lines of a run's log."""
    if not log.is_file():
        return {}
    found = _STAGE.findall(log.read_text(encoding="utf-8", errors="replace"))
    return {name: float(seconds) for name, seconds in found}


def _median_run(runs: list[dict[str, object]]) -> dict[str, object]:
    ordered = sorted(runs, key=lambda r: float(r["seconds"]))  # type: ignore[arg-type]
    return ordered[len(ordered) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=3_200_000)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--train", nargs="*", default=[], help="extra pipelines.train overrides")
    parser.add_argument("--score", nargs="*", default=[], help="extra pipelines.score overrides")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        data = world_data("demo", 0, args.customers, root)
        rows = pq.ParquetFile(data / "transactions.parquet").metadata.num_rows
        print(f"data: {args.customers:,} customers, {rows:,} transactions ({data})", flush=True)
        results: dict[str, list[dict[str, object]]] = {"train": [], "score": []}
        for repeat in range(args.repeats):
            work = root / f"run{repeat}"
            models, exports = work / "models", work / "exports"
            train = [
                sys.executable,
                "-m",
                "pipelines.train",
                f"data.generate.output_dir={data}",
                f"model_dir={models}",
                "tracking=none",
                f"hydra.run.dir={work}/train",
                *args.train,
            ]
            seconds, peak = run_measured(train, work.parent)
            stages = _stages(work / "train" / "train.log")
            results["train"].append({"seconds": seconds, "peak_mib": peak, "stages": stages})
            print(f"train {repeat}: {seconds:.0f} s, peak {peak / 1024:.1f} GiB", flush=True)
            score = [
                sys.executable,
                "-m",
                "pipelines.score",
                f"data.generate.output_dir={data}",
                f"model_dir={models}",
                f"export.dir={exports}",
                "tracking=none",
                f"hydra.run.dir={work}/score",
                *args.score,
            ]
            seconds, peak = run_measured(score, work.parent)
            (folder,) = [p for p in exports.iterdir() if p.is_dir() and not p.name.startswith(".")]
            manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
            customers = int(manifest["counts"]["customers"])
            stages = {k: float(v) for k, v in manifest.get("seconds", {}).items()} or _stages(
                work / "score" / "score.log"
            )
            results["score"].append(
                {"seconds": seconds, "peak_mib": peak, "stages": stages, "customers": customers}
            )
            print(f"score {repeat}: {seconds:.0f} s, peak {peak / 1024:.1f} GiB", flush=True)
    for name, runs in results.items():
        median = _median_run(runs)
        wall = statistics.median(float(r["seconds"]) for r in runs)  # type: ignore[arg-type]
        peak = statistics.median(float(r["peak_mib"]) for r in runs)  # type: ignore[arg-type]
        line = (
            f"{name}: median {wall:.0f} s wall, peak {peak / 1024:.1f} GiB over {len(runs)} run(s)"
        )
        if name == "score":
            line += f", {int(median['customers']) / wall:,.0f} customers/s"  # type: ignore[call-overload]
        print(line)
        stages: dict[str, float] = dict(median["stages"])  # type: ignore[call-overload]
        print("  stages: " + ", ".join(f"{k} {v:.0f} s" for k, v in stages.items()))


if __name__ == "__main__":
    main()

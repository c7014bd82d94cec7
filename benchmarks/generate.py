"""Benchmark of the demo data generator: time, throughput and peak memory.

    python benchmarks/generate.py [--customers 1000000] [--repeats 3]

Each repeat runs in a fresh process (so peak RSS is that run's own). Reported: the median wall
time of the simulation and of writing its Parquet files, transactions per second, and peak RSS.
The reference is the Parquet write of the same tables in the same process: the ratio says how
many times the unavoidable I/O the simulation itself costs.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def child(customers: int) -> None:
    """One measured run; prints a JSON line."""
    from churn import synthetic

    params = synthetic.WorldConfig()
    started = time.perf_counter()
    demo = synthetic.generate(params, n_customers=customers, seed=0)
    simulated = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        synthetic.save(demo, Path(tmp) / "demo", seed=0)
        written = time.perf_counter() - started
    rows = demo.transactions.num_rows + demo.future_transactions.num_rows
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "simulate_s": simulated,
                "write_s": written,
                "transactions": rows,
                "observed_transactions": demo.transactions.num_rows,
                "peak_rss_mib": peak_mib,
            }
        )
    )


def main() -> None:
    """Run the repeats and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.customers)
        return
    runs = []
    for _ in range(args.repeats):
        out = subprocess.run(
            [sys.executable, __file__, "--child", "--customers", str(args.customers)],
            check=True,
            capture_output=True,
            text=True,
        )
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))

    def median(key: str) -> float:
        return statistics.median(run[key] for run in runs)

    sim, write = median("simulate_s"), median("write_s")
    print(f"customers: {args.customers:,}; repeats: {args.repeats} (medians)")
    print(f"transactions simulated (observed + future): {int(median('transactions')):,}")
    print(f"observed transactions: {int(median('observed_transactions')):,}")
    print(f"simulate: {sim:.2f} s  ({median('transactions') / sim / 1e6:.2f} M transactions/s)")
    print(f"write Parquet (reference): {write:.2f} s")
    print(f"simulate / write ratio: {sim / write:.2f}")
    print(f"peak RSS: {median('peak_rss_mib'):.0f} MiB")


if __name__ == "__main__":
    main()

"""What the benchmark scripts share: running a pipeline as a subprocess and the demo data."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run(cmd: list[str], cwd: Path) -> float:
    """Run ``cmd`` from ``cwd`` (MLflow quiet, no telemetry); its wall time in seconds.

    Exits with the command's stderr tail when it fails.
    """
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "MLFLOW_LOGGING_LEVEL": "WARNING"}
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-4000:])
        raise SystemExit(f"failed: {' '.join(cmd)}")
    return elapsed


def world_data(world: str, seed: int, customers: int, root: Path) -> Path:
    """``data/benchmarks/<world>-<customers>-seed<seed>``, generated when missing."""
    data = REPO / "data" / "benchmarks" / f"{world}-{customers}-seed{seed}"
    if not (data / "transactions.parquet").exists():
        run(
            [
                sys.executable,
                "-m",
                "pipelines.generate",
                f"world={world}",
                f"generate.output_dir={data}",
                f"generate.n_customers={customers}",
                f"seed={seed}",
                f"hydra.run.dir={root}/generate-{world}-{seed}",
            ],
            cwd=REPO,
        )
    return data

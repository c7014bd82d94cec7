"""What the benchmark scripts share: running a pipeline as a subprocess and the demo data."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
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


def run_measured(cmd: list[str], cwd: Path) -> tuple[float, float]:
    """Run ``cmd`` as :func:`run` does; its wall time in seconds and its peak RSS in MiB.

    The peak is the child's own (``wait4``), not the largest of every child so far.
    """
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "MLFLOW_LOGGING_LEVEL": "WARNING"}
    started = time.perf_counter()
    with tempfile.TemporaryFile(mode="w+") as err:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            sys.stderr.write(err.read()[-4000:])
            raise SystemExit(f"failed: {' '.join(cmd)}")
    return elapsed, usage.ru_maxrss / 1024  # KiB on Linux


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


def train_model(data: Path, root: Path) -> Path:
    """Train a model on the world in ``data`` (``tracking=none``); its model store under ``root``.

    The campaign benchmarks plan every seed's campaigns with one model trained on a world of
    its own, so no plan sees its own outcomes.
    """
    model_dir = root / "models"
    cmd = [sys.executable, "-m", "pipelines.train", f"data.generate.output_dir={data}"]
    run([*cmd, f"model_dir={model_dir}", "tracking=none", f"hydra.run.dir={root}/t"], root)
    return model_dir

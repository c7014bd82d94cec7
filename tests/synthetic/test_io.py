"""A world folder written and read back."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pandas as pd
import pytest

from churn import synthetic


def test_save_writes_layout_and_truth_round_trips(
    tmp_path: Path, world: synthetic.WorldConfig
) -> None:
    demo = synthetic.generate(world, n_customers=300, seed=3)
    out = tmp_path / "demo"
    out.mkdir()
    (out / "stale.txt").write_text("from an earlier run")
    synthetic.save(demo, out, seed=3)
    names = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert names == {
        "transactions.parquet",
        "customers.parquet",
        "events.parquet",
        "ground_truth.parquet",
        "world.json",
        "future/transactions.parquet",
        "future/events.parquet",
    }
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    truth, params = synthetic.load_truth(out)
    assert params == world
    pd.testing.assert_frame_equal(truth, demo.ground_truth, check_dtype=False)
    assert json.loads((out / "world.json").read_text())["seed"] == 3
    hidden = [p for p in tmp_path.iterdir() if p.name.startswith(".") and p.suffix != ".lock"]
    assert not hidden  # no temp leftovers (the lock file holds no data)


def test_load_truth_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"run `python -m pipelines\.generate` first"):
        synthetic.load_truth(tmp_path / "nowhere")

"""Write a simulated world to its folder (atomically) and read its ground truth back."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from churn.files import atomic_directory
from churn.synthetic.world import DemoData, WorldConfig

log = logging.getLogger(__name__)

WORLD_FILE = "world.json"


def save(data: DemoData, output_dir: str | os.PathLike[str], *, seed: int) -> Path:
    """Write the demo data folder atomically (docs/demo-world.md).

    Layout: ``transactions.parquet``, ``customers.parquet``, ``events.parquet``,
    ``ground_truth.parquet``, ``world.json`` (parameters, seed, summary) and
    ``future/{transactions,events}.parquet`` (the held-back period after the data end).
    An existing folder is replaced as a whole.
    """
    with atomic_directory(output_dir) as tmp:
        (tmp / "future").mkdir()
        pq.write_table(data.transactions, tmp / "transactions.parquet")
        pq.write_table(data.customers, tmp / "customers.parquet")
        pq.write_table(data.events, tmp / "events.parquet")
        pq.write_table(data.future_transactions, tmp / "future" / "transactions.parquet")
        pq.write_table(data.future_events, tmp / "future" / "events.parquet")
        pq.write_table(
            pa.Table.from_pandas(data.ground_truth, preserve_index=False),
            tmp / "ground_truth.parquet",
        )
        world = {
            "params": dataclasses.asdict(data.params),
            "seed": seed,
            "summary": data.summary(),
        }
        (tmp / WORLD_FILE).write_text(json.dumps(world, indent=2) + "\n", encoding="utf-8")
    return Path(output_dir)


def load_truth(output_dir: str | os.PathLike[str]) -> tuple[pd.DataFrame, WorldConfig]:
    """Read the ground truth and world parameters of a demo data folder written by :func:`save`."""
    folder = Path(output_dir)
    world_file = folder / WORLD_FILE
    if not world_file.is_file():
        raise FileNotFoundError(
            f"load_truth: expected {WORLD_FILE} of generated demo data in {folder.resolve()}; "
            "run `python -m pipelines.generate` first"
        )
    world = json.loads(world_file.read_text(encoding="utf-8"))
    truth = pq.read_table(folder / "ground_truth.parquet").to_pandas()
    return truth, WorldConfig.from_mapping(world["params"])

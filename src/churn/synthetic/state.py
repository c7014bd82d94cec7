"""A generated world folder as the campaign simulator reads and writes it.

The observed tables and the held-back future are read as one timeline (history plus future,
already simulated); the data end ``E`` says where it is split. ``world.json`` keeps the
generator's parameters and adds ``data_end`` and the applied ``campaigns``; the hazard windows
of the offers already applied are in ``campaigns/effects.parquet`` and each export's oracle in
``campaigns/<as_of>/``. A folder is written whole (:func:`churn.files.atomic_directory`).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from churn.errors import DataError
from churn.files import atomic_directory
from churn.synthetic.io import WORLD_FILE
from churn.synthetic.world import WorldConfig

log = logging.getLogger(__name__)

CAMPAIGNS_FILE = "campaigns.json"
CAMPAIGNS_DIR = "campaigns"
EFFECTS_FILE = "effects.parquet"
ORACLE_FILE = "oracle.parquet"
ORACLE_INFO = "oracle.json"
_WINDOW_SCHEMA = pa.schema(
    [
        ("customer_id", pa.string()),
        ("as_of", pa.string()),
        ("start", pa.float64()),
        ("end", pa.float64()),
        ("factor", pa.float64()),
    ]
)


@dataclass(frozen=True)
class Oracle:
    """One export's true uplift: per customer outcomes with and without the offer."""

    rows: pd.DataFrame
    info: dict[str, Any]


@dataclass(frozen=True)
class WorldState:
    """Everything of a world folder that a campaign run reads or changes."""

    folder: Path
    params: WorldConfig
    world: dict[str, Any]
    data_end: pd.Timestamp
    transactions: pa.Table  # the timeline: observed rows and the simulated future
    events: pa.Table
    truth: pd.DataFrame
    windows: pa.Table
    campaigns: tuple[dict[str, Any], ...]
    oracles: dict[str, Oracle] = field(default_factory=dict)
    changed: bool = False  # whether any customer's path differs from the folder's

    @property
    def seed(self) -> int:
        """The seed the world was generated with."""
        return int(self.world["seed"])

    @property
    def simulated_end(self) -> pd.Timestamp:
        """The end of the simulated period: the generator's data end plus its future."""
        return pd.Timestamp(self.params.start_date) + pd.Timedelta(days=self.params.total_days)

    def day(self, date: pd.Timestamp) -> float:
        """Days from start_date to ``date``."""
        return float((pd.Timestamp(date) - pd.Timestamp(self.params.start_date)).days)

    def with_changes(self, **changes: Any) -> WorldState:
        """A copy with some fields replaced."""
        return replace(self, **changes)


def load_world(folder: str | os.PathLike[str]) -> WorldState:
    """Read a generated world folder (its ``world.json`` must exist).

    Raises:
        DataError: a folder that ``pipelines.generate`` did not write.
    """
    base = Path(folder)
    world_file = base / WORLD_FILE
    if not world_file.is_file():
        raise DataError(
            f"simulate_campaign: expected a generated world folder with {WORLD_FILE} at "
            f"{base}; got none (run `python -m pipelines.generate` first)"
        )
    world = json.loads(world_file.read_text(encoding="utf-8"))
    params = WorldConfig.from_mapping(world["params"])
    future = base / "future"
    transactions = pa.concat_tables(
        [
            pq.read_table(base / "transactions.parquet"),
            pq.read_table(future / "transactions.parquet"),
        ]
    )
    events = pa.concat_tables(
        [pq.read_table(base / "events.parquet"), pq.read_table(future / "events.parquet")]
    )
    effects = base / CAMPAIGNS_DIR / EFFECTS_FILE
    windows = pq.read_table(effects) if effects.is_file() else _WINDOW_SCHEMA.empty_table()
    campaigns_file = base / CAMPAIGNS_FILE
    campaigns = (
        json.loads(campaigns_file.read_text(encoding="utf-8"))["campaigns"]
        if campaigns_file.is_file()
        else []
    )
    oracles = {}
    for entry in campaigns:
        where = base / CAMPAIGNS_DIR / entry["as_of"]
        info = json.loads((where / ORACLE_INFO).read_text(encoding="utf-8"))
        oracles[entry["as_of"]] = Oracle(pd.read_parquet(where / ORACLE_FILE), info)
    return WorldState(
        folder=base,
        params=params,
        world=world,
        data_end=pd.Timestamp(world.get("data_end", params.end_date)),
        transactions=transactions,
        events=events,
        truth=pq.read_table(base / "ground_truth.parquet").to_pandas(),
        windows=windows,
        campaigns=tuple(campaigns),
        oracles=oracles,
    )


def save_world(state: WorldState) -> Path:
    """Write the world folder as a whole: the split at the data end, truth, campaigns, oracles."""
    base = state.folder
    end = pa.scalar(state.data_end.to_datetime64().astype("datetime64[us]"), pa.timestamp("us"))
    with atomic_directory(base) as tmp:
        shutil.copytree(base, tmp, dirs_exist_ok=True)
        for name, table in (("transactions", state.transactions), ("events", state.events)):
            observed = pc.less(table["timestamp"], end)
            pq.write_table(table.filter(observed), tmp / f"{name}.parquet")
            pq.write_table(table.filter(pc.invert(observed)), tmp / "future" / f"{name}.parquet")
        if state.changed:
            pq.write_table(
                pa.Table.from_pandas(state.truth, preserve_index=False),
                tmp / "ground_truth.parquet",
            )
        campaigns_dir = tmp / CAMPAIGNS_DIR
        if state.campaigns:
            campaigns_dir.mkdir(exist_ok=True)
            pq.write_table(state.windows, campaigns_dir / EFFECTS_FILE)
        for as_of, oracle in state.oracles.items():
            (campaigns_dir / as_of).mkdir(parents=True, exist_ok=True)
            oracle.rows.to_parquet(campaigns_dir / as_of / ORACLE_FILE, index=False)
            _write_json(campaigns_dir / as_of / ORACLE_INFO, oracle.info)
        listing = {"campaigns": list(state.campaigns)}
        _write_json(tmp / CAMPAIGNS_FILE, listing)
        world = {**state.world, "data_end": str(state.data_end.date()), **listing}
        _write_json(tmp / WORLD_FILE, world)
    return base


def _write_json(path: Path, payload: dict[str, Any]) -> None:
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")


def days_of(params: WorldConfig, stamps: pd.Series) -> np.ndarray:
    """Timestamps as days since start_date; ``inf`` for missing ones (beyond the simulation)."""
    values = (pd.to_datetime(stamps) - pd.Timestamp(params.start_date)) / pd.Timedelta(days=1)
    return values.to_numpy(dtype=float, na_value=np.inf)


def dates_of(params: WorldConfig, t: np.ndarray) -> np.ndarray:
    """Days since start_date as microsecond datetimes; NaT beyond the simulated period."""
    finite = np.isfinite(t) & (t < params.total_days)
    micros = np.round(np.where(finite, t, 0.0) * 86_400e6).astype("timedelta64[us]")
    out = pd.Timestamp(params.start_date).to_datetime64().astype("datetime64[us]") + micros
    out[~finite] = np.datetime64("NaT")
    return out


def windows_of(state: WorldState, customer_ids: np.ndarray) -> tuple[np.ndarray, ...]:
    """The stored hazard windows of these customers, padded: ``(n, w)`` start, end, factor."""
    frame = state.windows.to_pandas()
    frame = frame[frame["customer_id"].isin(set(customer_ids))]
    n = len(customer_ids)
    position = pd.Series(np.arange(n), index=pd.Index(customer_ids))
    rows = position.reindex(frame["customer_id"].to_numpy()).to_numpy()
    slot = frame.groupby("customer_id").cumcount().to_numpy()
    width = int(slot.max()) + 1 if len(slot) else 0
    start, end, factor = np.zeros((n, width)), np.zeros((n, width)), np.ones((n, width))
    start[rows, slot], end[rows, slot] = frame["start"], frame["end"]
    factor[rows, slot] = frame["factor"]
    return start, end, factor


def add_windows(state: WorldState, rows: pd.DataFrame) -> pa.Table:
    """The stored windows plus ``rows`` (customer_id, as_of, start, end, factor)."""
    new = pa.Table.from_pandas(rows, schema=_WINDOW_SCHEMA, preserve_index=False)
    return pa.concat_tables([state.windows, new])

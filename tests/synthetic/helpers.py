"""Shared helpers of the demo-world tests: purchases, the observed churn in a window, the oracle."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from omegaconf import OmegaConf

from churn import synthetic
from tests.conftest import CONF_DIR, compose_config

HORIZON = 90
WORLDS = sorted(p.stem for p in (CONF_DIR / "world").glob("*.yaml"))


def world_config(name: str) -> tuple[synthetic.WorldConfig, int, int]:
    """The parameters, default horizon and cutoff step of ``conf/world/<name>.yaml``."""
    cfg = compose_config("generate", [f"world={name}"])
    values = OmegaConf.to_container(cfg.generate.world, resolve=True)
    params = synthetic.WorldConfig.from_mapping(values)  # type: ignore[arg-type]
    return params, int(cfg.world.horizon_days), int(cfg.world.step_days)


def purchases_of(demo: synthetic.DemoData) -> pd.DataFrame:
    tx = pa.concat_tables([demo.transactions, demo.future_transactions]).to_pandas()
    return tx[tx["amount"] > 0]


def no_purchase_in_window(
    purchases: pd.DataFrame, ids: pd.Index, cutoff: pd.Timestamp, horizon_days: int = HORIZON
) -> np.ndarray:
    window = purchases[
        (purchases["timestamp"] >= cutoff)
        & (purchases["timestamp"] < cutoff + pd.Timedelta(days=horizon_days))
    ]
    return ~ids.isin(window["customer_id"].unique())


def churn_share(
    purchases: pd.DataFrame,
    cutoff: pd.Timestamp,
    horizon_days: int,
    active_within_days: int | None = 365,
) -> float:
    """The label's base rate at ``cutoff``: no purchase in the window, among the population."""
    last = purchases[purchases["timestamp"] < cutoff].groupby("customer_id")["timestamp"].max()
    if active_within_days is not None:
        last = last[last >= cutoff - pd.Timedelta(days=active_within_days)]
    return float(no_purchase_in_window(purchases, last.index, cutoff, horizon_days).mean())


def assert_oracle_agrees(oracle: pd.Series, observed: np.ndarray) -> None:
    """Observed no-purchase shares agree with the oracle overall and per decile (4 sigma)."""
    assert oracle.between(0, 1).all()
    sd = np.sqrt((oracle * (1 - oracle)).sum()) / len(oracle)
    assert abs(observed.mean() - oracle.mean()) < 4 * sd
    alive = oracle < 1
    bins = pd.qcut(oracle[alive], 10, labels=False, duplicates="drop")
    frame = pd.DataFrame({"p": oracle[alive].to_numpy(), "y": observed[alive.to_numpy()]})
    for _, group in frame.groupby(bins.to_numpy()):
        p, n = group["p"].mean(), len(group)
        tolerance = 4 * np.sqrt(max(p * (1 - p), 1e-3) / n) + 0.005
        assert abs(group["y"].mean() - p) < tolerance


def write_export(
    root: Path,
    as_of: str,
    plan: pd.DataFrame,
    *,
    horizon_days: int = HORIZON,
) -> Path:
    """A hand-made export ``<root>/<as_of>/`` (scores.parquet, manifest.json) for ``plan``.

    ``plan`` has ``customer_id``, ``contact_status`` (offer | control | no_offer) and ``offer``
    (the offer of contacted and control customers).
    """
    folder = root / as_of
    folder.mkdir(parents=True)
    status = plan["contact_status"]
    scores = pd.DataFrame(
        {
            "customer_id": plan["customer_id"].astype(str),
            "status": "scored",
            "churn_probability": 0.5,
            "offer": plan["offer"].where(status == "offer").astype("string"),
            "offer_cost": 1.0,
            "control_group": status == "control",
            "control_offer": plan["offer"].where(status == "control").astype("string"),
            "contact_status": status.astype("string"),
        }
    )
    scores.to_parquet(folder / "scores.parquet", index=False)
    manifest = {"as_of": as_of, "model": {"horizon_days": horizon_days, "version": 1}}
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return folder

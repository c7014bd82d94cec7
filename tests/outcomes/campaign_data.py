"""Hand-made exports and transactions with known outcomes, for the outcomes tests.

The campaign of :func:`campaign` (as of 2025-01-01, horizon 90 days: window [2025-01-01,
2025-04-01)): offer ``voucher`` (cost 2) to 100 customers of tier ``high``, 20 of whom churn;
its control group of 50 customers, 20 of whom churn; 40 scored customers without an offer (tier
``low``), 10 of whom churn. Every customer bought once on 2024-12-01; each stayer buys 10.00 on
2025-02-01. Customer ``late`` buys on 2025-04-10, so the data end is 2025-04-11. Customers
``gone-*`` (3 contacted, 2 control) are in the export but nowhere in the data.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

AS_OF = "2025-01-01"
HORIZON = 90
TEST_METRICS = {"roc_auc": 0.8, "brier": 0.15, "ece": 0.02}


def _row(cid: str, *, tier: str, p: float, offer: str | None, control: bool) -> dict[str, Any]:
    planned = offer if offer is not None else ("voucher" if control else None)
    return {
        "customer_id": cid,
        "as_of": pd.Timestamp(AS_OF),
        "status": "scored",
        "churn_probability": p,
        "risk_tier": tier,
        "value": 50.0,
        "offer": offer,
        "offer_cost": 2.0 if offer is not None else 0.0,
        "expected_net_benefit": 1.5 if offer is not None else float("nan"),
        "control_group": control,
        "control_offer": planned if control else None,
        "contact_status": "offer" if offer else ("control" if control else "no_offer"),
    }


def campaign() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The export's scores and the transactions (see the module docstring)."""
    rows, churners = [], set()
    for i in range(100):
        cid = f"t{i:03d}"
        rows.append(
            _row(cid, tier="high", p=0.7 if i < 20 else 0.4, offer="voucher", control=False)
        )
        churners |= {cid} if i < 20 else set()
    for i in range(50):
        cid = f"c{i:03d}"
        rows.append(_row(cid, tier="high", p=0.7 if i < 20 else 0.4, offer=None, control=True))
        churners |= {cid} if i < 20 else set()
    for i in range(40):
        cid = f"n{i:03d}"
        rows.append(_row(cid, tier="low", p=0.6 if i < 10 else 0.1, offer=None, control=False))
        churners |= {cid} if i < 10 else set()
    gone = [f"gone-t{i}" for i in range(3)] + [f"gone-c{i}" for i in range(2)]
    for cid in gone:
        control = cid.startswith("gone-c")
        rows.append(
            _row(cid, tier="high", p=0.5, offer=None if control else "voucher", control=control)
        )
    scores = pd.DataFrame(rows)
    scores["offer"] = scores["offer"].astype("string")
    scores["control_offer"] = scores["control_offer"].astype("string")
    present = [r["customer_id"] for r in rows if r["customer_id"] not in gone]
    tx = [(cid, "2024-12-01", 20.0) for cid in present]
    tx += [(cid, "2025-02-01", 10.0) for cid in present if cid not in churners]
    tx += [("late", "2024-12-15", 5.0), ("late", "2025-04-10", 5.0)]
    transactions = pd.DataFrame(tx, columns=["customer_id", "timestamp", "amount"])
    transactions["timestamp"] = pd.to_datetime(transactions["timestamp"])
    return scores, transactions


def write_export(
    root: Path,
    scores: pd.DataFrame,
    *,
    as_of: str = AS_OF,
    horizon_days: int = HORIZON,
    test_metrics: dict[str, float] | None = None,
) -> Path:
    """Write ``<root>/<as_of>/{scores.parquet, manifest.json}`` as pipelines.score would."""
    folder = root / as_of
    folder.mkdir(parents=True, exist_ok=True)
    scores.to_parquet(folder / "scores.parquet", index=False)
    manifest = {
        "schema_version": 1,
        "as_of": as_of,
        "data_end": as_of,
        "model": {
            "version": "3",
            "horizon_days": horizon_days,
            "test_metrics": test_metrics or TEST_METRICS,
        },
        "offers": {"budget": 1000.0, "budget_used": 206.0, "control_fraction": 0.33},
    }
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return folder

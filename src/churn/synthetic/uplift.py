"""The true uplift of an export, for evaluation only: ``campaigns/<as_of>/oracle.parquet``.

For every customer contacted by the export or held in its control group: whether they churn
(no purchase, a positive amount, in ``[as_of, as_of + horizon_days)``) without the offer and
with it, and their response type. Contacted customers' with-offer outcome is what the world
holds; their without-offer outcome is what it held before the offer (the same base draws).
Control customers are not contacted, so their with-offer outcome is simulated as if they had
been (from the same campaign stream), which gives the true intention-to-treat effect per offer.

Response types: ``unaffected`` (neither persuadable nor put off by the offer, or already gone at
the as-of date: the offer changes nothing); otherwise by the two outcomes ``persuadable``
(churns without, stays with), ``sure_thing`` (stays either way), ``lost_cause`` (churns either
way) and ``put_off`` (stays without, churns with). ``oracle.json`` beside it says how far the
window has been moved into the observed data (``simulated_until``); later runs complete it.
"""

from __future__ import annotations

import logging
from typing import Protocol

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from churn.synthetic.effects import Response
from churn.synthetic.paths import Path
from churn.synthetic.state import Oracle, WorldState

log = logging.getLogger(__name__)

RESPONSES = ("persuadable", "sure_thing", "lost_cause", "put_off", "unaffected")
OUTCOMES = ("churned_without_offer", "churned_with_offer")


class Dated(Protocol):
    """What an oracle needs of its export: the date, the horizon, the manifest's digest."""

    @property
    def as_of(self) -> pd.Timestamp: ...

    @property
    def horizon_days(self) -> int: ...

    @property
    def digest(self) -> str: ...


def build(
    before: WorldState,
    export: Dated,
    plan: pd.DataFrame,
    response: Response,
    new: Path,
    redo: np.ndarray,
) -> Oracle:
    """The oracle of one export, from the world before it and the customers' new paths."""
    a = export.as_of
    end = min(a + pd.Timedelta(days=export.horizon_days), before.simulated_end)
    ids = plan["customer_id"].to_numpy()
    without = churned(before.transactions, ids, a, end)
    with_offer = without.copy()
    lo, hi = before.day(a), before.day(end)
    bought = new.transactions
    bought = bought[(bought["amount"] > 0) & (bought["t"] >= lo) & (bought["t"] < hi)]
    buyers = np.zeros(redo.size, dtype=bool)
    buyers[bought["customer"].unique().astype(np.int64)] = True
    with_offer[redo] = ~buyers
    rows = plan.assign(
        churned_without_offer=without,
        churned_with_offer=with_offer,
        affected=response.affected,
    )
    rows["response"] = response_types(rows)
    info = {
        "as_of": str(a.date()),
        "horizon_days": export.horizon_days,
        "window_end": str(end.date()),
        "truncated": bool(end < a + pd.Timedelta(days=export.horizon_days)),
        "manifest_sha256": export.digest,
        "simulated_until": str(min(before.data_end, end).date()),
        "complete": False,
    }
    return Oracle(rows, info)


def update(state: WorldState) -> dict[str, Oracle]:
    """Every oracle with its window followed to the state's data end.

    Contacted customers' with-offer outcomes are read again from the world (a later campaign
    may have changed their path); an oracle whose window is fully observed is complete.
    """
    out = {}
    for as_of, oracle in state.oracles.items():
        info = dict(oracle.info)
        if info["complete"]:
            out[as_of] = oracle
            continue
        rows = oracle.rows.copy()
        end = pd.Timestamp(info["window_end"])
        offered = (rows["arm"] == "offer").to_numpy()
        ids = rows["customer_id"].to_numpy()[offered]
        rows.loc[offered, "churned_with_offer"] = churned(
            state.transactions, ids, pd.Timestamp(as_of), end
        )
        rows["response"] = response_types(rows)
        until = min(state.data_end, end)
        info["simulated_until"] = str(until.date())
        info["complete"] = bool(until >= end)
        out[as_of] = Oracle(rows, info)
    return out


def churned(
    transactions: pa.Table, ids: np.ndarray, start: pd.Timestamp, end: pd.Timestamp
) -> np.ndarray:
    """Whether each of ``ids`` makes no purchase (positive amount) in ``[start, end)``."""

    def stamp(value: pd.Timestamp) -> pa.Scalar:
        return pa.scalar(value.to_datetime64().astype("datetime64[us]"), pa.timestamp("us"))

    ts = transactions["timestamp"]
    inside = pc.and_(
        pc.and_(pc.greater_equal(ts, stamp(start)), pc.less(ts, stamp(end))),
        pc.greater(transactions["amount"], 0),
    )
    buyers = pc.unique(transactions.filter(inside)["customer_id"])
    return ~pd.Index(ids).isin(buyers.to_pylist())


def response_types(rows: pd.DataFrame) -> np.ndarray:
    """Each row's response type from its latent effect and its two outcomes."""
    without = rows["churned_without_offer"].to_numpy(dtype=bool)
    with_offer = rows["churned_with_offer"].to_numpy(dtype=bool)
    kind = np.select(
        [without & ~with_offer, ~without & ~with_offer, without & with_offer],
        ["persuadable", "sure_thing", "lost_cause"],
        default="put_off",
    )
    return np.where(rows["affected"].to_numpy(dtype=bool), kind, "unaffected")

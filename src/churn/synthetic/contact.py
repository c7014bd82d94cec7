"""What contacting a set of customers does in a generated world: responses and new paths.

:func:`respond_to` is shared by the campaign run (:mod:`churn.synthetic.campaign`, which writes
the new paths into the world) and by :func:`offer_effects`, which asks "what if" without
changing anything: for any customers and offers at a date, whether each would churn in the
window without and with the offer, from the same per-customer campaign stream a campaign run
would use, so the answer is the true effect of that contact (demo worlds only; evaluation of
plans, never an input to them).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from churn.errors import DataError
from churn.synthetic import paths, uplift
from churn.synthetic.effects import CampaignConfig, Response, Windows, respond
from churn.synthetic.state import WorldState, days_of, windows_of

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _WhatIf:
    """The oracle's view of a contact that no export made."""

    as_of: pd.Timestamp
    horizon_days: int
    digest: str = ""


def respond_to(
    state: WorldState,
    as_of: pd.Timestamp,
    plan: pd.DataFrame,
    config: CampaignConfig,
    *,
    seed: int,
) -> tuple[Response, paths.Path, np.ndarray]:
    """Each planned customer's response to their offer at ``as_of``, and the changed paths.

    Args:
        state: the world before the contacts.
        as_of: the contacts' date.
        plan: ``customer_id, offer`` per contacted (or evaluated) customer, all in the world.
        config: what each offer does.
        seed: the campaign run's seed (mixed with the world's into the campaign stream).

    Returns:
        The responses, the re-simulated rows from ``as_of`` of the customers whose fade start
        moved, and their positions in ``plan``.
    """
    truth = state.truth.set_index(state.truth["customer_id"].astype(str))
    rows = truth.loc[plan["customer_id"].to_numpy()]
    ids = plan["customer_id"].to_numpy()
    a = state.day(as_of)
    traits = _traits(state, rows)
    start, end, factor = windows_of(state, ids)
    response = respond(
        state.params,
        traits,
        Windows(start, end, factor),
        a=a,
        offers=plan["offer"].to_numpy(),
        customer_ids=ids,
        config=config,
        seed=state.seed,
        stream=(int(pd.Timestamp(as_of).toordinal()), seed),
    )
    redo = np.flatnonzero(response.changed)
    return response, _new_paths(state, traits, response, redo, ids, a), redo


def offer_effects(
    state: WorldState,
    as_of: pd.Timestamp,
    horizon_days: int,
    pairs: pd.DataFrame,
    config: CampaignConfig,
    *,
    seed: int = 0,
) -> pd.DataFrame:
    """Whether each (customer, offer) pair churns in ``[as_of, as_of + H)`` without and with it.

    Nothing is written: the world stays as it is. Each offer is evaluated on its own, as if it
    were the only contact at ``as_of`` (earlier campaigns' effects are part of the world).

    Args:
        state: the world (its timeline must cover the window).
        as_of: the date of the contacts.
        horizon_days: the window's length.
        pairs: ``customer_id, offer``.
        config: what each offer does.
        seed: the campaign seed a campaign run would use.

    Returns:
        ``customer_id, offer, churned_without_offer, churned_with_offer, response`` per pair.

    Raises:
        DataError: the window reaches past the simulated period, or a customer is not in the
            world.
    """
    day = pd.Timestamp(as_of)
    if day + pd.Timedelta(days=horizon_days) > state.simulated_end:
        raise DataError(
            f"offer_effects: the window [{day.date()}, +{horizon_days}d) reaches past the world's "
            f"simulated period (to {state.simulated_end.date()})"
        )
    known = pd.Index(state.truth["customer_id"].astype(str))
    unknown = ~pairs["customer_id"].astype(str).isin(known)
    if unknown.any():
        raise DataError(
            f"offer_effects: customers not in the world {state.folder}, e.g. "
            f"{pairs.loc[unknown, 'customer_id'].iloc[0]!r}"
        )
    export = _WhatIf(day, horizon_days)
    out = []
    for offer, group in pairs.groupby("offer", sort=True):
        plan = pd.DataFrame(
            {"customer_id": group["customer_id"].astype(str).to_numpy(), "offer": str(offer)}
        ).assign(arm="offer")
        response, new, redo = respond_to(state, day, plan, config, seed=seed)
        rows = uplift.build(state, export, plan, response, new, redo).rows
        out.append(rows[["customer_id", "offer", *uplift.OUTCOMES, "response"]])
    columns = ["customer_id", "offer", *uplift.OUTCOMES, "response"]
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame(columns=columns)


def _traits(state: WorldState, rows: pd.DataFrame) -> dict[str, np.ndarray]:
    params = state.params
    traits = {
        "acquired": days_of(params, rows["acquired_at"]),
        "never_purchased": rows["never_purchased"].to_numpy(dtype=bool),
        "rate": rows["purchase_rate"].to_numpy(dtype=float),
        "spend": rows["spend_median"].to_numpy(dtype=float),
        "hazard": rows["base_hazard"].to_numpy(dtype=float),
        "complaint_prob": rows["complaint_prob"].to_numpy(dtype=float),
        "refund_prob": rows["refund_prob"].to_numpy(dtype=float),
        "fade_days": rows["fade_days"].to_numpy(dtype=float),
        "fade_start": days_of(params, rows["fade_start"]),
        "dropout": days_of(params, rows["dropout_date"]),
    }
    if "shocked" in rows:
        traits["shocked"] = rows["shocked"].to_numpy(dtype=bool)
    return traits


def _new_paths(
    state: WorldState,
    traits: dict[str, np.ndarray],
    response: Response,
    redo: np.ndarray,
    ids: np.ndarray,
    a: float,
) -> paths.Path:
    """The re-simulated rows from ``a`` of the customers ``redo`` (indices into ``ids``)."""
    params = state.params
    chosen = {name: values[redo] for name, values in traits.items()}
    chosen["fade_start"] = response.fade_start[redo]
    chosen["dropout"] = response.dropout[redo]
    a_stamp = pd.Timestamp(params.start_date) + pd.Timedelta(days=a)
    wanted = pa.array(ids[redo], type=pa.string())
    tx = state.transactions.filter(pc.is_in(state.transactions["customer_id"], wanted))
    tx = tx.to_pandas()
    tx = tx[(tx["timestamp"] < a_stamp) & (tx["amount"] > 0)]
    position = pd.Series(np.arange(redo.size), index=pd.Index(ids[redo]))
    codes = np.column_stack(
        [
            pd.Categorical(tx["category"], categories=list(params.categories)).codes,
            pd.Categorical(tx["channel"], categories=list(params.channels)).codes,
        ]
    )
    owner = position.reindex(tx["customer_id"].to_numpy()).to_numpy()
    history = {int(i): codes[owner == i] for i in np.unique(owner)}
    ev = state.events.filter(pc.is_in(state.events["customer_id"], wanted)).to_pandas()
    complaints = ev[(ev["type"] == "complaint") & (ev["timestamp"] < a_stamp)]
    first = complaints.groupby("customer_id")["timestamp"].min()
    chosen["first_complaint"] = days_of(params, first.reindex(ids[redo]))
    return paths.resimulate(
        params,
        chosen,
        start=np.full(redo.size, a),
        history=history,
        rngs=[response.rngs[i] for i in redo],
    )

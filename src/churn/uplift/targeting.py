"""Planning by predicted effect: ``offers.objective: uplift``.

With the uplift objective a customer's expected net benefit of offer ``k`` is
``uplift_k x value - cost``, where ``uplift_k`` is the uplift model's predicted drop in their
churn probability if contacted with ``k`` (:mod:`churn.uplift`). The budget, capacities, control
group, exploration and contact policy apply as with ``net_benefit``; the planner is the same.

The model is the champion of the uplift store: a version whose out-of-time Qini beat risk
targeting's (:mod:`churn.uplift.evaluation`). Without one (no store, no version that passed,
a file that fails its digest, a feature the scoring run does not compute) the plan falls back
to ``net_benefit`` with a warning, and the export manifest says which objective was used and
why (``offers.plan.objective``). Offers the model does not cover (too few randomised customers
when it was trained), and customers it cannot score (lapsed, never bought), keep the
net-benefit formula ``p x value x save_rate - cost``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from churn.catalog import OfferConfig
from churn.errors import BundleError, DataError
from churn.uplift.history import model_inputs
from churn.uplift.store import StoredUplift, UpliftStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Targeting:
    """What the planner ranks by.

    Attributes:
        objective: the objective used (``net_benefit`` or ``uplift``).
        effect: rows x catalog offers: the predicted uplift (NaN where it is not predicted),
            or None for ``net_benefit``.
        record: for the manifest: asked, used, why, the uplift version and its offers.
    """

    objective: str
    effect: np.ndarray | None = None
    record: dict[str, Any] = field(default_factory=dict)


def champion(config: OfferConfig) -> tuple[StoredUplift | None, str]:
    """The uplift store's champion when the objective asks for it; else None and why."""
    if config.objective != "uplift":
        return None, ""
    store = UpliftStore(str(config.uplift_dir))
    try:
        return store.load(), ""
    except BundleError as err:
        return None, str(err)


def targeting(
    frame: pd.DataFrame,
    customers: pd.DataFrame,
    config: OfferConfig,
    stored: StoredUplift | None,
    *,
    unavailable: str = "",
) -> Targeting:
    """The effect matrix for the plan, or the net-benefit fallback with its reason.

    Args:
        frame: the features at the as-of date, one row per buyer (the first rows of
            ``customers``, in the same order).
        customers: every customer with ``status``, ``churn_probability`` and ``value``.
        config: the offers config (``objective``, the catalog).
        stored: the uplift champion (None: not available, see ``unavailable``).
        unavailable: why ``stored`` is None.
    """
    asked = config.objective
    if asked != "uplift":
        return Targeting(asked, None, {"asked": asked, "used": asked})
    if stored is None:
        return _fallback(asked, unavailable or "no uplift model")
    model = stored.model
    buyers = customers.iloc[: len(frame)]
    inputs = frame.reset_index(drop=True).assign(
        churn_probability=buyers["churn_probability"].to_numpy(dtype=float),
        value=buyers["value"].to_numpy(dtype=float),
    )
    missing = [f for f in model.features if f not in inputs.columns]
    if missing:
        return _fallback(
            asked,
            f"uplift model version {stored.version} needs features {missing} that the churn "
            "model's feature settings do not compute",
        )
    scored = (buyers["status"].astype("string") == "scored").fillna(False).to_numpy(dtype=bool)
    effect = np.full((len(customers), len(config.catalog)), np.nan)
    x = model_inputs(inputs[scored], model.features)
    for k, offer in enumerate(config.catalog):
        if offer.name in model.offers and len(x):
            values = np.full(len(frame), np.nan)
            try:
                values[scored] = model.predict(x, offer.name)
            except DataError as err:
                return _fallback(asked, f"uplift model version {stored.version}: {err}")
            effect[: len(frame), k] = values
    covered = [o.name for o in config.catalog if o.name in model.offers]
    log.info(
        "offers planned by predicted uplift (uplift model version %d) for %s; other offers by "
        "net benefit",
        stored.version,
        covered,
    )
    record = {
        "asked": asked,
        "used": "uplift",
        "uplift_version": stored.version,
        "uplift_offers": covered,
        "net_benefit_offers": [o.name for o in config.catalog if o.name not in model.offers],
        "gate": stored.manifest.get("evaluation", {}).get("reason"),
    }
    return Targeting("uplift", effect, record)


def _fallback(asked: str, reason: str) -> Targeting:
    log.warning("offers.objective=%s: %s; planning by net benefit instead", asked, reason)
    return Targeting("net_benefit", None, {"asked": asked, "used": "net_benefit", "reason": reason})

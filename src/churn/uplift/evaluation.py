"""Out-of-time evaluation and the gate: is targeting by predicted effect better than by risk?

The latest measured campaign is held out; the learner is fitted on the earlier ones and ranks
the held-out campaign's randomised customers. Per offer ``k``, the evaluation population is the
held-out customers eligible for ``k`` (by the current catalog's rules, on the export's own
columns) who were treated with ``k`` or got nothing, each weighted by their inverse assignment
probability. Two rankings of the same customers are compared:

* **uplift targeting**: by the model's predicted uplift of ``k``;
* **risk targeting**: by ``churn_probability``, what the net-benefit plan ranks by.

Their Qini coefficients (customers kept per customer, above random targeting; see
:mod:`churn.uplift.metrics`), AUUC and observed uplift in the top 10/20/30% are reported per
offer. The gate pools the offers' Qini coefficients, weighted by their treated customers; the
model passes when its pooled Qini exceeds risk targeting's by more than ``uplift.gate_margin``.
Only a model that passed is served (``champion`` of the uplift store); otherwise the plan stays
risk-based.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from churn import offers
from churn.errors import DataError
from churn.uplift.history import Campaign, model_inputs, pooled
from churn.uplift.learners import UpliftModel, fit_uplift
from churn.uplift.metrics import uplift_summary
from churn.uplift.settings import UpliftConfig

log = logging.getLogger(__name__)

RISK = "churn_probability"


@dataclass(frozen=True)
class Evaluation:
    """What the held-out campaign says about the model, and the gate's decision.

    Attributes:
        held_out: the as-of date of the evaluation campaign.
        trained_on: the as-of dates of the campaigns the evaluated model was fitted on.
        by_offer: per evaluated offer: ``treated``, ``control`` and the summaries ``uplift`` and
            ``risk`` (:func:`churn.uplift.metrics.uplift_summary`).
        qini_uplift: the offers' Qini coefficients of uplift targeting, treated-weighted.
        qini_risk: the same for risk targeting.
        passed: whether the model is to be served.
        reason: the gate's reason in one line.
        not_evaluated: offers left out of the evaluation, with why.
    """

    held_out: str
    trained_on: tuple[str, ...]
    by_offer: dict[str, dict[str, Any]]
    qini_uplift: float | None
    qini_risk: float | None
    passed: bool
    reason: str
    not_evaluated: dict[str, str] = field(default_factory=dict)

    def metrics(self) -> dict[str, float]:
        """Flat metrics for tracking: ``evaluation/<offer>/<targeting>_<metric>`` and the pool."""
        out: dict[str, float] = {}
        for offer, cell in self.by_offer.items():
            for targeting in ("uplift", "risk"):
                for name, value in cell[targeting].items():
                    if value is not None and np.isfinite(value):
                        out[f"evaluation/{offer}/{targeting}_{name}"] = float(value)
        for name, value in (("qini_uplift", self.qini_uplift), ("qini_risk", self.qini_risk)):
            if value is not None:
                out[f"evaluation/{name}"] = float(value)
        out["evaluation/passed"] = float(self.passed)
        return out

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready record (the manifest's ``evaluation``)."""
        return {
            "held_out": self.held_out,
            "trained_on": list(self.trained_on),
            "by_offer": self.by_offer,
            "qini_uplift": self.qini_uplift,
            "qini_risk": self.qini_risk,
            "passed": self.passed,
            "reason": self.reason,
            "not_evaluated": self.not_evaluated,
        }


def too_little_history(campaigns: Sequence[Campaign], config: UpliftConfig) -> str | None:
    """Why the campaigns cannot give a model (None when they can)."""
    if len(campaigns) < config.min_campaigns:
        return (
            f"{len(campaigns)} measured campaign(s) with randomised customers; at least "
            f"{config.min_campaigns} are needed (uplift.min_campaigns: the latest evaluates, the "
            "earlier ones train); run more campaigns (offers.explore_fraction > 0 randomises more "
            "customers) and measure them with pipelines.outcomes"
        )
    train = pooled(campaigns[:-1])
    counts = train["treatment"].dropna().value_counts()
    if not (counts >= config.min_rows_per_offer).any():
        best = f"{counts.idxmax()}: {int(counts.max())}" if len(counts) else "none"
        return (
            f"no offer has {config.min_rows_per_offer} randomised treated customers in the "
            f"training campaigns (uplift.min_rows_per_offer; the most: {best})"
        )
    return None


def fit(campaigns: Sequence[Campaign], config: UpliftConfig, *, seed: int) -> UpliftModel:
    """The learner fitted on the randomised customers of ``campaigns``."""
    rows = pooled(campaigns)
    return fit_uplift(
        model_inputs(rows, config.features),
        rows["treatment"],
        rows["churned"].to_numpy(dtype=float),
        weights=rows["weight"].to_numpy(dtype=float),
        learner=config.learner,
        per_offer=config.per_offer,
        params=config.params,
        min_rows=config.min_rows_per_offer,
        seed=seed,
    )


def evaluate(
    campaigns: Sequence[Campaign],
    config: UpliftConfig,
    catalog: Sequence[offers.Offer],
    *,
    seed: int,
) -> Evaluation:
    """Fit on all campaigns but the latest, rank the latest, and decide the gate.

    Raises:
        DataError: fewer than two campaigns.
    """
    if len(campaigns) < 2:
        raise DataError(f"uplift.evaluate: expected at least 2 campaigns; got {len(campaigns)}")
    held, earlier = campaigns[-1], campaigns[:-1]
    model = fit(earlier, config, seed=seed)
    rows = held.rows
    by_offer: dict[str, dict[str, Any]] = {}
    not_evaluated = {name: f"not in the model: {why}" for name, why in model.skipped.items()}
    pools: dict[str, list[float]] = {"uplift": [], "risk": [], "weight": []}
    for offer in catalog:
        if offer.name not in model.offers:
            not_evaluated.setdefault(
                offer.name, "not in the model: no randomised treated customers in training"
            )
            continue
        cell, why = _evaluate_offer(rows, model, offer)
        if cell is None:
            not_evaluated[offer.name] = why
            continue
        by_offer[offer.name] = cell
        pools["uplift"].append(cell["uplift"]["qini"])
        pools["risk"].append(cell["risk"]["qini"])
        pools["weight"].append(cell["treated"])
    trained_on = tuple(str(c.as_of.date()) for c in earlier)
    day = str(held.as_of.date())
    if not by_offer:
        return Evaluation(
            day,
            trained_on,
            {},
            None,
            None,
            False,
            f"no offer could be evaluated on the held-out campaign {day}: {not_evaluated}",
            not_evaluated,
        )
    weights = np.asarray(pools["weight"], dtype=float)
    q_uplift = float(np.average(pools["uplift"], weights=weights))
    q_risk = float(np.average(pools["risk"], weights=weights))
    passed = q_uplift > q_risk + config.gate_margin
    verdict = "beats" if passed else "does not beat"
    reason = (
        f"out-of-time Qini on campaign {day}: uplift targeting {q_uplift:.4f} {verdict} risk "
        f"targeting {q_risk:.4f} (+ uplift.gate_margin {config.gate_margin:g})"
    )
    log.info("uplift gate: %s", reason)
    return Evaluation(day, trained_on, by_offer, q_uplift, q_risk, passed, reason, not_evaluated)


def _evaluate_offer(
    rows: pd.DataFrame, model: UpliftModel, offer: offers.Offer
) -> tuple[dict[str, Any] | None, str]:
    """One offer's evaluation cell on the held-out rows, or None and why not."""
    eligible = offers.eligibility(rows, offer)
    treatment = rows["treatment"]
    mine = eligible & (treatment.isna() | (treatment == offer.name)).fillna(False).to_numpy(bool)
    subset = rows[mine]
    treated = (subset["treatment"] == offer.name).fillna(False).to_numpy(dtype=bool)
    if treated.sum() == 0 or (~treated).sum() == 0:
        return None, (
            f"{int(treated.sum())} treated and {int((~treated).sum())} untreated eligible "
            "customers in the held-out campaign; both arms are needed"
        )
    churned = subset["churned"].to_numpy(dtype=float)
    weights = subset["weight"].to_numpy(dtype=float)
    predicted = model.predict(model_inputs(subset, model.features), offer.name)
    risk = subset[RISK].astype("float64").fillna(1.0).to_numpy()
    cell = {
        "treated": int(treated.sum()),
        "control": int((~treated).sum()),
        "uplift": uplift_summary(predicted, churned, treated, weights=weights),
        "risk": uplift_summary(risk, churned, treated, weights=weights),
    }
    return cell, ""

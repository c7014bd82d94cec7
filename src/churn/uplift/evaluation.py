"""Out-of-time evaluation and the gate: is targeting by predicted effect better than by risk?

Rolling origin: every measured campaign but the first is held out in turn and ranked by the
learner fitted on the campaigns before it; the held-out customers of all folds are pooled per
offer. Per offer ``k``, the evaluation population is the held-out customers eligible for ``k``
(by the current catalog's rules, on the export's own columns) who were treated with ``k`` or got
nothing, each weighted by their inverse assignment probability. Two rankings of the same
customers are compared:

* **uplift targeting**: by the model's predicted uplift of ``k``;
* **risk targeting**: by ``churn_probability``, what the net-benefit plan ranks by.

Their Qini coefficients (customers kept per customer, above random targeting; see
:mod:`churn.uplift.metrics`), AUUC and observed uplift in the top 10/20/30% are reported per
offer. The gate pools the offers' Qini coefficients, weighted by their treated customers; the
model passes when its pooled Qini exceeds risk targeting's by more than ``uplift.gate_margin``
and is above 0 (random targeting).
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
        held_out: the as-of dates of the campaigns ranked out of time (every one but the first).
        trained_on: the campaigns any fold was fitted on (each fold only on those before its own).
        by_offer: per evaluated offer: ``treated``, ``control`` and the summaries ``uplift`` and
            ``risk`` (:func:`churn.uplift.metrics.uplift_summary`).
        qini_uplift: the offers' Qini coefficients of uplift targeting, treated-weighted.
        qini_risk: the same for risk targeting.
        passed: whether the model is to be served.
        reason: the gate's reason in one line.
        not_evaluated: offers left out of the evaluation, with why.
    """

    held_out: tuple[str, ...]
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
            "held_out": list(self.held_out),
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
    """Rank each campaign after the first with a model fitted on the campaigns before it.

    Rolling origin: campaign ``k`` is ranked by the model fitted on campaigns ``1..k-1``, never
    on itself or later ones; the held-out rows of every fold are pooled per offer, so the gate
    rests on every campaign that can be held out, not on the latest alone.

    Raises:
        DataError: fewer than two campaigns.
    """
    if len(campaigns) < 2:
        raise DataError(f"uplift.evaluate: expected at least 2 campaigns; got {len(campaigns)}")
    held: dict[str, list[pd.DataFrame]] = {}
    not_evaluated: dict[str, str] = {}
    folds = []
    for k in range(1, len(campaigns)):
        model = fit(campaigns[:k], config, seed=seed)
        folds.append(str(campaigns[k].as_of.date()))
        for offer in catalog:
            if offer.name not in model.offers:
                why = model.skipped.get(offer.name, "no randomised treated customers in training")
                not_evaluated.setdefault(offer.name, f"not in the model: {why}")
                continue
            held.setdefault(offer.name, []).append(_ranked(campaigns[k].rows, model, offer))
    by_offer: dict[str, dict[str, Any]] = {}
    for name, parts in held.items():
        cell, why = _cell(pd.concat(parts, ignore_index=True))
        if cell is None:
            not_evaluated[name] = why
        else:
            by_offer[name] = cell
            not_evaluated.pop(name, None)
    trained_on = tuple(str(c.as_of.date()) for c in campaigns[:-1])
    where = ", ".join(folds)
    if not by_offer:
        reason = f"no offer could be evaluated on the held-out campaigns {where}: {not_evaluated}"
        return Evaluation(tuple(folds), trained_on, {}, None, None, False, reason, not_evaluated)
    weights = np.asarray([c["treated"] for c in by_offer.values()], dtype=float)
    q_uplift = float(np.average([c["uplift"]["qini"] for c in by_offer.values()], weights=weights))
    q_risk = float(np.average([c["risk"]["qini"] for c in by_offer.values()], weights=weights))
    passed, reason = gate(q_uplift, q_risk, margin=config.gate_margin, campaign=where)
    log.info("uplift gate: %s", reason)
    return Evaluation(
        tuple(folds), trained_on, by_offer, q_uplift, q_risk, passed, reason, not_evaluated
    )


def gate(q_uplift: float, q_risk: float, *, margin: float, campaign: str) -> tuple[bool, str]:
    """Whether the uplift ranking is to be served, and why, from the pooled Qini coefficients.

    It must beat risk targeting by more than ``margin`` and random targeting (Qini 0): a
    ranking that kept fewer customers than chance on the held-out campaign is no evidence of an
    effect, however bad risk targeting did there.
    """
    if q_uplift <= 0:
        return False, (
            f"out-of-time Qini on campaign {campaign}: uplift targeting {q_uplift:.4f} does not "
            f"beat random targeting (0; risk targeting {q_risk:.4f})"
        )
    passed = q_uplift > q_risk + margin
    verdict = "beats" if passed else "does not beat"
    return passed, (
        f"out-of-time Qini on campaign {campaign}: uplift targeting {q_uplift:.4f} {verdict} risk "
        f"targeting {q_risk:.4f} (+ uplift.gate_margin {margin:g})"
        + (" and random targeting (0)" if passed else "")
    )


def _ranked(rows: pd.DataFrame, model: UpliftModel, offer: offers.Offer) -> pd.DataFrame:
    """A held-out campaign's customers eligible for ``offer`` who got it or nothing, ranked."""
    eligible = offers.eligibility(rows, offer)
    treatment = rows["treatment"]
    mine = eligible & (treatment.isna() | (treatment == offer.name)).fillna(False).to_numpy(bool)
    subset = rows[mine]
    predicted = (
        model.predict(model_inputs(subset, model.features), offer.name)
        if len(subset)
        else np.empty(0)
    )
    return pd.DataFrame(
        {
            "treated": (subset["treatment"] == offer.name).fillna(False).to_numpy(dtype=bool),
            "churned": subset["churned"].to_numpy(dtype=float),
            "weight": subset["weight"].to_numpy(dtype=float),
            "uplift": predicted,
            "risk": subset[RISK].astype("float64").fillna(1.0).to_numpy(),
        }
    )


def _cell(ranked: pd.DataFrame) -> tuple[dict[str, Any] | None, str]:
    """One offer's evaluation cell from its pooled held-out rows, or None and why not."""
    treated = ranked["treated"].to_numpy(dtype=bool)
    if treated.sum() == 0 or (~treated).sum() == 0:
        return None, (
            f"{int(treated.sum())} treated and {int((~treated).sum())} untreated eligible "
            "customers in the held-out campaigns; both arms are needed"
        )
    churned, weights = ranked["churned"].to_numpy(), ranked["weight"].to_numpy()
    return {
        "treated": int(treated.sum()),
        "control": int((~treated).sum()),
        "uplift": uplift_summary(ranked["uplift"].to_numpy(), churned, treated, weights=weights),
        "risk": uplift_summary(ranked["risk"].to_numpy(), churned, treated, weights=weights),
    }, ""

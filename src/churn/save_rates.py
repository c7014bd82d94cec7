"""Measured save rates: past campaigns pooled with the configured rate as the prior.

An offer's **save rate** ``s`` is the share of would-be churners it keeps: with churn ``c`` in
the control group and ``t`` among the contacted, ``s = (c - t) / c = 1 - t / c``. Each measured
campaign (``pipelines.outcomes``) gives an estimate ``1 - t / c`` with the variance of the risk
ratio by the delta method on the log (Katz: ``RR^2 (1/k_t - 1/n_t + 1/k_c - 1/n_c)``, a half
added to every cell when one is empty, so that arms where everyone churned do not count as
certain). The prior is the configured rate ``s0`` with the variance of a Beta of
``m = offers.prior_strength`` would-be churners, ``s0 (1 - s0) / (m + 1)``; the posterior is
the precision-weighted mean of the prior and every campaign's estimate (the normal
approximation of a beta-binomial pooling, negative estimates included), clipped to [0, 1], so
the estimate moves from the configured rate towards what campaigns measured as they
accumulate, and its interval narrows.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from churn.offers import OfferConfig

log = logging.getLogger(__name__)

OUTCOMES_FILE = "outcomes.json"
_EDGE = 1e-3  # the prior's rate is kept inside (0, 1) for its variance


@dataclass(frozen=True)
class CampaignArms:
    """One offer's two arms in one measured campaign."""

    as_of: str
    offer: str
    contacted: int
    contacted_churned: int
    control: int
    control_churned: int

    def estimate(self) -> tuple[float, float] | None:
        """This campaign's save rate ``1 - RR`` and its variance; None: no estimate."""
        n_t, k_t = float(self.contacted), float(self.contacted_churned)
        n_c, k_c = float(self.control), float(self.control_churned)
        if n_t < 1 or n_c < 1 or k_c < 1:
            return None  # no control churn: the save rate is not defined
        if 0 in (k_t, n_t - k_t, k_c, n_c - k_c):  # Haldane-Anscombe: a half in every cell
            k_t, n_t, k_c, n_c = k_t + 0.5, n_t + 1.0, k_c + 0.5, n_c + 1.0
        ratio = (k_t / n_t) / (k_c / n_c)
        var_log = 1 / k_t - 1 / n_t + 1 / k_c - 1 / n_c
        # delta method: var(1 - RR) = RR^2 var(log RR)
        return 1 - ratio, max(ratio**2 * var_log, 1e-12)


@dataclass(frozen=True)
class SaveRateEstimate:
    """The save rate an offer is planned with, and where it came from."""

    rate: float
    source: str  # configured | measured
    prior: float
    lower: float | None = None
    upper: float | None = None
    campaigns: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """The manifest's record of the rate."""
        return {
            "rate": self.rate,
            "source": self.source,
            "prior": self.prior,
            "interval": None if self.lower is None else [self.lower, self.upper],
            "campaigns": list(self.campaigns),
        }


def pooled_save_rate(
    prior: float, strength: float, arms: Sequence[CampaignArms]
) -> SaveRateEstimate:
    """The posterior mean and 95% interval of the save rate from the prior and the campaigns.

    Precision-weighted (the normal approximation of the beta-binomial): the prior is the
    configured rate with the variance of a Beta of ``strength`` would-be churners,
    ``s0 (1 - s0) / (strength + 1)``; each campaign adds its estimate weighted by the inverse of
    its variance, negative estimates (an offer that did harm) included; the result is clipped
    to [0, 1].
    """
    s0 = min(max(prior, _EDGE), 1 - _EDGE)
    precision = (strength + 1) / (s0 * (1 - s0))
    total = s0 * precision
    used = []
    for arm in arms:
        measured = arm.estimate()
        if measured is None:
            continue
        total += measured[0] / measured[1]
        precision += 1 / measured[1]
        used.append(arm.as_of)
    if not used:
        return SaveRateEstimate(prior, "configured", prior)
    mean, sd = total / precision, math.sqrt(1 / precision)
    low, high = (min(max(v, 0.0), 1.0) for v in (mean - 1.96 * sd, mean + 1.96 * sd))
    rate = min(max(mean, 0.0), 1.0)
    return SaveRateEstimate(rate, "measured", prior, low, high, tuple(sorted(set(used))))


def read_campaigns(
    outcomes_dir: str | os.PathLike[str], *, before: pd.Timestamp
) -> list[CampaignArms]:
    """Every offer's arms in the campaigns measured in ``outcomes_dir`` dated before ``before``.

    Reads ``<outcomes_dir>/<as_of>/outcomes.json`` (``pipelines.outcomes``): its ``by_offer``
    rows with their arms' counts (``contacted``, ``churned_contacted``, ``control``,
    ``churned_control``). A campaign's window ends before it is measured, so only
    campaigns whose outcomes exist are used.
    """
    base = Path(outcomes_dir)
    if not base.is_dir():
        return []
    found: list[CampaignArms] = []
    for folder in sorted(base.iterdir()):
        path = folder / OUTCOMES_FILE
        try:
            day = pd.Timestamp(folder.name)
        except ValueError:
            continue
        if day >= before or not path.is_file():
            continue
        document = json.loads(path.read_text(encoding="utf-8"))
        found.extend(_arms(folder.name, document.get("by_offer", [])))
    log.info("save rates: %d offer results from campaigns before %s", len(found), before.date())
    return found


def _arms(as_of: str, rows: Iterable[Any]) -> list[CampaignArms]:
    out = []
    for row in rows:
        try:
            out.append(
                CampaignArms(
                    as_of,
                    str(row["offer"]),
                    int(row["contacted"]),
                    int(row["churned_contacted"]),
                    int(row["control"]),
                    int(row["churned_control"]),
                )
            )
        except (KeyError, TypeError, ValueError):
            log.warning("save rates: %s: a by_offer row without its arms' counts: %s", as_of, row)
    return out


def estimates(
    prior_rates: dict[str, float], strength: float, arms: Sequence[CampaignArms]
) -> dict[str, SaveRateEstimate]:
    """Each offer's pooled save rate (the configured one when no campaign measured it)."""
    by_offer: dict[str, list[CampaignArms]] = {}
    for arm in arms:
        by_offer.setdefault(arm.offer, []).append(arm)
    out = {
        name: pooled_save_rate(prior, strength, by_offer.get(name, []))
        for name, prior in prior_rates.items()
    }
    for name, estimate in out.items():
        if estimate.source == "measured":
            log.info(
                "save rate of %s: %.3f (95%% %.3f-%.3f) from %d campaigns; configured %.3f",
                name,
                estimate.rate,
                estimate.lower,
                estimate.upper,
                len(estimate.campaigns),
                estimate.prior,
            )
    return out


def planned_rates(
    config: OfferConfig, *, as_of: pd.Timestamp
) -> tuple[OfferConfig, dict[str, dict[str, Any]]]:
    """The offer config a plan at ``as_of`` uses, and each offer's rate record (the manifest's).

    With ``offers.save_rates: measured`` every offer's rate is its pooled estimate from the
    campaigns measured before ``as_of``; otherwise the configured rates, recorded as such.
    """
    priors = {offer.name: offer.save_rate for offer in config.catalog}
    if config.save_rates != "measured" or config.outcomes_dir is None:
        chosen = {name: SaveRateEstimate(rate, "configured", rate) for name, rate in priors.items()}
        return config, {name: e.to_dict() for name, e in chosen.items()}
    arms = read_campaigns(config.outcomes_dir, before=pd.Timestamp(as_of))
    chosen = estimates(priors, config.prior_strength, arms)
    catalog = tuple(
        dataclasses.replace(offer, save_rate=chosen[offer.name].rate) for offer in config.catalog
    )
    return dataclasses.replace(config, catalog=catalog), {
        name: e.to_dict() for name, e in chosen.items()
    }

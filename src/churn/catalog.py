"""The offers catalog and the contact policy: ``conf/offers`` as typed, validated settings.

:mod:`churn.offers` plans with them; this module only builds and checks them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from churn import planner
from churn.config import build, check_keys
from churn.errors import ConfigError

STATUSES = ("scored", "lapsed", "no_purchase")
STAGES = ("new", "established", "lapsing")
SAVE_RATES = ("configured", "measured")
# net_benefit: p x value x save_rate - cost; uplift: predicted uplift x value - cost
OBJECTIVES = ("net_benefit", "uplift")


@dataclass(frozen=True)
class Offer:
    """One catalog entry."""

    name: str
    cost: float
    save_rate: float
    statuses: tuple[str, ...] = ("scored",)
    stages: tuple[str, ...] | None = None
    tiers: tuple[str, ...] | None = None
    min_value: float = 0.0
    capacity: int | None = None
    requires_attribute: str | None = None
    control_fraction: float | None = None  # this offer's control share; None: the catalog's


@dataclass(frozen=True)
class OfferConfig:
    """The catalog and the contact policy (``conf/offers``)."""

    catalog: tuple[Offer, ...]
    budget: float = 0.0
    margin: float = 0.3
    control_fraction: float = 0.05
    cooldown_days: int = 30
    suppression_file: str | None = None
    explore_fraction: float = 0.0  # random offers to this share of eligible (churn.exploration)
    save_rates: str = "configured"  # configured | measured (churn.save_rates)
    prior_strength: float = 50.0  # the configured rate's weight, in would-be churners
    outcomes_dir: str | None = None  # where measured campaigns are (pipelines.outcomes)
    planner: str = "exact"  # exact (integer programme, never worse than greedy) | greedy
    planner_time_limit_seconds: float = 30.0  # the exact planner keeps its best plan by then
    planner_gap: float = 1e-4  # relative gap to the bound at which a plan counts as optimal
    objective: str = "net_benefit"  # net_benefit | uplift (OBJECTIVES)
    uplift_dir: str | None = None  # the uplift model store (pipelines.uplift) for uplift

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], *, tiers: Collection[str]) -> OfferConfig:
        """Build and validate from the ``offers`` node; ``tiers`` are the configured tier names."""
        values = dict(values)
        catalog_values = values.pop("catalog", None)
        check_keys("offers", values, {f.name for f in dataclasses.fields(cls)} - {"catalog"})
        if not isinstance(catalog_values, Mapping) or not catalog_values:
            raise ConfigError(f"offers.catalog: expected named offers; got {catalog_values!r}")
        catalog = tuple(_offer(str(name), spec) for name, spec in catalog_values.items())
        config = build(cls, {**values, "catalog": catalog}, where="offers")
        config.validate(tiers)
        return config

    def validate(self, tiers: Collection[str]) -> None:
        """Raise ConfigError for values that cannot work."""
        if not (self.budget >= 0 and np.isfinite(self.budget)):
            raise ConfigError(f"offers.budget: expected a finite amount >= 0; got {self.budget}")
        if not 0 <= self.margin <= 1:
            raise ConfigError(f"offers.margin: expected a share in [0, 1]; got {self.margin}")
        for name in ("control_fraction", "explore_fraction", "planner_gap"):
            if not 0 <= getattr(self, name) < 1:
                raise ConfigError(
                    f"offers.{name}: expected a share in [0, 1); got {getattr(self, name)}"
                )
        if self.save_rates not in SAVE_RATES:
            raise ConfigError(
                f"offers.save_rates: expected one of {list(SAVE_RATES)}; got {self.save_rates!r}"
            )
        if not (np.isfinite(self.prior_strength) and self.prior_strength > 0):
            raise ConfigError(
                f"offers.prior_strength: expected a number > 0; got {self.prior_strength}"
            )
        if self.save_rates == "measured" and not self.outcomes_dir:
            raise ConfigError(
                "offers.save_rates=measured: expected offers.outcomes_dir, the folder of the "
                "measured campaigns; got none"
            )
        self._validate_planning()
        self._validate_catalog(tiers)

    def _validate_planning(self) -> None:
        """The objective and the planner's settings."""
        if self.objective not in OBJECTIVES:
            raise ConfigError(
                f"offers.objective: expected one of {list(OBJECTIVES)}; got {self.objective!r}"
            )
        if self.objective == "uplift" and not self.uplift_dir:
            raise ConfigError(
                "offers.objective=uplift: expected offers.uplift_dir, the uplift model store "
                "(pipelines.uplift); got none"
            )
        if self.planner not in planner.PLANNERS:
            raise ConfigError(
                f"offers.planner: expected one of {list(planner.PLANNERS)}; got {self.planner!r}"
            )
        if not self.planner_time_limit_seconds > 0:
            raise ConfigError(
                "offers.planner_time_limit_seconds: expected a number of seconds > 0; got "
                f"{self.planner_time_limit_seconds}"
            )

    def _validate_catalog(self, tiers: Collection[str]) -> None:
        """The contact policy and each offer's tiers."""
        if self.cooldown_days < 0:
            raise ConfigError(f"offers.cooldown_days: expected >= 0; got {self.cooldown_days}")
        for offer in self.catalog:
            unknown = sorted(set(offer.tiers or ()) - set(tiers))
            if unknown:
                raise ConfigError(
                    f"offers.catalog.{offer.name}.tiers: {unknown} are not tiers; the tiers are "
                    f"{list(tiers)}"
                )


def _offer(name: str, spec: Any) -> Offer:
    where = f"offers.catalog.{name}"
    if not isinstance(spec, Mapping):
        raise ConfigError(f"{where}: expected cost, save_rate and eligibility; got {spec!r}")
    check_keys(where, spec, {f.name for f in dataclasses.fields(Offer)} - {"name"})
    missing = [k for k in ("cost", "save_rate") if k not in spec]
    if missing:
        raise ConfigError(f"{where}: expected {missing}")
    values = dict(spec)
    for key in ("statuses", "stages", "tiers"):
        if values.get(key) is not None:
            values[key] = tuple(str(v) for v in values[key])
    offer = Offer(name=name, **values)
    if not (np.isfinite(offer.cost) and offer.cost >= 0):
        raise ConfigError(f"{where}.cost: expected a finite amount >= 0; got {offer.cost}")
    if not 0 <= offer.save_rate <= 1:
        raise ConfigError(f"{where}.save_rate: expected a share in [0, 1]; got {offer.save_rate}")
    if offer.control_fraction is not None and not 0 <= offer.control_fraction < 1:
        raise ConfigError(
            f"{where}.control_fraction: expected a share in [0, 1) or null; got "
            f"{offer.control_fraction}"
        )
    if offer.capacity is not None and not offer.capacity >= 0:
        raise ConfigError(f"{where}.capacity: expected >= 0 or null; got {offer.capacity}")
    bad = sorted(set(offer.statuses) - set(STATUSES))
    if bad or not offer.statuses:
        raise ConfigError(f"{where}.statuses: expected some of {list(STATUSES)}; got {bad or []}")
    if not (np.isfinite(offer.min_value) and offer.min_value >= 0):
        raise ConfigError(f"{where}.min_value: expected a finite value >= 0; got {offer.min_value}")
    if offer.capacity is not None and not float(offer.capacity).is_integer():
        raise ConfigError(
            f"{where}.capacity: expected a whole number or null; got {offer.capacity}"
        )
    unknown_stages = sorted(set(offer.stages or ()) - set(STAGES))
    if unknown_stages:
        raise ConfigError(f"{where}.stages: expected some of {list(STAGES)}; got {unknown_stages}")
    return offer

"""What a retention offer does to a simulated customer: the settings and the hazard transform.

An offer delivered at the as-of date ``a`` multiplies the customer's hazard of starting to leave
by ``hazard_multiplier`` (< 1) for ``effect_days`` when the customer is persuadable by that
offer, or by ``put_off_multiplier`` (> 1) when contact puts them off ("sleeping dogs"). The
customer's remaining cumulative hazard to the current fade start ``U``, ``E = M(a, U)``, is kept,
so the new fade start ``U'`` solves ``M'(a, U') = E`` under the new piecewise multipliers: a
persuadable customer starts to leave later, a put-off one sooner, one whose fade start lies
beyond the simulated period mostly stays there (a sure thing), and a customer already fading
at ``a`` is lost (a lost cause), unless the offer rescues them (``rescue_probability``, for
persuadable customers): the fade is reversed and they start afresh from ``a``. The same rescue
wins back a persuadable customer who left at most ``reactivation_days`` before ``a`` (win-back;
0: the gone stay gone).

Persuadability is a per-customer latent: one uniform per customer (from a stream seeded by the
world seed and the customer id) below an offer's ``persuadable_share``, so a customer persuadable
by a weak offer is persuadable by a stronger one too; contact puts off those whose uniform lies
in the top ``put_off_share``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

import numpy as np

from churn.config import Config, build, check_keys
from churn.errors import ConfigError
from churn.synthetic.keys import customer_key
from churn.synthetic.simulate import _baseline_cumhazard
from churn.synthetic.surveys import ExitSurveyConfig
from churn.synthetic.world import WorldConfig

log = logging.getLogger(__name__)

DEFAULT = "default"  # the effect of an offer the campaign config does not name
_LATENT_STREAM = 7_151  # keeps the persuadability stream apart from any other stream of a seed


@dataclass(frozen=True)
class OfferEffect(Config):
    """What one offer does: to whom, how strongly, for how long."""

    section: ClassVar[str] = "campaign.effects"

    persuadable_share: float = 0.2
    hazard_multiplier: float = 0.5
    effect_days: int = 60
    rescue_probability: float = 0.1
    put_off_share: float = 0.02
    put_off_multiplier: float = 1.5
    reactivation_days: int = 0  # a customer gone at most this long before a can be won back

    def validate(self) -> None:
        """Raise ConfigError for values that cannot describe an offer's effect."""
        where = self.section
        for name in ("persuadable_share", "rescue_probability", "put_off_share"):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise ConfigError(f"{where}.{name}: expected a probability in [0, 1]; got {value}")
        if self.persuadable_share + self.put_off_share > 1:
            raise ConfigError(
                f"{where}: persuadable_share + put_off_share must be at most 1 (disjoint shares "
                f"of the customers); got {self.persuadable_share} + {self.put_off_share}"
            )
        if not 0 < self.hazard_multiplier <= 1:
            raise ConfigError(
                f"{where}.hazard_multiplier: expected a factor in (0, 1] (the offer lowers the "
                f"hazard of leaving); got {self.hazard_multiplier}"
            )
        if self.put_off_multiplier < 1:
            raise ConfigError(
                f"{where}.put_off_multiplier: expected >= 1 (contact raises the hazard of the "
                f"put-off customers); got {self.put_off_multiplier}"
            )
        days = self.effect_days
        if not isinstance(days, int) or isinstance(days, bool) or days < 1:
            raise ConfigError(f"{where}.effect_days: expected a whole number >= 1; got {days!r}")
        back = self.reactivation_days
        if not isinstance(back, int) or isinstance(back, bool) or back < 0:
            raise ConfigError(
                f"{where}.reactivation_days: expected a whole number >= 0; got {back!r}"
            )


@dataclass(frozen=True)
class CampaignConfig(Config):
    """The effects of the offers in a world (``campaign:`` of ``conf/world/<name>.yaml``)."""

    section: ClassVar[str] = "campaign"

    effects: Mapping[str, OfferEffect]
    exit_survey: ExitSurveyConfig = field(default_factory=ExitSurveyConfig)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Self:
        """Build from the ``campaign`` node: ``effects`` maps offer names (and ``default``).

        ``exit_survey`` (optional): the answers of the customers who leave
        (:class:`~churn.synthetic.surveys.ExitSurveyConfig`); without it nobody answers.
        """
        check_keys(cls.section, values, ["effects", "exit_survey"])
        effects = values.get("effects")
        if not isinstance(effects, Mapping) or DEFAULT not in effects:
            raise ConfigError(
                f"campaign.effects: expected a mapping of offer names to effects with a "
                f"'{DEFAULT}' entry; got {effects!r}"
            )
        built: dict[str, OfferEffect] = {}
        for name, node in effects.items():
            if not isinstance(node, Mapping):
                raise ConfigError(f"campaign.effects.{name}: expected a mapping; got {node!r}")
            effect = build(OfferEffect, node, where=f"campaign.effects.{name}")
            try:
                effect.validate()
            except ConfigError as err:
                message = str(err).replace("campaign.effects", f"campaign.effects.{name}", 1)
                raise ConfigError(message) from err
            built[str(name)] = effect
        survey = values.get("exit_survey")
        if survey is None:
            return cls(effects=built)
        if not isinstance(survey, Mapping):
            raise ConfigError(f"campaign.exit_survey: expected a mapping; got {survey!r}")
        return cls(effects=built, exit_survey=ExitSurveyConfig.from_mapping(survey))

    def effect(self, offer: str) -> OfferEffect:
        """The effect of ``offer``; the ``default`` one for an offer not named."""
        return self.effects.get(offer, self.effects[DEFAULT])

    def to_dict(self) -> dict[str, Any]:
        """The effects as a JSON-ready mapping that ``from_mapping`` accepts."""
        return {
            "effects": {name: e.to_dict() for name, e in self.effects.items()},
            "exit_survey": self.exit_survey.to_dict(),
        }


def persuadability(customer_ids: np.ndarray, *, seed: int) -> np.ndarray:
    """The latent uniform of each customer: persuadable below a share, put off near 1."""
    out = np.empty(len(customer_ids))
    for i, cid in enumerate(customer_ids):
        stream = np.random.SeedSequence([seed, _LATENT_STREAM, customer_key(str(cid))])
        out[i] = np.random.default_rng(stream).random()
    return out


@dataclass(frozen=True)
class Windows:
    """Hazard multipliers of some customers: ``(n, w)`` starts, ends and factors (padded by 1)."""

    start: np.ndarray
    end: np.ndarray
    factor: np.ndarray

    def with_window(self, start: np.ndarray, end: np.ndarray, factor: np.ndarray) -> Windows:
        """These windows plus one more per customer."""
        return Windows(
            np.column_stack([self.start, start]),
            np.column_stack([self.end, end]),
            np.column_stack([self.factor, factor]),
        )


def cumulative_hazard(
    params: WorldConfig,
    traits: Mapping[str, np.ndarray],
    t: np.ndarray,
) -> np.ndarray:
    """The baseline cumulative hazard from acquisition to time ``t`` (days), with any shock."""
    acquired, hazard = traits["acquired"], traits["hazard"]
    base = _baseline_cumhazard(params, hazard, np.clip(t - acquired, 0, None))
    if "shocked" not in traits or params.shock_day is None:
        return base
    shock_age = np.clip(float(params.shock_day) - acquired, 0, None)
    at_shock = _baseline_cumhazard(params, hazard, shock_age)
    factor = np.where(traits["shocked"], params.shock_hazard_factor, 1.0)
    return np.where(base > at_shock, at_shock + factor * (base - at_shock), base)


def modified_hazard(
    params: WorldConfig,
    traits: Mapping[str, np.ndarray],
    windows: Windows,
    a: np.ndarray,
    t: np.ndarray,
) -> np.ndarray:
    """``M(a, t)``: the cumulative hazard from ``a`` to ``t`` under the windows' multipliers.

    Overlapping windows multiply; the hazard is piecewise the baseline times a constant between
    the windows' ends, so the integral is exact per piece.
    """
    bounds = np.sort(np.column_stack([windows.start, windows.end]), axis=1)
    lo, hi = bounds[:, :-1], bounds[:, 1:]
    inside = (windows.start[:, None, :] <= lo[:, :, None]) & (
        hi[:, :, None] <= windows.end[:, None, :]
    )
    factor = np.where(inside, windows.factor[:, None, :], 1.0).prod(axis=2)
    t_eff = np.maximum(t, a)

    def cum(x: np.ndarray) -> np.ndarray:
        return cumulative_hazard(params, traits, x)

    total = cum(t_eff) - cum(a)
    for j in range(lo.shape[1]):
        left = np.clip(a, lo[:, j], hi[:, j])
        right = np.clip(t_eff, lo[:, j], hi[:, j])
        total = total + (factor[:, j] - 1) * (cum(right) - cum(left))
    return total


def solve_fade_start(
    params: WorldConfig,
    traits: Mapping[str, np.ndarray],
    windows: Windows,
    a: np.ndarray,
    target: np.ndarray,
) -> np.ndarray:
    """The time ``U'`` with ``M(a, U') = target``; ``inf`` when it lies beyond the simulation."""
    smallest = np.minimum(windows.factor, 1.0).prod(axis=1)  # where all windows overlap
    slope = traits["hazard"] * smallest  # M grows at least this fast (a shock only raises it)
    lo = a.astype(float).copy()
    hi = a + target / slope + 1.0
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        below = modified_hazard(params, traits, windows, a, mid) < target
        lo = np.where(below, mid, lo)
        hi = np.where(below, hi, mid)
    out = 0.5 * (lo + hi)
    return np.where(out < params.total_days, out, np.inf)


@dataclass(frozen=True)
class Response:
    """How the customers of one export respond to their offers (arrays in the input's order)."""

    fade_start: np.ndarray  # the new fade start (days since start_date; inf: beyond)
    dropout: np.ndarray  # the new dropout date
    affected: np.ndarray  # persuadable or put off by the offer, and not gone at the as-of date
    changed: np.ndarray  # the fade start moved: the path from the as-of date is re-simulated
    factor: np.ndarray  # the hazard multiplier of the new window (1: none)
    effect_days: np.ndarray  # the new window's length
    rngs: list[np.random.Generator]  # each customer's campaign stream, for the new path


def respond(
    params: WorldConfig,
    traits: Mapping[str, np.ndarray],
    windows: Windows,
    *,
    a: float,
    offers: np.ndarray,
    customer_ids: np.ndarray,
    config: CampaignConfig,
    seed: int,
    stream: tuple[int, ...],
) -> Response:
    """The new fade starts of customers offered ``offers`` at ``a`` (days since start_date).

    Args:
        params: the world.
        traits: per customer ``acquired, hazard, fade_start, fade_days, dropout,
            never_purchased`` (and ``shocked`` with a shock); ``inf`` for dates beyond.
        windows: the customers' earlier hazard windows.
        a: the as-of date of the export.
        offers: the offer of each customer.
        customer_ids: their ids (the latent and the campaign streams are per customer).
        config: the offers' effects.
        seed: the world's seed.
        stream: the campaign's own entropy (the as-of date's ordinal and the run's seed).
    """
    n = len(customer_ids)
    chosen = [config.effect(str(o)) for o in offers]
    share = np.array([e.persuadable_share for e in chosen])
    put_share = np.array([e.put_off_share for e in chosen])
    u = persuadability(customer_ids, seed=seed)
    persuadable = u < share
    put_off = (u >= 1 - put_share) & (put_share > 0)
    rngs = [
        np.random.default_rng(np.random.SeedSequence([seed, *stream, customer_key(str(c))]))
        for c in customer_ids
    ]
    draws = np.array([[rng.random(), rng.exponential()] for rng in rngs]).reshape(n, 2)
    fade_start, dropout = traits["fade_start"], traits["dropout"]
    bought = ~traits["never_purchased"].astype(bool)
    alive = bought & (dropout > a)
    engaged = alive & (fade_start > a)
    back = np.array([e.reactivation_days for e in chosen], dtype=float)
    reachable = alive | (bought & (dropout > a - back))  # fading, or gone only lately
    rescue = np.array([e.rescue_probability for e in chosen])
    rescued = reachable & ~engaged & persuadable & (draws[:, 0] < rescue)
    acting = (engaged & (persuadable | put_off)) | rescued
    mult = np.array([e.hazard_multiplier for e in chosen])
    worse = np.array([e.put_off_multiplier for e in chosen])
    factor = np.where(acting, np.where(persuadable, mult, worse), 1.0)
    days = np.array([e.effect_days for e in chosen], dtype=float)
    at = np.full(n, float(a))
    total = float(params.total_days)
    # The remaining clock to the fade start; beyond the simulation it is memoryless.
    kept = modified_hazard(params, traits, windows, at, np.minimum(fade_start, total))
    target = np.where(np.isfinite(fade_start), kept, kept + draws[:, 1])
    target = np.where(rescued, draws[:, 1], target)
    new_windows = windows.with_window(at, at + days, factor)
    solved = solve_fade_start(params, traits, new_windows, at, target)
    new_start = np.where(acting, solved, fade_start)
    moved = acting & ~(np.isinf(new_start) & np.isinf(fade_start)) & (new_start != fade_start)
    new_dropout = np.where(moved, new_start + traits["fade_days"], dropout)
    return Response(
        fade_start=np.where(moved, new_start, fade_start),
        dropout=new_dropout,
        affected=(alive & (persuadable | put_off)) | (reachable & persuadable),
        changed=moved,
        factor=factor,
        effect_days=days,
        rngs=rngs,
    )

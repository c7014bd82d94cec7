"""Exploration: a seeded random share of eligible customers gets a random eligible offer.

The plan contacts the customers it expects most from, so its data say little about the others.
With ``offers.explore_fraction`` a random share of the customers eligible for at least one
offer (not suppressed, not in the cooldown) is taken out of the plan and given one of their
eligible offers at random, whatever its expected worth. The draw is a hash of the seed, the
as-of date and the customer id (independent of the control group's); the offer is drawn
uniformly among the customer's eligible offers from the same hash. Their cost comes out of the
same budget first; when it does not stretch to every explorer, explorers are served in hash
order while it lasts (the others go back to the plan).

Each customer's **assignment probability** (the chance of what they got, offer or none, under
the randomisation) is recorded so that the randomised customers of past campaigns (explorers
and the control group) give unbiased data for an uplift model, weighted by its inverse:

* explorer given offer ``k``: ``explore_fraction / m`` (``m`` eligible offers);
* control customer: ``(1 - explore_fraction) x control_fraction`` of the held-back offer;
* contacted by the plan: ``(1 - explore_fraction) x (1 - control_fraction)``;
* eligible, neither explored nor planned: ``1 - explore_fraction``; not eligible: 1.

(The budget's truncation of the explorers is ignored: with a budget that binds on exploration
the probabilities are upper bounds.)
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Exploration:
    """Per customer row: the explored offer index (-1: none) and the cost spent."""

    offer: np.ndarray
    cost: float

    @property
    def explored(self) -> np.ndarray:
        """Which rows were explored."""
        return self.offer >= 0


def stable_share(customer_ids: pd.Series, *, seed: int, salt: str = "") -> np.ndarray:
    """A uniform number in [0, 1) per customer id, the same in every run with the same seed.

    ``salt`` (e.g. the as-of date) gives an independent draw per campaign (the control group's).
    """
    key = f"{seed}:{salt}:" if salt else f"{seed}:"
    salt_bytes = key.encode()
    out = np.empty(len(customer_ids))
    for i, cid in enumerate(customer_ids.astype(str)):
        digest = hashlib.blake2b(salt_bytes + cid.encode(), digest_size=8).digest()
        out[i] = int.from_bytes(digest, "big") / 2**64
    return out


def _uniforms(ids: pd.Series, key: str) -> tuple[np.ndarray, np.ndarray]:
    """Two independent uniforms in [0, 1) per customer id from a hash salted with ``key``."""
    first, second = np.empty(len(ids)), np.empty(len(ids))
    salt = key.encode()
    for i, cid in enumerate(ids.astype(str)):
        digest = hashlib.blake2b(salt + cid.encode(), digest_size=16).digest()
        first[i] = int.from_bytes(digest[:8], "big") / 2**64
        second[i] = int.from_bytes(digest[8:], "big") / 2**64
    return first, second


def explore(
    ids: pd.Series,
    eligible: np.ndarray,
    costs: np.ndarray,
    *,
    fraction: float,
    budget: float,
    seed: int,
    salt: str,
) -> Exploration:
    """Draw the explorers and their offers.

    Args:
        ids: customer ids, one per row.
        eligible: rows x offers, whether each customer may get each offer (contact policy
            applied).
        costs: each offer's cost.
        fraction: ``offers.explore_fraction``.
        budget: the total budget; exploration spends from it first.
        seed: the run's seed.
        salt: the campaign (its as-of date).
    """
    n = len(ids)
    offer = np.full(n, -1)
    if fraction <= 0 or n == 0:
        return Exploration(offer, 0.0)
    draw, pick = _uniforms(ids, f"explore:{seed}:{salt}:")
    counts = eligible.sum(axis=1)
    chosen = np.flatnonzero((counts > 0) & (draw < fraction))
    left, spent = float(budget), 0.0
    for row in chosen[np.argsort(draw[chosen], kind="stable")]:
        options = np.flatnonzero(eligible[row])
        k = int(options[min(int(pick[row] * options.size), options.size - 1)])
        if costs[k] > left:
            continue
        offer[row] = k
        left -= costs[k]
        spent += costs[k]
    return Exploration(offer, spent)


def assignment_probability(
    eligible: np.ndarray,
    explored_offer: np.ndarray,
    planned: np.ndarray,
    in_control: np.ndarray,
    control_fractions: np.ndarray,
    *,
    fraction: float,
) -> np.ndarray:
    """Each row's probability of what it got under the randomisation (see the module)."""
    counts = eligible.sum(axis=1)
    out = np.where(counts > 0, 1.0 - fraction, 1.0)
    explored = explored_offer >= 0
    out = np.where(explored, fraction / np.maximum(counts, 1), out)
    share = np.append(control_fractions, 0.0)[planned]
    rest = 1.0 - fraction
    out = np.where(~explored & (planned >= 0) & in_control, rest * share, out)
    return np.where(~explored & (planned >= 0) & ~in_control, rest * (1.0 - share), out)

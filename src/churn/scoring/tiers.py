"""Risk tiers: probability thresholds or shares of the ranked population (``conf/tiers``)."""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd

from churn.config import Config
from churn.errors import ConfigError

log = logging.getLogger(__name__)

TIER_METHODS = ("thresholds", "quantiles")


@dataclass(frozen=True)
class TierConfig(Config):
    """Risk tiers (``conf/tiers``): ``edges`` are probabilities or population shares."""

    section: ClassVar[str] = "tiers"

    method: str = "thresholds"
    edges: tuple[float, ...] = (0.0, 0.3, 0.6, 0.85, 1.0)
    names: tuple[str, ...] = ("low", "medium", "high", "very_high")
    at_risk: tuple[str, ...] = ("medium", "high", "very_high")

    def validate(self) -> None:
        """Raise ConfigError unless the edges ascend from 0 to 1 with one name per tier."""
        if self.method not in TIER_METHODS:
            raise ConfigError(
                f"tiers.method: expected one of {list(TIER_METHODS)}; got {self.method!r}"
            )
        edges = list(self.edges)
        if len(edges) < 2 or edges[0] != 0.0 or edges[-1] != 1.0:
            raise ConfigError(
                f"tiers.edges: expected edges from 0 to 1 covering [0, 1]; got {edges}"
            )
        if any(b <= a for a, b in itertools.pairwise(edges)):
            raise ConfigError(f"tiers.edges: expected strictly ascending edges; got {edges}")
        if len(self.names) != len(edges) - 1 or len(set(self.names)) != len(self.names):
            raise ConfigError(
                f"tiers.names: expected {len(edges) - 1} distinct names for edges {edges}; "
                f"got {list(self.names)}"
            )
        unknown = sorted(set(self.at_risk) - set(self.names))
        if unknown:
            raise ConfigError(f"tiers.at_risk: {unknown} are not tiers of {list(self.names)}")


def assign_tiers(p: np.ndarray, config: TierConfig) -> pd.Series:
    """The risk tier of each probability: thresholds on p, or shares of the ranked population."""
    probabilities = np.asarray(p, dtype=float)
    if probabilities.size and (
        not np.isfinite(probabilities).all() or probabilities.min() < 0 or probabilities.max() > 1
    ):
        raise ValueError("assign_tiers: expected finite probabilities in [0, 1]")
    inner = np.asarray(config.edges[1:-1])
    if config.method == "quantiles" and probabilities.size:
        # the share of customers ranked below each customer decides its tier
        ranks = pd.Series(probabilities).rank(method="average", pct=True).to_numpy()
        index = np.searchsorted(inner, ranks, side="left")
    else:
        index = np.searchsorted(inner, probabilities, side="right")
    return pd.Series(np.asarray(config.names, dtype=object)[index], dtype="string")

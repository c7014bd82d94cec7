"""What a scoring run is told (:class:`ScoreConfig`) and returns (:class:`ScoringOutcome`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from churn import offers

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScoreConfig:
    """How to score (``score`` in conf/score.yaml) and what the bundle was trained with."""

    as_of: pd.Timestamp
    horizon_days: int
    active_within_days: int | None
    batch_size: int = 100_000
    reasons_for: str = "at_risk"
    seed: int = 0
    model_version: str = ""


@dataclass
class ScoringOutcome:
    """Every customer's scores, the at-risk list, the drift report and the offer plan."""

    scores: pd.DataFrame
    at_risk: pd.DataFrame
    drift: pd.DataFrame
    assignment: offers.Assignment
    counts: dict[str, Any] = field(default_factory=dict)
    value: dict[str, Any] = field(default_factory=dict)  # the value model (ValueModel.to_dict)

"""Cutoff roles for a target date: training, calibration and test cutoffs; the history needed."""

from __future__ import annotations

import logging
import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from churn.errors import ConfigError, InsufficientHistoryError

log = logging.getLogger(__name__)

LABEL = "churned"
KEY_COLUMNS = ("customer_id", "cutoff")


@dataclass(frozen=True)
class CutoffRoles:
    """Which labelled cutoffs train and calibrate a model meant for ``target``."""

    name: str
    target: pd.Timestamp
    calibration: pd.Timestamp
    training: tuple[pd.Timestamp, ...]  # latest first

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dates."""
        return {
            "name": self.name,
            "target": str(self.target.date()),
            "calibration": str(self.calibration.date()),
            "training": [str(c.date()) for c in self.training],
        }


def plan_roles(
    cutoffs: Sequence[pd.Timestamp],
    *,
    end: pd.Timestamp,
    horizon_days: int,
    step_days: int,
    usable: Collection[pd.Timestamp] | None = None,
) -> tuple[CutoffRoles, CutoffRoles]:
    """The evaluation roles (test = latest cutoff) and the deployment roles (target = ``end``).

    Args:
        cutoffs: the labelled cutoffs (any order).
        end: the data end ``E``.
        horizon_days: the label horizon ``H``.
        step_days: days between cutoffs (for the message on too little history).
        usable: the cutoffs whose rows can train or calibrate (customers of both classes);
            all when None.

    Raises:
        InsufficientHistoryError: without a usable test cutoff, calibration cutoff and two
            training cutoffs, saying how much history the horizon and step need.
    """
    horizon = pd.Timedelta(days=horizon_days)
    cuts = sorted({pd.Timestamp(c) for c in cutoffs}, reverse=True)
    ok = set(cuts) if usable is None else {pd.Timestamp(c) for c in usable}
    if not cuts:
        raise ConfigError("plan_roles: expected at least one cutoff; got none")
    test = cuts[0]
    calibration = next((c for c in cuts if c + horizon <= test), None)
    training = tuple(c for c in cuts if calibration is not None and c < calibration and c in ok)
    if test not in ok or calibration not in ok or len(training) < 2:
        raise InsufficientHistoryError(
            _history_message(cuts, ok, end=end, horizon_days=horizon_days, step_days=step_days)
        )
    evaluation = CutoffRoles("evaluation", test, calibration, training)
    deploy_cal = next(c for c in cuts if c + horizon <= end)
    deploy_training = tuple(c for c in cuts if c < deploy_cal and c in ok)[: len(training)]
    if deploy_cal not in ok:
        raise InsufficientHistoryError(
            f"plan_roles: the deployment calibration cutoff {deploy_cal.date()} has no labelled "
            "customers of both classes"
        )
    return evaluation, CutoffRoles("deployment", end, deploy_cal, deploy_training)


def _history_message(
    cuts: list[pd.Timestamp],
    usable: set[pd.Timestamp],
    *,
    end: pd.Timestamp,
    horizon_days: int,
    step_days: int,
) -> str:
    gap = math.ceil(horizon_days / step_days)  # steps from the test to the calibration cutoff
    needed_cutoffs = gap + 3
    earliest = cuts[0] - pd.Timedelta(days=(gap + 2) * step_days)
    return (
        f"too little history for horizon {horizon_days} days and step {step_days} days: "
        f"evaluation needs a test cutoff, a calibration cutoff {horizon_days}+ days before it and "
        f"2 training cutoffs before that, so label.n_cutoffs >= {needed_cutoffs} and customers "
        f"buying before {earliest.date()}, {(end - earliest).days} days before the data end "
        f"{end.date()}; got {len(cuts)} cutoffs, {len(usable & set(cuts))} of them with "
        "customers of both classes. Use more history, a shorter label.horizon_days or a shorter "
        "label.step_days"
    )

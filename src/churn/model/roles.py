"""Cutoff roles for a target date: training, calibration and test cutoffs; the history needed.

The roles degrade with the history available (docs/training.md, short histories):

1. ``out_of_time``: a test cutoff, a calibration cutoff whose label window ends by it and at
   least :data:`MIN_TRAINING_CUTOFFS` training cutoffs before that (the full recipe);
2. no separate calibration cutoff: the training cutoffs (windows ending by the test cutoff)
   also calibrate, by customer-grouped cross-fitting; the test stays out of time;
3. no cutoff whose window ends by the latest one: every usable cutoff trains and calibrates
   by cross-fitting, and the evaluation is *in time*: out-of-fold predictions on the latest
   cutoff, grouped by customer. The promotion gate never compares such metrics.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from churn.errors import ConfigError, InsufficientHistoryError

log = logging.getLogger(__name__)

LABEL = "churned"
KEY_COLUMNS = ("customer_id", "cutoff")
OUT_OF_TIME = "out_of_time"
IN_TIME = "in_time"
CROSS_FITTED = "cross_fitted"
MIN_TRAINING_CUTOFFS = 2  # before an out-of-time calibration cutoff


@dataclass(frozen=True)
class CutoffRoles:
    """Which labelled cutoffs train and calibrate a model meant for ``target``.

    ``calibration`` is None when the calibrator is cross-fitted on the training cutoffs
    (``calibration_mode == "cross_fitted"``); ``evaluation_mode`` says whether the test rows
    (``target``'s, evaluation roles only) were unseen in time or only by customer.
    """

    name: str
    target: pd.Timestamp
    calibration: pd.Timestamp | None
    training: tuple[pd.Timestamp, ...]  # latest first
    calibration_mode: str = OUT_OF_TIME
    evaluation_mode: str = OUT_OF_TIME
    missing: tuple[str, ...] = field(default=(), compare=False)  # what a degraded plan lacks

    @property
    def cross_fitted(self) -> bool:
        """Whether the calibrator is fitted on out-of-fold predictions of the training rows."""
        return self.calibration_mode == CROSS_FITTED

    @property
    def in_time(self) -> bool:
        """Whether the test rows are also training rows (scored out of fold by customer)."""
        return self.evaluation_mode == IN_TIME

    @property
    def latest(self) -> pd.Timestamp:
        """The latest cutoff whose rows the recipe fits on (the drift reference's)."""
        return self.calibration if self.calibration is not None else self.training[0]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dates and modes."""
        return {
            "name": self.name,
            "target": str(self.target.date()),
            "calibration": None if self.calibration is None else str(self.calibration.date()),
            "training": [str(c.date()) for c in self.training],
            "calibration_mode": self.calibration_mode,
            "evaluation_mode": self.evaluation_mode,
        }


def plan_roles(
    cutoffs: Sequence[pd.Timestamp],
    *,
    end: pd.Timestamp,
    horizon_days: int,
    step_days: int,
    usable: Collection[pd.Timestamp] | None = None,
) -> tuple[CutoffRoles, CutoffRoles]:
    """The evaluation roles (test = latest usable cutoff) and the deployment roles (``end``).

    The deployment roles repeat the evaluation's recipe moved forward: the same calibration
    mode and as many training cutoffs. A degraded plan is logged as a warning naming what is
    missing.

    Args:
        cutoffs: the labelled cutoffs (any order).
        end: the data end ``E``.
        horizon_days: the label horizon ``H``.
        step_days: days between cutoffs (for the messages).
        usable: the cutoffs whose rows can train or calibrate (customers of both classes);
            all when None.

    Raises:
        ConfigError: no cutoff at all.
        InsufficientHistoryError: not one usable cutoff, saying what the horizon needs.
    """
    horizon = pd.Timedelta(days=horizon_days)
    cuts = sorted({pd.Timestamp(c) for c in cutoffs}, reverse=True)
    if not cuts:
        raise ConfigError("plan_roles: expected at least one cutoff; got none")
    ok = [c for c in cuts if usable is None or c in {pd.Timestamp(u) for u in usable}]
    if not ok:
        raise InsufficientHistoryError(history_message(cuts, end=end, horizon_days=horizon_days))
    test = ok[0]
    before = [c for c in ok if c + horizon <= test]
    if len(before) > MIN_TRAINING_CUTOFFS:
        evaluation = CutoffRoles("evaluation", test, before[0], tuple(before[1:]))
        training = tuple(c for c in ok if c < test)[: len(evaluation.training)]
        return evaluation, CutoffRoles("deployment", end, test, training)
    if before:
        missing = (
            f"a calibration cutoff {horizon_days}+ days before the test cutoff {test.date()} "
            f"with {MIN_TRAINING_CUTOFFS} training cutoffs before it",
        )
        evaluation = CutoffRoles(
            "evaluation", test, None, tuple(before), CROSS_FITTED, OUT_OF_TIME, missing
        )
        deployment = tuple(ok[: len(before)])
    else:
        missing = (
            f"a cutoff whose {horizon_days}-day label window ends by the latest cutoff "
            f"{test.date()} (a separate calibration and test cutoff)",
        )
        evaluation = CutoffRoles(
            "evaluation", test, None, tuple(ok), CROSS_FITTED, IN_TIME, missing
        )
        deployment = tuple(ok)
    log.warning(
        "short history for horizon %d days and step %d days: missing %s; the calibrator is "
        "cross-fitted on the training cutoffs by customer and the evaluation is %s%s",
        horizon_days,
        step_days,
        "; ".join(missing),
        evaluation.evaluation_mode.replace("_", "-"),
        " (its metrics are never used by the promotion gate)" if evaluation.in_time else "",
    )
    return evaluation, CutoffRoles(
        "deployment", end, None, deployment, CROSS_FITTED, evaluation.evaluation_mode, missing
    )


def history_message(
    cuts: Sequence[pd.Timestamp],
    *,
    end: pd.Timestamp,
    horizon_days: int,
    detail: str = "",
) -> str:
    """Why training refuses: not one labelled cutoff with customers of both classes."""
    latest = pd.Timestamp(end) - pd.Timedelta(days=horizon_days)
    got = f"got {len(cuts)} cutoffs, none with customers of both classes"
    return (
        f"too little history for horizon {horizon_days} days: training needs at least one "
        f"labelled cutoff (on or before {latest.date()}, {horizon_days} days before the data end "
        f"{pd.Timestamp(end).date()}) with churned and retained customers, so purchases from "
        f"more than {horizon_days} days before the data end; {detail or got}. Use more history "
        "or a shorter label.horizon_days"
    )

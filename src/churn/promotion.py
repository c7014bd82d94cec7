"""When a new model may become the registry's ``champion`` (docs/training.md).

A model is promoted when it beats every baseline on its test cutoff in each gate metric, and
its test metrics are no worse than the current champion's recorded ones (within a tolerance)
for the same horizon. Otherwise it stays ``challenger``. The decision is a pure function of the
recorded metrics and the current champion's record, which :mod:`churn.tracking` fetches;
tracking then applies the decision to the registry.

In-time metrics (a history too short for an out-of-time test cutoff) are never compared: such
a version is promoted only when there is no champion at all (so that scoring has a model) and
otherwise stays ``challenger``; a champion evaluated in time is replaced by any new version
that beats the baselines out of time, as its own metrics cannot be compared.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from churn import evaluation
from churn.config import Config
from churn.errors import ConfigError
from churn.model.roles import IN_TIME, OUT_OF_TIME


@dataclass(frozen=True)
class PromotionConfig(Config):
    """Gate metrics and the tolerance against the champion (``promotion`` in conf/train.yaml)."""

    section: ClassVar[str] = "promotion"

    metrics: tuple[str, ...] = ("roc_auc", "brier")
    tolerance: float = 0.005

    def validate(self) -> None:
        """Raise ConfigError for an unknown metric, no metric or a negative tolerance."""
        policy = self
        for metric in policy.metrics:
            if metric not in evaluation.METRIC_DIRECTIONS:
                raise ConfigError(
                    f"promotion.metrics: {metric!r} is not a metric; expected some of "
                    f"{sorted(evaluation.METRIC_DIRECTIONS)}"
                )
        if not policy.metrics or not (math.isfinite(policy.tolerance) and policy.tolerance >= 0):
            raise ConfigError(
                "promotion: expected at least one metric and a tolerance >= 0; got "
                f"{list(policy.metrics)}, {policy.tolerance}"
            )


@dataclass(frozen=True)
class Champion:
    """The current champion's recorded test metrics (``test/<metric>``), horizon and how they
    were measured (``out_of_time`` or ``in_time``)."""

    version: str
    metrics: Mapping[str, float]
    horizon_days: int | None
    evaluation_mode: str = OUT_OF_TIME


@dataclass(frozen=True)
class Decision:
    """Whether to promote, and why (one line per check)."""

    promote: bool
    reasons: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"promote": self.promote, "reasons": list(self.reasons)}


def _beats(metric: str, new: float, old: float) -> bool:
    if math.isnan(new) or math.isnan(old):
        return False
    if evaluation.METRIC_DIRECTIONS[metric] == "higher":
        return new > old
    return new < old


def decide(
    metrics: Mapping[str, float],
    *,
    baselines: Sequence[str],
    horizon_days: int,
    policy: PromotionConfig,
    champion: Champion | None = None,
    evaluation_mode: str = OUT_OF_TIME,
) -> Decision:
    """Apply the whole gate to the flat test metrics of a training run.

    Args:
        metrics: ``test/<metric>`` for the model, ``test/<baseline>/<metric>`` for baselines.
        baselines: the baselines the model must beat.
        horizon_days: the new model's label horizon.
        policy: gate metrics and tolerance.
        champion: the current champion, None when there is none.
        evaluation_mode: how ``metrics`` were measured; ``in_time`` ones are never compared.
    """
    return against_champion(
        against_baselines(
            metrics, baselines=baselines, policy=policy, evaluation_mode=evaluation_mode
        ),
        metrics,
        horizon_days=horizon_days,
        policy=policy,
        champion=champion,
        evaluation_mode=evaluation_mode,
    )


def against_baselines(
    metrics: Mapping[str, float],
    *,
    baselines: Sequence[str],
    policy: PromotionConfig,
    evaluation_mode: str = OUT_OF_TIME,
) -> Decision:
    """The first half of the gate: the model must beat every baseline in each gate metric.

    In-time metrics are not compared: the decision is then not to promote on them.
    """
    if evaluation_mode == IN_TIME:
        return Decision(False, ["in-time evaluation: not compared with the baselines"])
    reasons: list[str] = []
    promote = True
    for metric in policy.metrics:
        new = metrics.get(f"test/{metric}", math.nan)
        for baseline in baselines:
            old = metrics.get(f"test/{baseline}/{metric}", math.nan)
            ok = _beats(metric, new, old)
            promote &= ok
            reasons.append(
                f"{metric} {new:.4f} {'beats' if ok else 'does not beat'} {baseline} {old:.4f}"
            )
    return Decision(promote, reasons)


def against_champion(
    vs_baselines: Decision,
    metrics: Mapping[str, float],
    *,
    horizon_days: int,
    policy: PromotionConfig,
    champion: Champion | None,
    evaluation_mode: str = OUT_OF_TIME,
) -> Decision:
    """The second half of the gate, on top of :func:`against_baselines`'s decision.

    The model must be no worse than the current champion's recorded test metrics (within the
    tolerance), for the same horizon; with no champion only the baselines decide. A model
    evaluated in time is promoted only when there is no champion; a champion evaluated in time
    is not compared with, so the baselines alone decide.
    """
    reasons = list(vs_baselines.reasons)
    promote = vs_baselines.promote
    if evaluation_mode == IN_TIME:
        promote = champion is None
        reasons.append(
            "no current champion: promoted so that scoring has a model"
            if champion is None
            else f"in-time evaluation: not compared with champion v{champion.version}; kept as "
            "challenger"
        )
    elif champion is None:
        reasons.append("no current champion")
    elif champion.horizon_days != horizon_days:
        promote = False
        reasons.append(
            f"champion v{champion.version} has horizon {champion.horizon_days} days, this model "
            f"{horizon_days}: not comparable; train into another model_dir to change the horizon"
        )
    elif champion.evaluation_mode == IN_TIME:
        reasons.append(
            f"champion v{champion.version} was evaluated in time: its metrics are not compared"
        )
    else:
        for metric in policy.metrics:
            new = metrics.get(f"test/{metric}", math.nan)
            old = champion.metrics.get(f"test/{metric}", math.nan)
            ok = not (math.isnan(old) or math.isnan(new)) and evaluation.is_better(
                metric, new, old, tolerance=policy.tolerance
            )
            promote &= ok
            reasons.append(
                f"{metric} {new:.4f} {'is no worse than' if ok else 'is worse than'} champion "
                f"v{champion.version} {old:.4f} (tolerance {policy.tolerance})"
            )
    return Decision(promote, reasons)

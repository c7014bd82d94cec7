"""When a new model may become the registry's ``champion`` (docs/training.md).

A model is promoted when it beats every baseline on its test cutoff in each gate metric, and
its test metrics are no worse than the current champion's recorded ones (within a tolerance)
for the same horizon. Otherwise it stays ``challenger``. The decision is a pure function of the
recorded metrics and the current champion's record, which :mod:`churn.tracking` fetches;
tracking then applies the decision to the registry.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from churn import evaluation
from churn.config import Config
from churn.errors import ConfigError


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
    """The current champion's recorded test metrics (``test/<metric>``) and horizon."""

    version: str
    metrics: Mapping[str, float]
    horizon_days: int | None


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
) -> Decision:
    """Apply the whole gate to the flat test metrics of a training run.

    Args:
        metrics: ``test/<metric>`` for the model, ``test/<baseline>/<metric>`` for baselines.
        baselines: the baselines the model must beat.
        horizon_days: the new model's label horizon.
        policy: gate metrics and tolerance.
        champion: the current champion, None when there is none.
    """
    return against_champion(
        against_baselines(metrics, baselines=baselines, policy=policy),
        metrics,
        horizon_days=horizon_days,
        policy=policy,
        champion=champion,
    )


def against_baselines(
    metrics: Mapping[str, float], *, baselines: Sequence[str], policy: PromotionConfig
) -> Decision:
    """The first half of the gate: the model must beat every baseline in each gate metric."""
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
) -> Decision:
    """The second half of the gate, on top of :func:`against_baselines`'s decision.

    The model must be no worse than the current champion's recorded test metrics (within the
    tolerance), for the same horizon; with no champion only the baselines decide.
    """
    reasons = list(vs_baselines.reasons)
    promote = vs_baselines.promote
    if champion is None:
        reasons.append("no current champion")
    elif champion.horizon_days != horizon_days:
        promote = False
        reasons.append(
            f"champion v{champion.version} has horizon {champion.horizon_days} days, this model "
            f"{horizon_days}: not comparable; train into another model_dir to change the horizon"
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

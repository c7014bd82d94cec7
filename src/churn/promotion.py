"""When a new model may become the registry's ``champion`` (docs/training.md).

A model (the deployed candidate: LightGBM or a baseline chosen by validation,
:mod:`churn.candidates`) is promoted when on its test cutoff it is no worse than the best
baseline in each gate metric, and no worse than the current champion's recorded test metrics,
both within a tolerance, for the same horizon. Otherwise it stays ``challenger``. With no
champion at all it is promoted whatever the baselines say (their comparison is recorded), so a
fresh store always ends training with a model to score with. The decision is a pure function of the
recorded metrics and the current champion's record, which :mod:`churn.tracking` fetches;
tracking then applies the decision to the registry.

In-time metrics (a history too short for an out-of-time test cutoff) are never compared: such
a version is promoted only when there is no champion at all (so that scoring has a model) and
otherwise stays ``challenger``; a champion evaluated in time is replaced by any new version
no worse than the best baseline out of time, as its own metrics cannot be compared.
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
    """Gate metrics and the tolerance against the best baseline and the champion
    (``promotion`` in conf/train.yaml)."""

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


def _best(metric: str, values: Mapping[str, float]) -> tuple[str, float] | None:
    """The best baseline's name and value in ``metric`` (None when none has a value)."""
    known = {name: v for name, v in values.items() if not math.isnan(v)}
    if not known:
        return None
    higher = evaluation.METRIC_DIRECTIONS[metric] == "higher"
    name = (max if higher else min)(known, key=lambda n: known[n])
    return name, known[name]


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
        baselines: the baselines the model must be no worse than (the best of them).
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
    """The first half of the gate: in each gate metric, the model must be no worse than the best
    baseline in that metric, within ``policy.tolerance``.

    A deployed baseline is compared like any model (with itself among the baselines it is
    equal to the best or within the tolerance of it). In-time metrics are not compared: the
    decision is then not to promote on them.
    """
    if evaluation_mode == IN_TIME:
        return Decision(False, ["in-time evaluation: not compared with the baselines"])
    reasons: list[str] = []
    promote = True
    for metric in policy.metrics:
        new = metrics.get(f"test/{metric}", math.nan)
        best = _best(metric, {b: metrics.get(f"test/{b}/{metric}", math.nan) for b in baselines})
        if best is None:
            reasons.append(f"{metric}: no baseline has a value; not compared")
            continue
        name, old = best
        ok = not math.isnan(new) and evaluation.is_better(
            metric, new, old, tolerance=policy.tolerance
        )
        promote &= ok
        reasons.append(
            f"{metric} {new:.4f} {'is no worse than' if ok else 'is worse than'} the best "
            f"baseline {name} {old:.4f} (tolerance {policy.tolerance})"
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
    tolerance), for the same horizon. With no champion the model is promoted whatever the
    baselines said (so that scoring has a model; the checks stay in the reasons). A model
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
        reasons.append(
            "no current champion"
            if promote
            else "no current champion: promoted so that scoring has a model"
        )
        promote = True
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

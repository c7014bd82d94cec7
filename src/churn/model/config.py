"""The LightGBM model's settings (``conf/model``) and its tuning search space."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from churn.config import check_keys, whole_number
from churn.errors import ConfigError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TuningConfig:
    """Optional Optuna search (``model.tuning``); ``n_trials: 0`` switches it off."""

    n_trials: int = 0
    timeout_s: float | None = None
    # parameter -> [low, high]: whole numbers give integers; a high/low ratio of 10 or more
    # searches on a log scale
    space: Mapping[str, tuple[float, float]] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelConfig:
    """LightGBM settings (``conf/model/lightgbm.yaml``)."""

    params: Mapping[str, Any] = field(default_factory=dict)
    n_estimators: int = 2000
    early_stopping_rounds: int = 50
    holdout_fraction: float = 0.2
    n_jobs: int = 1
    exclude_features: tuple[str, ...] = ()
    tuning: TuningConfig = field(default_factory=TuningConfig)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> ModelConfig:
        """Build from the ``model`` config node (its ``name`` key is informative only)."""
        flat = {k: v for k, v in values.items() if k != "name"}
        known = {f.name for f in dataclasses.fields(cls)}
        check_keys("model", flat, known)
        tuning = dict(flat.pop("tuning", None) or {})
        check_keys("model.tuning", tuning, {f.name for f in dataclasses.fields(TuningConfig)})
        space = {str(k): _bounds(k, v) for k, v in dict(tuning.pop("space", None) or {}).items()}
        config = cls(
            **{
                **flat,
                "params": dict(flat.get("params") or {}),
                "exclude_features": tuple(flat.get("exclude_features") or ()),
            },
            tuning=TuningConfig(**tuning, space=space),
        )
        config.validate()
        return config

    def validate(self) -> None:
        """Raise ConfigError for settings that cannot work."""
        fraction = self.holdout_fraction
        if (
            isinstance(fraction, bool)
            or not isinstance(fraction, int | float)
            or not 0 < fraction < 1
        ):
            raise ConfigError(
                f"model.holdout_fraction: expected a share in (0, 1); got {self.holdout_fraction}"
            )
        for name in ("n_estimators", "early_stopping_rounds", "n_jobs"):
            whole_number(f"model.{name}", getattr(self, name), minimum=1)
        whole_number("model.tuning.n_trials", self.tuning.n_trials, minimum=0)
        reserved = {"n_estimators", "n_jobs", "random_state", "seed", "verbose", "objective"}
        clash = sorted(reserved & set(self.params))
        if clash:
            raise ConfigError(f"model.params: {clash} are set by the trainer; remove them")


def _bounds(name: object, value: Any) -> tuple[float, float]:
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 2:
        raise ConfigError(f"model.tuning.space.{name}: expected [low, high]; got {value!r}")
    low, high = value
    if not low < high:
        raise ConfigError(f"model.tuning.space.{name}: expected low < high; got {value!r}")
    return low, high

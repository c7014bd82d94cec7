"""How the uplift model is trained, evaluated and gated (``conf/uplift.yaml``, ``uplift:``)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from churn.config import Config, build
from churn.errors import ConfigError
from churn.uplift.learners import LEARNERS, UpliftParams

# What the export itself says about a customer, beside the behavioural features at its as-of date
EXPORT_FEATURES = ("churn_probability", "value")


@dataclass(frozen=True)
class UpliftConfig(Config):
    """The ``uplift`` node.

    Attributes:
        model_dir: the uplift model store (``models/uplift``).
        learner: ``t`` (one outcome model per arm) or ``x`` (Kuenzel et al.'s X-learner).
        per_offer: one model per offer (True) or one model with the offer as a feature.
        features: the model's inputs: columns of :func:`churn.features.build_features` at the
            export's as-of date, and ``churn_probability`` and ``value`` from the export.
        min_campaigns: fewer measured campaigns with randomised customers: no model, the plan
            stays risk-based (one campaign is held out to evaluate, the others train).
        min_rows_per_offer: an offer with fewer randomised treated customers in the training
            campaigns is left out of the model (its customers are planned by net benefit).
        gate_margin: the model is used only when its out-of-time Qini beats risk-based
            targeting's by more than this (per customer kept per customer targeted).
        params: LightGBM settings of every model inside the learner.
        keep_versions: versions kept in the store (the champion is always kept).
    """

    section: ClassVar[str] = "uplift"

    model_dir: str = "models/uplift"
    learner: str = "x"
    per_offer: bool = False
    features: tuple[str, ...] = (
        "churn_probability",
        "value",
        "recency_days",
        "frequency",
        "tenure_days",
        "monetary_mean",
        "recency_gap_ratio",
        "purchases_90d",
    )
    min_campaigns: int = 2
    min_rows_per_offer: int = 100
    gate_margin: float = 0.0
    params: UpliftParams = field(default_factory=UpliftParams)
    keep_versions: int = 10

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Self:
        """Build and validate from the ``uplift`` node (``params`` is a nested node)."""
        values = dict(values)
        params = values.pop("params", None) or {}
        if not isinstance(params, Mapping):
            raise ConfigError(f"uplift.params: expected a mapping of settings; got {params!r}")
        try:
            built = build(UpliftParams, params, where="uplift.params")
        except ConfigError as err:
            if str(err).startswith("uplift.params"):
                raise
            raise ConfigError(f"uplift.params: {err}") from err
        config = build(cls, {**values, "params": built}, where=cls.section)
        config.validate()
        return config

    def validate(self) -> None:
        """Raise ConfigError for values that cannot work."""
        if not isinstance(self.model_dir, str) or not self.model_dir:
            raise ConfigError(f"uplift.model_dir: expected a folder path; got {self.model_dir!r}")
        if self.learner not in LEARNERS:
            raise ConfigError(
                f"uplift.learner: expected one of {list(LEARNERS)}; got {self.learner!r}"
            )
        if not isinstance(self.per_offer, bool):
            raise ConfigError(f"uplift.per_offer: expected true or false; got {self.per_offer!r}")
        if not self.features or not all(isinstance(f, str) and f for f in self.features):
            raise ConfigError(
                f"uplift.features: expected a non-empty list of column names; got "
                f"{list(self.features)}"
            )
        if len(set(self.features)) != len(self.features):
            raise ConfigError(f"uplift.features: names repeat in {list(self.features)}")
        for name, low in (("min_campaigns", 2), ("min_rows_per_offer", 1), ("keep_versions", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(
                    f"uplift.{name}: expected a whole number >= {low}"
                    + (" (one campaign evaluates, the others train)" if low == 2 else "")
                    + f"; got {value!r}"
                )
        if not (math.isfinite(self.gate_margin) and self.gate_margin >= 0):
            raise ConfigError(
                f"uplift.gate_margin: expected a finite number >= 0; got {self.gate_margin}"
            )

    def to_dict(self) -> dict[str, Any]:
        """The fields as plain values, ``params`` as a nested mapping."""
        out = super().to_dict()
        out["params"] = dataclasses.asdict(self.params)
        return out

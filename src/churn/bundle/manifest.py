"""The bundle's manifest as a typed record: what was trained, how, and how to score with it.

``manifest.json`` is written from :class:`Manifest` as canonical JSON (sorted keys, fixed
separators), so a digest or signature over it is stable. Readers use attributes; nothing reads
the training run's Hydra config. The settings scoring must repeat (horizon, population window,
feature config) are typed fields of :class:`TrainingSettings`, each with one source.

The model is described as ``model: {kind, files: {name: sha256}, params}``, so a model of another
kind (a booster in its text format, a regression's coefficients, BTYD parameters) fits the same
format.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from churn.errors import BundleError, ConfigError
from churn.features import FeatureConfig
from churn.labels import LabelConfig

SCHEMA_VERSION = 2


@dataclass(frozen=True)
class FeatureSpec:
    """One model input: its column name and the dtype it had at training."""

    name: str
    dtype: str


@dataclass(frozen=True)
class ModelSpec:
    """The model's kind, its files in the bundle with their sha256, and its parameters."""

    kind: str
    files: Mapping[str, str]
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        """One sha256 naming the model: over its files' names and digests."""
        text = json.dumps(dict(self.files), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class CandidateScore:
    """One candidate's out-of-time validation metrics (NaN when undefined)."""

    name: str
    brier: float
    roc_auc: float
    ece: float
    rows: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (NaN as null)."""
        values = {"brier": self.brier, "roc_auc": self.roc_auc, "ece": self.ece}
        return {
            "name": self.name,
            "rows": self.rows,
            **{k: None if math.isnan(v) else v for k, v in values.items()},
        }


@dataclass(frozen=True)
class Selection:
    """Which candidate the recipe deploys and why (``train.selection``, docs/training.md).

    ``validation`` says where the candidates were compared (the calibration cutoff, or the
    training rows out of fold); ``candidates`` holds each one's validation metrics (none when
    validation was impossible: ``reason`` says why).
    """

    chosen: str
    metric: str
    margin: float
    validation: str
    rows: int
    rule: str
    reason: str
    candidates: tuple[CandidateScore, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "chosen": self.chosen,
            "metric": self.metric,
            "margin": self.margin,
            "validation": self.validation,
            "rows": self.rows,
            "rule": self.rule,
            "reason": self.reason,
            "candidates": [c.to_dict() for c in self.candidates],
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], *, where: str) -> Selection:
        """Read what :meth:`to_dict` wrote.

        Raises:
            BundleError: a missing or malformed field.
        """
        try:
            candidates = tuple(
                CandidateScore(
                    str(c["name"]),
                    _score(c, "brier"),
                    _score(c, "roc_auc"),
                    _score(c, "ece"),
                    int(c["rows"]),
                )
                for c in values.get("candidates") or ()
            )
            return cls(
                chosen=str(values["chosen"]),
                metric=str(values["metric"]),
                margin=float(values["margin"]),
                validation=str(values["validation"]),
                rows=int(values["rows"]),
                rule=str(values["rule"]),
                reason=str(values["reason"]),
                candidates=candidates,
            )
        except (KeyError, TypeError, ValueError) as err:
            raise BundleError(f"{where}.selection: expected the selection record; {err}") from err


def _score(values: Mapping[str, Any], name: str) -> float:
    value = values.get(name)
    return math.nan if value is None else float(value)


@dataclass(frozen=True)
class TrainingSettings:
    """What scoring repeats from training: the label and population rules, the features."""

    label: LabelConfig
    features: FeatureConfig
    calibration: str

    @property
    def horizon_days(self) -> int:
        """The churn horizon H: no purchase in ``[as_of, as_of + H)``."""
        return self.label.horizon_days

    @property
    def active_within_days(self) -> int | None:
        """The population window: a purchase within this many days before the as-of date."""
        return self.label.active_within_days

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "label": self.label.to_dict(),
            "features": self.features.to_dict(),
            "calibration": self.calibration,
        }


@dataclass(frozen=True)
class Manifest:
    """A bundle's manifest (``manifest.json``)."""

    name: str
    created_at: str
    data_end: str
    model: ModelSpec
    features: tuple[FeatureSpec, ...]
    training: TrainingSettings
    metrics: Mapping[str, float] = field(default_factory=dict)
    evaluation: Mapping[str, Any] = field(default_factory=dict)
    deployment: Mapping[str, Any] = field(default_factory=dict)
    promotion: Mapping[str, Any] = field(default_factory=dict)
    data_fingerprint: Mapping[str, Any] = field(default_factory=dict)
    reference_distributions: Mapping[str, Any] = field(default_factory=dict)
    plots: Mapping[str, str] = field(default_factory=dict)
    libraries: Mapping[str, str] = field(default_factory=dict)
    mlflow: Mapping[str, Any] | None = None
    selection: Selection | None = None  # None in bundles written before candidates were compared
    schema_version: int = SCHEMA_VERSION

    @property
    def horizon_days(self) -> int:
        """The churn horizon the model was trained for."""
        return self.training.horizon_days

    @property
    def feature_names(self) -> list[str]:
        """The model's input columns, in order."""
        return [f.name for f in self.features]

    @property
    def version(self) -> str:
        """The registry's version when registered, else the start of the model's digest."""
        registered = (self.mlflow or {}).get("version")
        return str(registered) if registered else self.model.digest[:12]

    def with_updates(self, **changes: Any) -> Manifest:
        """A copy with some fields replaced (e.g. ``mlflow`` after tracking)."""
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; :meth:`from_dict` gives the same manifest back."""
        return {
            "schema_version": self.schema_version,
            "name": self.name,
            "created_at": self.created_at,
            "data_end": self.data_end,
            "model": {
                "kind": self.model.kind,
                "files": dict(self.model.files),
                "params": dict(self.model.params),
            },
            "features": [{"name": f.name, "dtype": f.dtype} for f in self.features],
            "training": self.training.to_dict(),
            "metrics": dict(self.metrics),
            "evaluation": dict(self.evaluation),
            "deployment": dict(self.deployment),
            "promotion": dict(self.promotion),
            "data_fingerprint": dict(self.data_fingerprint),
            "reference_distributions": dict(self.reference_distributions),
            "plots": dict(self.plots),
            "libraries": dict(self.libraries),
            "mlflow": None if self.mlflow is None else dict(self.mlflow),
            "selection": None if self.selection is None else self.selection.to_dict(),
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], *, where: str = "manifest") -> Manifest:
        """The manifest from its JSON form.

        Raises:
            BundleError: another schema version, a missing or malformed field (with its name).
        """
        if not isinstance(values, Mapping):
            raise BundleError(f"{where}: expected a JSON object; got {type(values).__name__}")
        version = values.get("schema_version")
        if version != SCHEMA_VERSION:
            raise BundleError(
                f"{where}: expected schema_version {SCHEMA_VERSION}; got {version!r} "
                "(a bundle from another release: train it again with python -m pipelines.train)"
            )
        model = _mapping(values, "model", where)
        files = _mapping(model, "files", f"{where}.model")
        if not files or not all(isinstance(v, str) and len(v) == 64 for v in files.values()):
            raise BundleError(
                f"{where}.model.files: expected file names with their sha256; got {files!r}"
            )
        raw_features = values.get("features")
        if not isinstance(raw_features, list) or not raw_features:
            raise BundleError(f"{where}.features: expected a non-empty list; got {raw_features!r}")
        try:
            features = tuple(FeatureSpec(str(f["name"]), str(f["dtype"])) for f in raw_features)
        except (KeyError, TypeError) as err:
            raise BundleError(
                f"{where}.features: expected items with name and dtype; got {raw_features!r}"
            ) from err
        training = _mapping(values, "training", where)
        try:
            settings = TrainingSettings(
                label=LabelConfig.from_mapping(_mapping(training, "label", f"{where}.training")),
                features=FeatureConfig.from_mapping(
                    _mapping(training, "features", f"{where}.training")
                ),
                calibration=str(training.get("calibration")),
            )
        except ConfigError as err:
            raise BundleError(f"{where}.training: {err}") from err
        mlflow = values.get("mlflow")
        selection = values.get("selection")
        return cls(
            name=str(_required(values, "name", where)),
            created_at=str(_required(values, "created_at", where)),
            data_end=str(_required(values, "data_end", where)),
            model=ModelSpec(
                kind=str(_required(model, "kind", f"{where}.model")),
                files={str(k): str(v) for k, v in files.items()},
                params=dict(model.get("params") or {}),
            ),
            features=features,
            training=settings,
            metrics=dict(values.get("metrics") or {}),
            evaluation=dict(values.get("evaluation") or {}),
            deployment=dict(values.get("deployment") or {}),
            promotion=dict(values.get("promotion") or {}),
            data_fingerprint=dict(values.get("data_fingerprint") or {}),
            reference_distributions=dict(values.get("reference_distributions") or {}),
            plots={str(k): str(v) for k, v in (values.get("plots") or {}).items()},
            libraries={str(k): str(v) for k, v in (values.get("libraries") or {}).items()},
            mlflow=dict(mlflow) if isinstance(mlflow, Mapping) else None,
            selection=Selection.from_dict(selection, where=where)
            if isinstance(selection, Mapping)
            else None,
        )


def _required(values: Mapping[str, Any], key: str, where: str) -> Any:
    if values.get(key) is None:
        raise BundleError(f"{where}.{key}: expected a value; the field is missing")
    return values[key]


def _mapping(values: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = values.get(key)
    if not isinstance(value, Mapping):
        raise BundleError(f"{where}.{key}: expected a mapping; got {value!r}")
    return value

"""The deployed churn model in files that load without running code (docs/model-store.md).

:class:`ChurnModel` is what training evaluates, the bundle stores and scoring serves. Its
``kind`` is ``calibrated-lightgbm`` (the ordinal codes of the text features, a LightGBM booster
and the calibration map) or one of the baselines chosen by validation (``recency``,
``rfm_logistic``, ``bgnbd``: :mod:`churn.model.simple`). No file is a pickle:

- ``booster.txt`` (LightGBM only): the booster in LightGBM's own text format;
- ``model.json``: the kind, the feature order, and for LightGBM the category codes, the
  booster's input order and best iteration and the calibrator's parameters (isotonic
  thresholds, or Platt's ``a`` and ``b``); for a baseline its parameters.

:meth:`ChurnModel.from_fitted` converts the scikit-learn objects training fits (an encoder +
LightGBM pipeline, optionally inside a prefit :class:`~sklearn.calibration.CalibratedClassifierCV`)
and :meth:`ChurnModel.from_scorer` wraps a baseline's parameters; training checks that the
conversion predicts the same probabilities.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import logging
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from scipy.special import expit, logit
from sklearn.pipeline import Pipeline

from churn.model.simple import KINDS, SimpleScorer, read_scorer

log = logging.getLogger(__name__)

BOOSTER_FILE = "booster.txt"
MODEL_JSON = "model.json"
FORMAT_VERSION = 1
LIGHTGBM_KIND = "calibrated-lightgbm"
MODEL_KINDS = (LIGHTGBM_KIND, *KINDS)
_CALIBRATIONS = ("isotonic", "sigmoid")
_INPUTS = ("raw_score", "probability")
_OFFSET_EPS = 1e-6


@dataclass(frozen=True)
class Calibrator:
    """A fitted monotone map from the booster's probability to a calibrated one."""

    method: str
    x: tuple[float, ...] = ()  # isotonic: thresholds (ascending) and their values
    y: tuple[float, ...] = ()
    a: float = 0.0  # sigmoid: p = 1 / (1 + exp(a * s + b))
    b: float = 0.0

    def apply(self, scores: np.ndarray) -> np.ndarray:
        """Calibrated probabilities of the booster's scores."""
        if self.method == "isotonic":
            clipped = np.clip(scores, self.x[0], self.x[-1])
            return np.interp(clipped, np.asarray(self.x), np.asarray(self.y))
        return np.asarray(expit(-(self.a * scores + self.b)), dtype=float)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        if self.method == "isotonic":
            return {"method": self.method, "x": list(self.x), "y": list(self.y)}
        return {"method": self.method, "a": self.a, "b": self.b}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], *, where: str) -> Calibrator:
        """Read and check a calibrator written by :meth:`to_dict`."""
        method = values.get("method")
        if method == "isotonic":
            x = tuple(float(v) for v in values.get("x") or ())
            y = tuple(float(v) for v in values.get("y") or ())
            ok = len(x) == len(y) >= 1 and all(math.isfinite(v) for v in (*x, *y))
            if not ok or any(b < a for a, b in itertools.pairwise(x)):
                raise ValueError(
                    f"{where}: isotonic calibrator: expected equally long finite x and y with x "
                    f"ascending; got {len(x)} and {len(y)} values"
                )
            return cls(method, x=x, y=y)
        if method == "sigmoid":
            a, b = float(values.get("a", math.nan)), float(values.get("b", math.nan))
            if not (math.isfinite(a) and math.isfinite(b)):
                raise ValueError(f"{where}: sigmoid calibrator: expected finite a and b")
            return cls(method, a=a, b=b)
        raise ValueError(
            f"{where}: calibrator method: expected one of {_CALIBRATIONS}; got {method!r}"
        )


@dataclass(frozen=True)
class ChurnModel:
    """Encoder codes + LightGBM booster + calibrators, or a baseline's parameters (``simple``):
    ``predict_proba`` on feature rows."""

    features: tuple[str, ...]
    categories: Mapping[str, tuple[str, ...]]
    encoded_columns: tuple[str, ...]
    booster: lgb.Booster | None
    best_iteration: int
    calibrators: tuple[Calibrator, ...] = ()
    calibration_input: str = "raw_score"  # what the calibrators map: raw_score or probability
    offset: float = 0.0  # log-odds added last: the seasonal recalibration (churn.seasonal)
    simple: SimpleScorer | None = None  # a deployed baseline: no booster

    @property
    def kind(self) -> str:
        """``calibrated-lightgbm``, or the deployed baseline's name (:mod:`churn.model.simple`)."""
        return LIGHTGBM_KIND if self.simple is None else self.simple.kind

    @property
    def files(self) -> tuple[str, ...]:
        """The files :meth:`save` writes."""
        return (MODEL_JSON,) if self.simple is not None else (BOOSTER_FILE, MODEL_JSON)

    @property
    def calibration(self) -> str:
        """The calibration method, ``none`` when the booster's probabilities are served."""
        return self.calibrators[0].method if self.calibrators else "none"

    def _booster(self) -> lgb.Booster:
        if self.booster is None:
            raise TypeError(f"ChurnModel: a {self.kind} model has no LightGBM booster")
        return self.booster

    def encode(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The scorer's input: text features as their codes (unknown: missing), in its order."""
        if self.simple is not None:
            return frame[list(self.simple.inputs)].astype("float64")
        columns: dict[str, Any] = {}
        for name in self.encoded_columns:
            values = frame[name]
            if name in self.categories:
                codes = {value: float(i) for i, value in enumerate(self.categories[name])}
                columns[name] = values.map(codes).astype("float64")
            else:
                columns[name] = values
        return pd.DataFrame(columns, index=frame.index)

    def booster_output(self, frame: pd.DataFrame, *, raw_score: bool) -> np.ndarray:
        """The booster's log-odds (``raw_score``) or probability of churn, before calibration."""
        encoded = self.encode(frame)
        return np.asarray(
            self._booster().predict(
                encoded, num_iteration=self.best_iteration, raw_score=raw_score
            ),
            dtype=float,
        )

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """``[P(stays), P(churns)]`` per row, like a scikit-learn classifier."""
        if self.simple is not None:
            p = self.simple.probability(frame)
        elif not self.calibrators:
            p = self.booster_output(frame, raw_score=False)
        else:
            scores = self.booster_output(frame, raw_score=self.calibration_input == "raw_score")
            p = np.mean([c.apply(scores) for c in self.calibrators], axis=0)
        if self.offset:
            p = expit(logit(np.clip(p, _OFFSET_EPS, 1 - _OFFSET_EPS)) + self.offset)
        return np.column_stack([1.0 - p, p])

    def contributions(self, frame: pd.DataFrame, *, threads: int = 0) -> pd.DataFrame:
        """SHAP contributions (log-odds) of each encoded feature per row, plus ``bias``.

        A baseline gives its own terms (:mod:`churn.model.simple`) in the same frame format.
        """
        if self.simple is not None:
            return self.simple.contributions(frame)
        encoded = self.encode(frame)
        values = self._booster().predict(
            encoded,
            pred_contrib=True,
            num_iteration=self.best_iteration,
            num_threads=threads or (os.cpu_count() or 1),
        )
        return pd.DataFrame(values, columns=[*encoded.columns, "bias"], index=frame.index)

    def save(self, folder: str | os.PathLike[str]) -> list[str]:
        """Write ``model.json`` (and ``booster.txt`` for LightGBM) into ``folder``; their names."""
        root = Path(folder)
        description: dict[str, Any]
        if self.simple is not None:
            description = {
                "format_version": FORMAT_VERSION,
                "kind": self.kind,
                "features": list(self.features),
                "scorer": self.simple.to_dict(),
                "offset": self.offset,
            }
            _write_json(root / MODEL_JSON, description)
            return list(self.files)
        self._booster().save_model(str(root / BOOSTER_FILE), num_iteration=self.best_iteration)
        description = {
            "format_version": FORMAT_VERSION,
            "kind": self.kind,
            "features": list(self.features),
            "categories": {k: list(v) for k, v in self.categories.items()},
            "encoded_columns": list(self.encoded_columns),
            "best_iteration": self.best_iteration,
            "calibrators": [c.to_dict() for c in self.calibrators],
            "calibration_input": self.calibration_input,
            "offset": self.offset,
        }
        _write_json(root / MODEL_JSON, description)
        return list(self.files)

    @classmethod
    def load(cls, folder: str | os.PathLike[str]) -> ChurnModel:
        """Read a model written by :meth:`save` (no code runs: text and JSON only).

        Raises:
            ValueError: a file that does not describe a model of this kind.
        """
        root = Path(folder)
        where = str(root / MODEL_JSON)
        values = json.loads((root / MODEL_JSON).read_text(encoding="utf-8"))
        kind = values.get("kind")
        if kind not in MODEL_KINDS or values.get("format_version") != FORMAT_VERSION:
            raise ValueError(
                f"{where}: expected a model of kind {MODEL_KINDS} and format {FORMAT_VERSION}; "
                f"got {kind!r} format {values.get('format_version')!r}"
            )
        offset = float(values.get("offset", 0.0))
        if not math.isfinite(offset):
            raise ValueError(f"{where}: offset: expected a finite log-odds; got {offset}")
        if kind != LIGHTGBM_KIND:
            scorer = read_scorer(str(kind), values.get("scorer") or {}, where=where)
            served = cls.from_scorer(scorer, [str(f) for f in values["features"]])
            return dataclasses.replace(served, offset=offset)
        booster = lgb.Booster(model_str=(root / BOOSTER_FILE).read_text(encoding="utf-8"))
        model = cls(
            features=tuple(str(f) for f in values["features"]),
            categories={
                str(k): tuple(str(v) for v in vs) for k, vs in values["categories"].items()
            },
            encoded_columns=tuple(str(c) for c in values["encoded_columns"]),
            booster=booster,
            best_iteration=int(values["best_iteration"]),
            calibrators=tuple(
                Calibrator.from_dict(c, where=where) for c in values.get("calibrators") or ()
            ),
            calibration_input=str(values.get("calibration_input")),
            offset=offset,
        )
        if model.calibration_input not in _INPUTS:
            raise ValueError(
                f"{where}: calibration_input: expected one of {_INPUTS}; got "
                f"{model.calibration_input!r}"
            )
        if sorted(model.encoded_columns) != sorted(model.features) or list(
            booster.feature_name()
        ) != list(model.encoded_columns):
            raise ValueError(
                f"{where}: the booster's inputs {booster.feature_name()[:5]}... do not match "
                f"the features {list(model.features)[:5]}..."
            )
        return model

    @classmethod
    def from_scorer(cls, scorer: SimpleScorer, features: Sequence[str]) -> ChurnModel:
        """A deployed baseline taking rows of ``features`` (which must hold its inputs).

        Raises:
            ValueError: an input of the scorer that is not among ``features``.
        """
        missing = [c for c in scorer.inputs if c not in features]
        if missing:
            raise ValueError(
                f"ChurnModel.from_scorer: the {scorer.kind} scorer needs {missing}; the "
                f"features are {list(features)[:8]}..."
            )
        inputs = tuple(scorer.inputs)
        return cls(tuple(features), {}, inputs, None, 0, simple=scorer)

    @classmethod
    def from_fitted(cls, fitted: Any) -> ChurnModel:
        """Convert a fitted encoder + LightGBM pipeline, or a prefit calibrated one."""
        pipeline, calibrators, response = _unwrap(fitted)
        encoder = pipeline.named_steps["encode"]
        classifier = pipeline.named_steps["lightgbm"]
        categories: dict[str, tuple[str, ...]] = {}
        for name, transformer, columns in encoder.transformers_:
            if name == "categories" and len(columns):
                for column, values in zip(columns, transformer.categories_, strict=True):
                    categories[str(column)] = tuple(str(v) for v in values)
        features = tuple(str(c) for c in encoder.feature_names_in_)
        encoded = tuple(str(c) for c in encoder.get_feature_names_out())
        best = int(classifier.best_iteration_ or classifier.booster_.current_iteration())
        return cls(features, categories, encoded, classifier.booster_, best, calibrators, response)


def _unwrap(fitted: Any) -> tuple[Pipeline, tuple[Calibrator, ...], str]:
    """The pipeline, its calibrators and what they map (as scikit-learn's calibration chose:
    ``decision_function`` when the estimator has one, else the probability)."""
    if isinstance(fitted, Pipeline):
        return fitted, (), "raw_score"
    calibrated = getattr(fitted, "calibrated_classifiers_", None)
    if not calibrated:
        raise TypeError(f"ChurnModel: expected a fitted churn model; got {type(fitted).__name__}")
    pipelines, calibrators = [], []
    for member in calibrated:
        inner = getattr(member.estimator, "estimator", member.estimator)  # FrozenEstimator
        if not isinstance(inner, Pipeline) or len(member.calibrators) != 1:
            raise TypeError("ChurnModel: expected a binary calibrated encoder + LightGBM pipeline")
        pipelines.append(inner)
        calibrators.append(_calibrator(member.calibrators[0]))
    if any(p is not pipelines[0] for p in pipelines):
        raise TypeError("ChurnModel: expected one prefit pipeline under every calibrator")
    has_margin = hasattr(calibrated[0].estimator, "decision_function")
    response = "raw_score" if has_margin else "probability"
    return pipelines[0], tuple(calibrators), response


def _calibrator(fitted: Any) -> Calibrator:
    if hasattr(fitted, "X_thresholds_"):
        if not fitted.increasing_ or fitted.out_of_bounds != "clip":
            raise TypeError("ChurnModel: expected an increasing isotonic map that clips")
        x = tuple(float(v) for v in fitted.X_thresholds_)
        return Calibrator("isotonic", x=x, y=tuple(float(v) for v in fitted.y_thresholds_))
    if hasattr(fitted, "a_") and hasattr(fitted, "b_"):
        return Calibrator("sigmoid", a=float(fitted.a_), b=float(fitted.b_))
    raise TypeError(f"ChurnModel: cannot store a {type(fitted).__name__} calibrator")


def _write_json(path: Path, description: Mapping[str, Any]) -> None:
    text = json.dumps(description, sort_keys=True, indent=1, allow_nan=False)
    path.write_text(text + "\n", encoding="utf-8")


def largest_difference(model: ChurnModel, fitted: Any, rows: pd.DataFrame) -> float:
    """The largest gap between the converted model's and the original's churn probabilities.

    ``fitted`` is a scikit-learn classifier (``predict_proba``) or a baseline (``predict``, the
    churn probability; :mod:`churn.baselines`).
    """
    if rows.empty:
        return 0.0
    ours = model.predict_proba(rows)[:, 1]
    if hasattr(fitted, "predict_proba"):
        theirs = np.asarray(fitted.predict_proba(rows))[:, 1]
    else:
        theirs = np.asarray(fitted.predict(rows), dtype=float)
    both_missing = np.isnan(ours) & np.isnan(theirs)
    gaps = np.where(both_missing, 0.0, np.nan_to_num(np.abs(ours - theirs), nan=np.inf))
    return float(np.max(gaps))

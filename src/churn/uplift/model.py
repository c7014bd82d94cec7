"""The fitted uplift model: predictions for each offer, and its files (LightGBM text and JSON).

Sign convention: the uplift of offer ``k`` is ``P(churn | no offer) - P(churn | offer k)``,
positive where the offer keeps customers. :func:`churn.uplift.learners.fit_uplift` builds it.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from churn.errors import DataError

LEARNERS = ("t", "x")
OFFER_COLUMN = "__offer__"
METADATA = "uplift.json"
# LightGBM refuses feature names with JSON's special characters
_REFUSED = re.compile(r'[",:\[\]{}]')
# (role, offer) of a booster: "control"/"offer" (per-arm outcome models), "pooled" (the outcome
# model with the offer as a feature), "effect_offer"/"effect_control" (X-learner stage 2)
BoosterKey = tuple[str, str | None]


def is_whole(value: object) -> bool:
    """True for an int that is not a bool."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_real(value: object) -> bool:
    """True for a finite int or float that is not a bool."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


# One thread predicts: OpenMP threads spin-wait at every barrier, so on a machine whose cores
# other jobs share, a second thread makes LightGBM many times slower, not faster.
PREDICT_THREADS = 1


@dataclass(frozen=True)
class UpliftModel:
    """Fitted uplift models for each offer; :func:`churn.uplift.learners.fit_uplift` builds it.

    ``boosters`` holds the LightGBM models by (role, offer), ``g`` the X-learner's blending
    weight of each offer (empty for the T-learner).
    """

    learner: str
    per_offer: bool
    features: tuple[str, ...]
    offers: tuple[str, ...]
    skipped: Mapping[str, str]
    boosters: Mapping[BoosterKey, lgb.Booster]
    g: Mapping[str, float]

    def predict(self, features: pd.DataFrame, offer: str) -> np.ndarray:
        """The uplift of ``offer`` for each row: the drop in churn probability it brings.

        ``features`` needs the fitted columns, in any order; other columns are ignored.
        """
        if offer not in self.offers:
            why = f" (skipped at fit: {self.skipped[offer]})" if offer in self.skipped else ""
            raise DataError(
                f"UpliftModel.predict: expected one of the fitted offers {list(self.offers)}; "
                f"got {offer!r}{why}"
            )
        return self._uplift(feature_matrix(features, "UpliftModel.predict", self.features), offer)

    def predict_all(self, features: pd.DataFrame) -> pd.DataFrame:
        """The uplift of every fitted offer: one float column per offer, ``features``' index."""
        x = feature_matrix(features, "UpliftModel.predict_all", self.features)
        return pd.DataFrame(
            {offer: self._uplift(x, offer) for offer in self.offers}, index=features.index
        )

    def _uplift(self, x: np.ndarray, offer: str) -> np.ndarray:
        if len(x) == 0:
            return np.zeros(0)
        if self.learner == "t":
            return self._outcome(x, None) - self._outcome(x, offer)
        g = self.g[offer]
        tau_control = self._predict(("effect_control", offer), x)
        return g * tau_control + (1 - g) * self._predict(("effect_offer", offer), x)

    def _outcome(self, x: np.ndarray, offer: str | None) -> np.ndarray:
        """The churn probability without an offer (``offer`` None) or with it."""
        if self.per_offer:
            return self._predict(("control", None) if offer is None else ("offer", offer), x)
        code = 0 if offer is None else self.offers.index(offer) + 1
        return self._predict(("pooled", None), np.column_stack([x, np.full(len(x), code)]))

    def _predict(self, key: BoosterKey, x: np.ndarray) -> np.ndarray:
        return np.asarray(
            self.boosters[key].predict(x, num_threads=PREDICT_THREADS), dtype=np.float64
        )

    def to_files(self, folder: str | os.PathLike[str]) -> list[str]:
        """Write each booster as LightGBM's text model and ``uplift.json``; no pickle.

        Returns:
            The names of the files written, relative to ``folder`` (created if needed).
        """
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        entries: list[dict[str, str | None]] = []
        files: list[str] = []
        for i, ((role, offer), booster) in enumerate(self.boosters.items()):
            name = f"booster_{i:02d}.txt"
            (out / name).write_text(booster.model_to_string(), encoding="utf-8")
            entries.append({"role": role, "offer": offer, "file": name})
            files.append(name)
        meta = {
            "learner": self.learner,
            "per_offer": self.per_offer,
            "features": list(self.features),
            "offers": list(self.offers),
            "skipped": dict(self.skipped),
            "g": dict(self.g),
            "boosters": entries,
        }
        (out / METADATA).write_text(json.dumps(meta, indent=2), encoding="utf-8")
        return [*files, METADATA]

    @classmethod
    def from_files(cls, folder: str | os.PathLike[str]) -> UpliftModel:
        """Read a model that :meth:`to_files` wrote; DataError for a missing or broken file."""
        where = "UpliftModel.from_files"
        folder = Path(folder)
        meta = _metadata(folder / METADATA, where)
        boosters: dict[BoosterKey, lgb.Booster] = {}
        for entry in meta["boosters"]:
            path = folder / entry["file"]
            try:
                boosters[(entry["role"], entry["offer"])] = lgb.Booster(
                    model_str=path.read_text(encoding="utf-8")
                )
            except FileNotFoundError as err:
                raise DataError(f"{where}: {path} is missing; {METADATA} lists it") from err
            except lgb.basic.LightGBMError as err:
                raise DataError(f"{where}: {path} is not a LightGBM model: {err}") from err
        model = cls(
            learner=meta["learner"],
            per_offer=meta["per_offer"],
            features=tuple(meta["features"]),
            offers=tuple(meta["offers"]),
            skipped=dict(meta["skipped"]),
            boosters=boosters,
            g={offer: float(g) for offer, g in meta["g"].items()},
        )
        _check_complete(model, f"{where}: {folder / METADATA}")
        return model


def _check_complete(model: UpliftModel, where: str) -> None:
    """Raise unless the model has every booster (of the right width) and ``g`` it predicts with."""
    missing = sorted(set(_roles(model)) - set(model.boosters), key=str)
    if missing:
        raise DataError(f"{where} lists no booster for {missing}")
    if model.learner == "x" and set(model.offers) - set(model.g):
        raise DataError(f"{where}: expected g for offers {list(model.offers)}; got {model.g}")
    for (role, offer), booster in model.boosters.items():
        width = len(model.features) + (role == "pooled")
        if booster.num_feature() != width:
            raise DataError(
                f"{where}: expected the {role} booster of {offer} to read {width} features; "
                f"it reads {booster.num_feature()}"
            )


def _metadata(path: Path, where: str) -> dict[str, Any]:
    """``uplift.json``, checked for the fields and types :meth:`UpliftModel.to_files` writes."""
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise DataError(f"{where}: {path} is missing; expected the file to_files writes") from err
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DataError(f"{where}: {path} is not JSON: {err}") from err
    strings = (list, lambda v: all(isinstance(s, str) for s in v))
    text_map = (dict, lambda v: all(isinstance(s, str) for s in v.values()))
    number_map = (dict, lambda v: all(is_real(g) for g in v.values()))
    entries = (list, lambda v: all(_entry(e) for e in v))
    expected: dict[str, tuple[type, Any]] = {
        "learner": (str, lambda v: v in LEARNERS),
        "per_offer": (bool, lambda v: True),
        "features": strings,
        "offers": strings,
        "skipped": text_map,
        "g": number_map,
        "boosters": entries,
    }
    if not isinstance(meta, dict):
        raise DataError(f"{where}: expected a JSON object in {path}; got {type(meta).__name__}")
    bad = [
        key
        for key, (kind, ok) in expected.items()
        if not (isinstance(meta.get(key), kind) and ok(meta[key]))
    ]
    if bad:
        raise DataError(f"{where}: {path} has missing or malformed fields {bad}")
    return meta


def _entry(entry: object) -> bool:
    """A booster entry: its role, its offer (or null) and a plain file name in the folder."""
    return (
        isinstance(entry, dict)
        and isinstance(entry.get("role"), str)
        and (entry.get("offer") is None or isinstance(entry["offer"], str))
        and isinstance(entry.get("file"), str)
        and Path(entry["file"]).name == entry["file"]
    )


def _roles(model: UpliftModel) -> list[BoosterKey]:
    """The boosters a model of this learner and arrangement needs."""
    stage1: list[BoosterKey] = (
        [("control", None), *(("offer", k) for k in model.offers)]
        if model.per_offer
        else [("pooled", None)]
    )
    if model.learner == "t":
        return stage1
    stage2 = [(role, k) for k in model.offers for role in ("effect_offer", "effect_control")]
    return stage1 + stage2


def feature_matrix(
    features: pd.DataFrame, where: str, expected: tuple[str, ...] | None = None
) -> np.ndarray:
    """The feature columns as a float matrix (missing values NaN), in the fitted order."""
    if not isinstance(features, pd.DataFrame):
        raise DataError(f"{where}: expected a DataFrame of features; got {type(features).__name__}")
    if features.columns.has_duplicates:
        twice = sorted({str(c) for c in features.columns[features.columns.duplicated()]})
        raise DataError(f"{where}: expected unique column names; got {twice} more than once")
    if expected is None:
        names = list(features.columns)
        bad = [
            c for c in names if not isinstance(c, str) or _REFUSED.search(c) or c == OFFER_COLUMN
        ]
        if bad or not names:
            raise DataError(
                f"{where}: expected string feature names, without {OFFER_COLUMN!r} or any "
                f'of ",:[]{{}}; got {bad or names}'
            )
    else:
        missing = [c for c in expected if c not in features.columns]
        if missing:
            raise DataError(f"{where}: expected the fitted feature columns; missing {missing}")
        names = list(expected)
    for name in names:
        dtype = features[name].dtype
        if not pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_complex_dtype(dtype):
            raise DataError(
                f"{where}: expected numeric (float, int, bool) feature columns; "
                f"column {name!r} is {dtype}"
            )
    return features[names].to_numpy(dtype=np.float64, na_value=np.nan)

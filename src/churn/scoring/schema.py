"""The scoring features checked against the bundle's feature schema (names and kinds of type)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import pandas as pd

from churn.bundle import FeatureSpec
from churn.errors import BundleError

log = logging.getLogger(__name__)


def check_schema(features: pd.DataFrame, schema: Sequence[FeatureSpec]) -> list[str]:
    """The bundle's feature columns (``manifest.features``), after checking the scoring features
    have them, with the same kinds of type.

    Raises:
        BundleError: a feature is missing or has another dtype than at training.
    """
    expected = {f.name: f.dtype for f in schema}
    if not expected:
        raise BundleError("check_schema: the bundle's manifest lists no features")
    missing = [name for name in expected if name not in features.columns]
    if missing:
        raise BundleError(
            f"feature schema mismatch: the model expects {missing}, which the scoring features "
            f"lack (they have {len(features.columns)} columns); the data or the feature config "
            "differs from training"
        )
    changed = {
        name: (dtype, str(features[name].dtype))
        for name, dtype in expected.items()
        if _kind(str(features[name].dtype)) != _kind(dtype)
    }
    if changed:
        detail = ", ".join(f"{k}: trained {a}, now {b}" for k, (a, b) in changed.items())
        raise BundleError(f"feature schema mismatch: {detail}")
    return list(expected)


def _kind(dtype: str) -> str:
    if dtype.startswith(("int", "Int")):
        return "integer"
    if dtype.startswith(("float", "Float")):
        return "float"
    if dtype in ("str", "string", "object") or dtype.startswith("string"):
        return "text"
    return dtype

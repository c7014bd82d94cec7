"""Calibrated churn probabilities and their SHAP reasons, in batches."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from churn import model as model_lib
from churn import reasons
from churn.progress import Progress

log = logging.getLogger(__name__)


def predict(
    model: Any, frame: pd.DataFrame, features: Sequence[str], *, batch_size: int
) -> np.ndarray:
    """Calibrated churn probabilities, ``batch_size`` rows at a time."""
    out = np.empty(len(frame))
    with Progress("scoring", total=len(frame), unit="customers") as progress:
        for start in range(0, len(frame), batch_size):
            rows = frame.iloc[start : start + batch_size]
            out[start : start + len(rows)] = model.predict_proba(rows[list(features)])[:, 1]
            progress.update(len(rows))
    return out


def explain(
    model: Any, frame: pd.DataFrame, features: Sequence[str], *, batch_size: int, n: int = 3
) -> pd.DataFrame:
    """``reason_1..n`` per row from the model's SHAP contributions, in batches."""
    parts = []
    with Progress("reasons (SHAP)", total=len(frame), unit="customers") as progress:
        for start in range(0, len(frame), batch_size):
            rows = frame.iloc[start : start + batch_size]
            contrib = model_lib.contributions(model, rows[list(features)]).drop(columns="bias")
            parts.append(reasons.top_reasons(contrib, rows, n=n))
            progress.update(len(rows))
            log.debug("reasons: %d of %d customers", progress.done, len(frame))
    if not parts:
        return pd.DataFrame({f"reason_{k + 1}": pd.Series(dtype="string") for k in range(n)})
    return pd.concat(parts)

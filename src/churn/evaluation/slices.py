"""Quality on the segments a retention team cares about, measured on the test cutoff.

A model can be good on average and poor where it matters: on new customers, on the most
valuable ones, on one acquisition channel. :func:`slice_metrics` measures the model and the
best baseline on each segment of the test rows:

- ``lifecycle_stage``: new, established, lapsing (the feature of that name);
- ``tenure``: days since the first purchase, in bands (under 90 days, 90-365, 1-2 years, more);
- ``value``: the 365-day spend in thirds of the test rows (low, middle, high);
- ``channel``: the customers' acquisition channel, when the table holds one (``channel`` or
  ``acquisition_channel``).

A segment with fewer than ``min_rows`` rows, or with churners only (or none), has its rows and
churn rate but no metrics: they would not mean anything.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from churn.evaluation.metrics import expected_calibration_error

log = logging.getLogger(__name__)

TENURE_BANDS = ((0, 90, "under 90 days"), (90, 365, "90-365 days"), (365, 730, "1-2 years"))
VALUE_TIERS = ("low", "middle", "high")
CHANNEL_COLUMNS = ("channel", "acquisition_channel")
METRICS = ("roc_auc", "brier", "ece")


def segments(rows: pd.DataFrame) -> dict[str, pd.Series]:
    """The segment of each row, per slice (only the slices the rows can be cut by)."""
    out: dict[str, pd.Series] = {}
    if "lifecycle_stage" in rows:
        out["lifecycle_stage"] = rows["lifecycle_stage"].astype("string")
    if "tenure_days" in rows:
        tenure = pd.Series(pd.NA, index=rows.index, dtype="string")
        days = rows["tenure_days"].astype(float)
        for low, high, name in TENURE_BANDS:
            tenure[(days >= low) & (days < high)] = name
        tenure[days >= TENURE_BANDS[-1][1]] = "over 2 years"
        out["tenure"] = tenure
    if "spend_365d" in rows and len(rows):
        ranks = rows["spend_365d"].astype(float).rank(method="first", pct=True).to_numpy()
        tiers = np.clip(np.ceil(ranks * len(VALUE_TIERS)).astype(int) - 1, 0, len(VALUE_TIERS) - 1)
        out["value"] = pd.Series(np.asarray(VALUE_TIERS)[tiers], index=rows.index)
    for column in CHANNEL_COLUMNS:
        if column in rows:
            out["channel"] = rows[column].astype("string")
            break
    return out


def _metrics(y: np.ndarray, p: np.ndarray, n_bins: int) -> dict[str, float]:
    from sklearn.metrics import brier_score_loss, roc_auc_score

    return {
        "roc_auc": float(roc_auc_score(y, p)),
        "brier": float(brier_score_loss(y, p)),
        "ece": float(expected_calibration_error(y, p, n_bins=n_bins)),
    }


def slice_metrics(
    rows: pd.DataFrame,
    y: np.ndarray,
    scores: Mapping[str, np.ndarray],
    *,
    model: str,
    baselines: Sequence[str],
    min_rows: int = 100,
    n_bins: int = 10,
) -> list[dict[str, Any]]:
    """One record per (slice, segment): rows, churn rate, the model's and the best baseline's
    ROC-AUC, Brier score and calibration error.

    Args:
        rows: the test rows with their feature columns.
        y: their labels (1: churned).
        scores: scorer name -> probabilities for the rows.
        model: the scorer measured (the deployed recipe).
        baselines: the scorers the model is compared with; per metric the best of them is kept.
        min_rows: the smallest segment with metrics.
        n_bins: bins of the calibration error.
    """
    labels = np.asarray(y, dtype=int)
    records: list[dict[str, Any]] = []
    for slice_name, segment in segments(rows).items():
        for value in sorted(segment.dropna().unique()):
            mask = (segment == value).to_numpy(dtype=bool)
            n, churned = int(mask.sum()), labels[mask]
            record: dict[str, Any] = {
                "slice": slice_name,
                "segment": str(value),
                "rows": n,
                "churn_rate": float(churned.mean()) if n else math.nan,
            }
            if n >= min_rows and 0 < churned.sum() < n:
                ours = _metrics(churned, np.asarray(scores[model])[mask], n_bins)
                others = [_metrics(churned, np.asarray(scores[b])[mask], n_bins) for b in baselines]
                for metric in METRICS:
                    record[metric] = ours[metric]
                    values = [o[metric] for o in others]
                    best = max(values) if metric == "roc_auc" else min(values)
                    record[f"best_baseline_{metric}"] = best if values else math.nan
            records.append(record)
    weak = [
        f"{r['slice']}={r['segment']}"
        for r in records
        if "roc_auc" in r and r["roc_auc"] < r["best_baseline_roc_auc"]
    ]
    if weak:
        log.warning("test cutoff: a baseline ranks better than the model on %s", ", ".join(weak))
    return records

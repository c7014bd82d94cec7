"""Quality on the segments a retention team cares about, measured on the test cutoff.

A model can be good on average and poor where it matters: on new customers, on the most
valuable ones, on one acquisition channel. :func:`slice_metrics` measures the model and the
best baseline on each segment of the test rows:

- ``lifecycle_stage``: new, established, lapsing (the feature of that name);
- ``tenure``: days since the first purchase, in bands (under 90 days, 90-365, 1-2 years, more);
- ``value``: the 365-day spend in thirds of the test rows (low, middle, high);
- ``channel``: the rows' ``channel`` (or ``acquisition_channel``) column. Training joins it with
  :func:`with_main_channel`: each customer's main channel, the most frequent ``channel`` of
  their transactions before the row's cutoff (point in time, like the features), when the
  transactions have that column.

A segment with fewer than ``min_rows`` rows, or with churners only (or none), has its rows and
churn rate but no metrics: they would not mean anything.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

import ibis.expr.types as ir
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


def main_channels(transactions: ir.Table, cutoff: pd.Timestamp) -> pd.DataFrame:
    """Each customer's most frequent ``channel`` in the transactions before ``cutoff``.

    Only rows strictly before the cutoff count, so the channel is known at the cutoff. Ties go
    to the channel used most recently, then to the first name. Customers without a transaction
    with a channel before the cutoff are left out.

    Returns:
        ``customer_id`` and ``channel``, one row per customer.

    Raises:
        ValueError: the transactions have no ``channel`` column.
    """
    if "channel" not in transactions.columns:
        raise ValueError(
            f"main_channels: expected a channel column in the transactions; got "
            f"{list(transactions.columns)}"
        )
    before = transactions.filter(
        (transactions.timestamp < pd.Timestamp(cutoff).to_pydatetime())
        & transactions.channel.notnull()
    )
    counts = (
        before.group_by(["customer_id", "channel"])
        .aggregate(n=before.channel.count(), last=before.timestamp.max())
        .to_pandas()
    )
    counts = counts.sort_values(
        ["customer_id", "n", "last", "channel"], ascending=[True, False, False, True]
    )
    first = counts.drop_duplicates("customer_id")[["customer_id", "channel"]]
    return first.astype({"customer_id": "string", "channel": "string"}).reset_index(drop=True)


def with_main_channel(rows: pd.DataFrame, transactions: ir.Table) -> pd.DataFrame:
    """``rows`` (``customer_id``, ``cutoff``, ...) with each customer's main channel at the row's
    cutoff (:func:`main_channels`) as a ``channel`` column.

    The rows come back unchanged when they already hold a channel column or the transactions
    have none. A new frame; ``rows`` is not modified.
    """
    if any(column in rows for column in CHANNEL_COLUMNS) or ("channel" not in transactions.columns):
        return rows
    parts = []
    for cutoff in pd.unique(rows["cutoff"]):
        channels = main_channels(transactions, pd.Timestamp(cutoff))
        parts.append(channels.assign(cutoff=cutoff))
    if not parts:
        return rows.assign(channel=pd.Series(pd.NA, index=rows.index, dtype="string"))
    table = pd.concat(parts, ignore_index=True)
    keys = rows[["customer_id", "cutoff"]].astype({"customer_id": "string"})
    table = table.astype({"cutoff": keys["cutoff"].dtype})
    joined = keys.merge(table, on=["customer_id", "cutoff"], how="left", validate="many_to_one")
    return rows.assign(
        channel=pd.Series(joined["channel"].to_numpy(), index=rows.index, dtype="string")
    )


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

"""How the model's predictions held up on the customers nobody contacted.

A contact is meant to change the outcome, so only customers the model scored and nobody
contacted (``status`` scored and no ``offer``: the control group and those without an offer)
show whether the predicted probabilities were right. On them: ROC-AUC, Brier score and expected
calibration error (:func:`churn.evaluation.classification_metrics`), and realised against
predicted churn by risk tier. A warning when realised ROC-AUC is below, or Brier above, the
bundle's recorded test metric by more than ``outcomes.performance_tolerance``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from churn.evaluation import classification_metrics

log = logging.getLogger(__name__)

SCORED = "scored"
TIER_COLUMNS = ("risk_tier", "customers", "predicted_churn", "realised_churn", "difference")
# metric -> the direction in which it is worse (+1: higher is worse)
_WORSE = {"roc_auc": -1.0, "brier": 1.0}


@dataclass(frozen=True)
class Performance:
    """Realised quality of the model on the uncontacted scored customers.

    Attributes:
        metrics: ``roc_auc``, ``brier``, ``ece``, ``churn_rate``, ``mean_p``, ``n_rows`` (empty
            when no customer qualifies).
        test_metrics: the bundle's recorded test metrics, for comparison.
        by_tier: :data:`TIER_COLUMNS`, one row per risk tier.
        warnings: one sentence per metric worse than the test metric beyond the tolerance.
    """

    metrics: Mapping[str, float | None]
    test_metrics: Mapping[str, float | None]
    by_tier: pd.DataFrame = field(repr=False)
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (non-finite numbers as null)."""
        return {
            "metrics": {k: _finite(v) for k, v in self.metrics.items()},
            "test_metrics": {k: _finite(v) for k, v in self.test_metrics.items()},
            "by_tier": [
                {k: _finite(v) for k, v in row.items()}
                for row in self.by_tier.to_dict(orient="records")
            ],
            "warnings": list(self.warnings),
        }


def uncontacted(frame: pd.DataFrame) -> pd.DataFrame:
    """The scored customers in the data that nobody contacted, with a probability."""
    mask = (
        (frame["status"].astype(str) == SCORED)
        & frame["offer"].isna()
        & frame["in_data"].astype(bool)
        & frame["churn_probability"].notna()
    )
    return frame[mask]


def realised_performance(
    frame: pd.DataFrame,
    test_metrics: Mapping[str, float | None],
    *,
    tolerance: float,
    n_bins: int,
) -> Performance:
    """Realised model quality on ``frame``'s uncontacted scored customers (:func:`uncontacted`).

    Args:
        frame: the export's rows joined with their outcomes (``churned``, ``in_data``).
        test_metrics: the bundle's recorded ``roc_auc``, ``brier`` (and ``ece``).
        tolerance: how much worse than the test metric is still no warning.
        n_bins: equal-width bins of the expected calibration error.
    """
    rows = uncontacted(frame)
    recorded = {str(k): _finite(v) for k, v in test_metrics.items()}
    if rows.empty:
        note = "no scored customer without an offer in the data: realised performance unknown"
        log.warning("outcomes: %s", note)
        return Performance({}, recorded, pd.DataFrame(columns=list(TIER_COLUMNS)), (note,))
    y = rows["churned"].astype(int).to_numpy()
    p = rows["churn_probability"].to_numpy(dtype=float)
    measured = classification_metrics(y, p, top_fractions=(), n_bins=n_bins)
    metrics: dict[str, float | None] = {
        k: _finite(measured[k])
        for k in ("roc_auc", "brier", "ece", "log_loss", "churn_rate", "mean_p")
    }
    metrics["n_rows"] = len(rows)
    warnings = tuple(_warnings(metrics, recorded, tolerance))
    for warning in warnings:
        log.warning("outcomes: %s", warning)
    return Performance(metrics, recorded, _by_tier(rows), warnings)


def _warnings(
    metrics: Mapping[str, float | None], recorded: Mapping[str, float | None], tolerance: float
) -> list[str]:
    out = []
    for name, worse in _WORSE.items():
        now, then = metrics.get(name), recorded.get(name)
        if now is None or then is None:
            continue
        if worse * (now - then) > tolerance:
            direction = "below" if worse < 0 else "above"
            out.append(
                f"realised {name} {now:.3f} is {direction} the bundle's test {name} {then:.3f} by "
                f"more than outcomes.performance_tolerance {tolerance}"
            )
    return out


def _by_tier(rows: pd.DataFrame) -> pd.DataFrame:
    grouped = rows.groupby(rows["risk_tier"].astype(str), sort=True)
    table = pd.DataFrame(
        {
            "customers": grouped.size(),
            "predicted_churn": grouped["churn_probability"].mean(),
            "realised_churn": grouped["churned"].mean(),
        }
    )
    table["difference"] = table["realised_churn"] - table["predicted_churn"]
    table = table.rename_axis("risk_tier").reset_index()
    return table[list(TIER_COLUMNS)]


def _finite(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, bool | str):
        return value
    try:
        number = float(value)
    except (TypeError, ValueError):
        return value
    if not math.isfinite(number):
        return None
    return int(number) if isinstance(value, int) else number

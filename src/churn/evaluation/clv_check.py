"""The CLV check: the value model's predictions against a held-back window, by frequency bucket.

At a cutoff ``c`` whose window ``[c, c + H)`` is observed (training uses its test cutoff
``c_0 = E - H``), :func:`clv_check` fits BG/NBD and Gamma-Gamma on every buyer's features
before ``c`` exactly as scoring fits the value model at its as-of date
(:func:`churn.features.build_features` with no population filter, then
:func:`churn.value.fit_clv`), predicts each buyer's purchases in the window (purchase days, as
BG/NBD counts them) and spend, *undiscounted and unconditional on staying* (BG/NBD expected
purchases x Gamma-Gamma expected spend per purchase day, no margin), and sets them beside what
the buyers did in the window: their purchase days and the sum of their purchase amounts
(``label.purchase_rule``; refunds never count). Customers whose first purchase falls in the
window are not predicted and are left out.

The table groups buyers by their repeat frequency before ``c`` (purchase days after the first):
:data:`BUCKETS` (0, 1, 2, 3-4, 5-9, 10+). The totals: the aggregate relative errors
``(predicted - actual) / actual`` of purchases and spend (positive: over-predicted) and the
customer-level Pearson and Spearman correlations of predicted and actual spend.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import Any

import ibis.expr.types as ir
import numpy as np
import pandas as pd
from scipy.stats import rankdata

from churn import btyd, value
from churn.features import FeatureConfig, build_features
from churn.purchases import POSITIVE, is_purchase

log = logging.getLogger(__name__)

# (label, fewest, most) repeat purchase days; None: no upper end
BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("0", 0, 0),
    ("1", 1, 1),
    ("2", 2, 2),
    ("3-4", 3, 4),
    ("5-9", 5, 9),
    ("10+", 10, None),
)
MEASURES = ("predicted_purchases", "actual_purchases", "predicted_spend", "actual_spend")


@dataclass(frozen=True)
class ClvCheck:
    """The check at one cutoff: the table by bucket and the totals (module docstring)."""

    cutoff: pd.Timestamp
    horizon_days: int
    table: pd.DataFrame  # bucket, customers, MEASURES
    totals: dict[str, float]

    def metrics(self, prefix: str = "test") -> dict[str, float]:
        """``<prefix>/clv_<total>`` for every finite total (e.g. ``test/clv_spend_error``)."""
        return {f"{prefix}/clv_{k}": v for k, v in self.totals.items() if np.isfinite(v)}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (non-finite totals as None), for the bundle's evaluation record."""
        return {
            "cutoff": str(self.cutoff.date()),
            "horizon_days": self.horizon_days,
            "buckets": [
                {"bucket": str(row["bucket"]), "customers": int(row["customers"])}
                | {m: float(row[m]) for m in MEASURES}
                for row in self.table.to_dict(orient="records")
            ],
            "totals": {k: v if np.isfinite(v) else None for k, v in self.totals.items()},
        }


def clv_check(
    transactions: ir.Table,
    cutoff: pd.Timestamp | str,
    *,
    horizon_days: int,
    features: FeatureConfig,
    purchase_rule: str = POSITIVE,
) -> ClvCheck | None:
    """Fit the value model before ``cutoff`` and compare it with ``[cutoff, cutoff + H)``.

    Args:
        transactions: the validated transactions on the engine (contract columns); rows at or
            after ``cutoff`` enter only the actual side.
        cutoff: a midnight whose window lies inside the observed data.
        horizon_days: the window length ``H``.
        features: the feature config: BG/NBD's time unit, penalizer and fewest buyers.
        purchase_rule: which amounts are purchases (:mod:`churn.purchases`).

    Returns:
        The check, or None (with a warning) when the value model cannot be fitted: too few
        buyers or repeat buyers, no convergence, an infinite mean spend.
    """
    day = pd.Timestamp(cutoff)
    frame = build_features(
        transactions,
        [day],
        dataclasses.replace(features, btyd_enabled=False),  # the value fit is its own
        horizon_days=horizon_days,
        active_within_days=None,
        purchase_rule=purchase_rule,
    ).to_pandas()
    try:
        model = value.fit_clv(
            frame,
            value.ValueConfig(method="clv"),
            horizon_days=horizon_days,
            features=features,
        )
    except value.FIT_ERRORS as err:
        log.warning(
            "CLV check at %s skipped: the value model cannot be fitted: %s", day.date(), err
        )
        return None
    predicted = predict_window(frame, model, horizon_days=horizon_days)
    actual = window_outcomes(
        transactions, day, horizon_days=horizon_days, purchase_rule=purchase_rule
    )
    table, totals = compare_by_bucket(predicted, actual)
    log.info(
        "CLV check at %s over %d days, %d buyers: spend error %+.1f%%, purchases error %+.1f%%, "
        "spend correlation %.3f (Spearman %.3f)",
        day.date(),
        horizon_days,
        int(totals["customers"]),
        100 * totals["spend_error"],
        100 * totals["purchases_error"],
        totals["spend_pearson"],
        totals["spend_spearman"],
    )
    return ClvCheck(day, horizon_days, table, totals)


def predict_window(
    frame: pd.DataFrame, model: value.ValueModel, *, horizon_days: int
) -> pd.DataFrame:
    """Per buyer: ``repeat_frequency``, predicted purchase days and spend in the next ``H`` days.

    Raises:
        ValueError: ``model`` has no fitted BG/NBD and Gamma-Gamma (the heuristic).
    """
    if model.bgnbd is None or model.gamma_gamma is None:
        raise ValueError(
            f"predict_window: expected a fitted clv value model; got method {model.method!r}"
        )
    unit = model.time_unit_days
    x, t_x, big_t, m = value.value_summary(frame, time_unit_days=unit)
    purchases = btyd.expected_purchases(model.bgnbd, horizon_days / unit, x, t_x, big_t)
    per_purchase = btyd.conditional_expected_spend(model.gamma_gamma, x, m)
    return pd.DataFrame(
        {
            "customer_id": frame["customer_id"].astype(str).to_numpy(),
            "repeat_frequency": x.astype(np.int64),
            "predicted_purchases": purchases,
            "predicted_spend": purchases * per_purchase,
        }
    )


def window_outcomes(
    transactions: ir.Table,
    cutoff: pd.Timestamp,
    *,
    horizon_days: int,
    purchase_rule: str = POSITIVE,
) -> pd.DataFrame:
    """Per customer with a purchase in ``[cutoff, cutoff + H)``: purchase days and spend."""
    start = pd.Timestamp(cutoff)
    stop = start + pd.Timedelta(days=horizon_days)
    tx = transactions
    rows = tx.filter(
        is_purchase(tx.amount, purchase_rule)
        & (tx.timestamp >= start.to_pydatetime())
        & (tx.timestamp < stop.to_pydatetime())
    )
    counted = rows.group_by("customer_id").aggregate(
        actual_purchases=rows.timestamp.truncate("D").nunique(),
        actual_spend=rows.amount.sum(),
    )
    out = counted.to_pyarrow().to_pandas()
    out["customer_id"] = out["customer_id"].astype(str)
    return out.astype({"actual_purchases": "int64", "actual_spend": "float64"})


def compare_by_bucket(
    predicted: pd.DataFrame, actual: pd.DataFrame
) -> tuple[pd.DataFrame, dict[str, float]]:
    """The table by repeat-frequency bucket and the totals, over the predicted buyers.

    Args:
        predicted: :func:`predict_window` rows (one per buyer).
        actual: :func:`window_outcomes` rows; buyers absent from it bought nothing, customers
            absent from ``predicted`` (new in the window) are left out.

    Raises:
        ValueError: a missing column, or no buyer to compare.
    """
    for name, frame, needed in (
        ("predicted", predicted, ["customer_id", "repeat_frequency", *MEASURES[::2]]),
        ("actual", actual, ["customer_id", *MEASURES[1::2]]),
    ):
        missing = [c for c in needed if c not in frame.columns]
        if missing:
            raise ValueError(f"compare_by_bucket: {name} lacks columns {missing}")
    if predicted.empty:
        raise ValueError("compare_by_bucket: expected at least one predicted buyer; got none")
    rows = predicted.merge(actual, on="customer_id", how="left", validate="one_to_one")
    rows = rows.fillna({"actual_purchases": 0, "actual_spend": 0.0})
    labels = [label for label, _, _ in BUCKETS]
    edges = [low for _, low, _ in BUCKETS[1:]]
    rows["bucket"] = pd.Categorical.from_codes(
        np.searchsorted(edges, rows["repeat_frequency"].to_numpy(), side="right"),
        categories=pd.Index(labels),
        ordered=True,
    )
    grouped = rows.groupby("bucket", observed=False)
    table = grouped[list(MEASURES)].sum().astype(float)
    table.insert(0, "customers", grouped.size().astype(np.int64))
    table = table[table["customers"] > 0].reset_index()
    table["bucket"] = table["bucket"].astype(str)
    sums = rows[list(MEASURES)].sum()
    totals = {"customers": float(len(rows))} | {m: float(sums[m]) for m in MEASURES}
    totals |= {
        "purchases_error": _relative_error(sums["predicted_purchases"], sums["actual_purchases"]),
        "spend_error": _relative_error(sums["predicted_spend"], sums["actual_spend"]),
        "spend_pearson": _correlation(rows["predicted_spend"], rows["actual_spend"]),
        "spend_spearman": _correlation(
            rankdata(rows["predicted_spend"]), rankdata(rows["actual_spend"])
        ),
    }
    return table, totals


def _relative_error(predicted: float, actual: float) -> float:
    return float((predicted - actual) / actual) if actual > 0 else float("nan")


def _correlation(a: Any, b: Any) -> float:
    """Pearson's r, NaN when either side is constant (or fewer than two rows)."""
    u, v = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if u.size < 2 or np.ptp(u) == 0 or np.ptp(v) == 0:
        return float("nan")
    return float(np.corrcoef(u, v)[0, 1])

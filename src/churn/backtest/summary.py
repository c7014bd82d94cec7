"""Backtest metrics per date and pooled, and paired bootstrap intervals against the baselines.

Every scorer gets the training run's metrics (:func:`churn.evaluation.classification_metrics`)
plus the calibration in the large (mean prediction minus the realised churn rate). For the
compared metrics (ROC-AUC, Brier, ECE) the deployed model is set against the best baseline of
each date: the difference and its percentile interval from a paired bootstrap of the date's
customers (the same resample scores both, so the interval is about the difference itself).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from churn import evaluation, model, training
from churn.backtest.replay import Replay

log = logging.getLogger(__name__)

POOLED = "pooled"
# compared metric -> +1 when higher is better, -1 when lower is better
COMPARED = {"roc_auc": 1, "brier": -1, "ece": -1}
_CHUNK = 100  # bootstrap resamples weighted at once (bounds memory at 100 x rows)


@dataclass(frozen=True)
class BacktestSummary:
    """Per-date and pooled metrics of every scorer, and the model-minus-best-baseline table."""

    per_date: pd.DataFrame  # date, scorer, metrics
    pooled: pd.DataFrame  # scorer, metrics
    differences: pd.DataFrame  # date (or "pooled"), metric, baseline, model, difference, low, high
    staleness: pd.DataFrame = field(default_factory=pd.DataFrame)  # the model by age in days

    def pooled_differences(self) -> list[dict[str, Any]]:
        """The rows of :attr:`differences` over all dates pooled."""
        return _records(self.differences[self.differences["date"] == POOLED])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready tables (NaN as null)."""
        return {
            "per_date": _records(self.per_date),
            "pooled": _records(self.pooled),
            "differences": _records(self.differences),
            "staleness": _records(self.staleness),
        }


def _finite_or_none(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-ready mappings (NaN as null)."""
    return [
        {
            str(k): None if isinstance(v, float) and not math.isfinite(v) else v
            for k, v in row.items()
        }
        for row in frame.to_dict(orient="records")
    ]


def _day(value: Any) -> str:
    return str(pd.Timestamp(value).date())


def summarise(
    replayed: Replay,
    *,
    top_fractions: Sequence[float],
    n_bins: int,
    bootstrap: int,
    confidence: float,
    seed: int,
) -> BacktestSummary:
    """Metrics per date and pooled, and bootstrap intervals of the model minus the best baseline.

    Args:
        replayed: the scored customers of every date.
        top_fractions: shares contacted for lift and capture.
        n_bins: bins of the expected calibration error.
        bootstrap: paired resamples per date.
        confidence: level of the percentile intervals.
        seed: seeds the resamples.
    """
    predictions = replayed.predictions
    rows: list[dict[str, Any]] = []
    groups = [(_day(d), g) for d, g in predictions.groupby("date", sort=False)]
    for label, group in groups:
        rows += _measure(group, replayed.scorers, top_fractions, n_bins, label=label)
    per_date = pd.DataFrame(rows)
    pooled = pd.DataFrame(
        _measure(predictions, replayed.scorers, top_fractions, n_bins, label=POOLED)
    ).drop(columns="date")
    rng = np.random.default_rng(seed)
    differences: list[dict[str, Any]] = []
    for label, group in [*groups, (POOLED, predictions)]:
        measured = per_date[per_date["date"] == label] if label != POOLED else pooled
        differences += _differences(
            group, measured, replayed.baselines, bootstrap, confidence, n_bins, rng, label=label
        )
    summary = BacktestSummary(
        per_date,
        pooled,
        pd.DataFrame(differences),
        _staleness(replayed, top_fractions=top_fractions, n_bins=n_bins),
    )
    _log_differences(summary.differences)
    return summary


def _staleness(replayed: Replay, *, top_fractions: Sequence[float], n_bins: int) -> pd.DataFrame:
    """The deployed model's metrics by how long after its date it is served (0: retrained).

    Age ``k * step`` pools the dates scored by the model fitted ``k`` steps earlier; beside its
    metrics, ``<metric>_vs_retrained`` is the difference from the retrained models on the very
    same dates (so later dates' easier or harder populations do not bias it).
    """
    fresh = replayed.predictions[["date", "churned", training.MODEL_SCORER]].assign(age_days=0)
    rows = pd.concat([fresh, replayed.stale], ignore_index=True) if len(replayed.stale) else fresh

    def metrics(group: pd.DataFrame) -> dict[str, float]:
        return _scorer_metrics(group, training.MODEL_SCORER, top_fractions, n_bins)

    out = []
    for age, group in rows.groupby("age_days"):
        values = metrics(group)
        same_dates = metrics(fresh[fresh["date"].isin(set(group["date"]))])
        versus = {f"{m}_vs_retrained": values[m] - same_dates[m] for m in COMPARED}
        out.append({"age_days": int(str(age)), **values, **versus})
    table = pd.DataFrame(out)
    for row in table.itertuples():
        log.info(
            "backtest staleness: model served %3d days late: ROC-AUC %+.4f, Brier %+.4f, ECE "
            "%+.4f against retraining on the same dates",
            row.age_days,
            row.roc_auc_vs_retrained,
            row.brier_vs_retrained,
            row.ece_vs_retrained,
        )
    return table


def _measure(
    rows: pd.DataFrame,
    scorers: Sequence[str],
    top_fractions: Sequence[float],
    n_bins: int,
    *,
    label: str,
) -> list[dict[str, Any]]:
    return [
        {"date": label, "scorer": scorer, **_scorer_metrics(rows, scorer, top_fractions, n_bins)}
        for scorer in scorers
    ]


def _scorer_metrics(
    rows: pd.DataFrame, scorer: str, top_fractions: Sequence[float], n_bins: int
) -> dict[str, float]:
    """The training run's metrics of one scorer column, plus the calibration in the large."""
    values = evaluation.classification_metrics(
        rows[model.LABEL].to_numpy(),
        rows[scorer].to_numpy(dtype=float),
        top_fractions=top_fractions,
        n_bins=n_bins,
    )
    values["calibration_in_the_large"] = values["mean_p"] - values["churn_rate"]
    return values


def _differences(
    rows: pd.DataFrame,
    measured: pd.DataFrame,
    baselines: Sequence[str],
    bootstrap: int,
    confidence: float,
    n_bins: int,
    rng: np.random.Generator,
    *,
    label: str,
) -> list[dict[str, Any]]:
    """Model minus the best baseline in each compared metric, with a paired bootstrap interval."""
    y = rows[model.LABEL].to_numpy(dtype=float)
    strata = _strata(rows, label)
    value: dict[str, dict[str, float]] = {}
    best: dict[str, str] = {}
    for metric, sign in COMPARED.items():
        pairs = zip(measured["scorer"], measured[metric], strict=True)
        value[metric] = {str(scorer): float(v) for scorer, v in pairs}
        best[metric] = max(baselines, key=lambda name: sign * value[metric][name])
    draws: dict[str, list[np.ndarray]] = {metric: [] for metric in COMPARED}
    for lo in range(0, bootstrap, _CHUNK):
        weights = _resample_counts(len(rows), min(_CHUNK, bootstrap - lo), rng, strata=strata)
        for metric in COMPARED:
            model_draws = _weighted(metric, y, rows[training.MODEL_SCORER], weights, n_bins)
            best_draws = _weighted(metric, y, rows[best[metric]], weights, n_bins)
            draws[metric].append(model_draws - best_draws)
    alpha = (1 - confidence) / 2
    out = []
    for metric, sign in COMPARED.items():
        low, high = np.quantile(np.concatenate(draws[metric]), [alpha, 1 - alpha])
        model_value, baseline_value = (
            value[metric][training.MODEL_SCORER],
            value[metric][best[metric]],
        )
        out.append(
            {
                "date": label,
                "metric": metric,
                "best_baseline": best[metric],
                "model": model_value,
                "baseline": baseline_value,
                "difference": model_value - baseline_value,
                "low": float(low),
                "high": float(high),
                # the interval lies wholly on the losing side of zero
                "significantly_worse": bool(high < 0 if sign > 0 else low > 0),
            }
        )
    return out


def _strata(rows: pd.DataFrame, label: str) -> np.ndarray | None:
    """Pooled rows are resampled within each date, so every date keeps its share."""
    if label != POOLED:
        return None
    return pd.factorize(rows["date"])[0]


def _resample_counts(
    n: int, resamples: int, rng: np.random.Generator, *, strata: np.ndarray | None
) -> npt.NDArray[np.float64]:
    """How often each of ``n`` rows is drawn in each resample (``resamples x n``).

    With ``strata``, every stratum is resampled on its own and keeps its size.
    """
    counts = np.zeros((resamples, n))
    groups = (
        [np.arange(n)]
        if strata is None
        else [np.flatnonzero(strata == s) for s in np.unique(strata)]
    )
    for idx in groups:
        for row in counts:
            row[idx] += np.bincount(rng.integers(0, idx.size, idx.size), minlength=idx.size)
    return counts


def _weighted(
    metric: str, y: np.ndarray, scores: pd.Series, weights: np.ndarray, n_bins: int
) -> np.ndarray:
    """``metric`` of ``scores`` on each weighted resample (one row of ``weights`` per resample)."""
    p = scores.to_numpy(dtype=float)
    if metric == "roc_auc":
        return _weighted_auc(y, p, weights)
    if metric == "brier":
        return weights @ (p - y) ** 2 / weights.sum(axis=1)
    return _weighted_ece(y, p, weights, n_bins)


def _weighted_auc(y: np.ndarray, p: np.ndarray, w: np.ndarray) -> np.ndarray:
    """ROC-AUC per weighted resample: ties count one half, as in scikit-learn."""
    order = np.argsort(p, kind="stable")
    sorted_p = p[order]
    starts = np.flatnonzero(np.r_[True, sorted_p[1:] != sorted_p[:-1]])
    ws = w[:, order]
    pos = np.add.reduceat(ws * y[order], starts, axis=1)
    neg = np.add.reduceat(ws * (1 - y[order]), starts, axis=1)
    below = np.cumsum(neg, axis=1) - neg
    with np.errstate(invalid="ignore", divide="ignore"):
        return (pos * (below + 0.5 * neg)).sum(axis=1) / (pos.sum(axis=1) * neg.sum(axis=1))


def _weighted_ece(y: np.ndarray, p: np.ndarray, w: np.ndarray, n_bins: int) -> np.ndarray:
    """Expected calibration error per weighted resample, with the training run's bins."""
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    index = np.searchsorted(edges[1:-1], p, side="right")
    onehot = np.zeros((p.size, n_bins))
    onehot[np.arange(p.size), index] = 1.0
    gap = (w * (p - y)) @ onehot
    return np.abs(gap).sum(axis=1) / w.sum(axis=1)


def _log_differences(differences: pd.DataFrame) -> None:
    for row in differences.itertuples():
        log.info(
            "backtest %-10s %-7s model %.4f vs %-12s %.4f: difference %+.4f [%+.4f, %+.4f]",
            row.date,
            row.metric,
            row.model,
            row.best_baseline,
            row.baseline,
            row.difference,
            row.low,
            row.high,
        )

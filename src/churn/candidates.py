"""Choose the deployed scorer among LightGBM and the baselines by out-of-time validation.

The candidates (docs/training.md, choosing the deployed scorer) are ``lightgbm`` (the
calibrated model) and the baselines ``recency``, ``rfm_logistic`` and ``bgnbd``. They are
compared on the recipe's calibration cutoff:

- ``lightgbm``'s calibrated predictions there are cross-fitted by customer (the calibrator is
  fitted on the other ``train.calibration_folds`` customer folds and predicts the held-out
  one), as its calibrator is fitted on those very rows;
- the baselines, fitted on the earlier training cutoffs, score those rows directly; ``bgnbd``
  is the feature ``btyd_p_no_purchase``, which uses no labels.

Without a calibration cutoff (cross-fitted calibration on the training cutoffs) the candidates
are compared on the training rows out of fold: LightGBM's calibrated out-of-fold predictions
and the baselines refitted on the other folds.

The rule (``train.selection``): the lowest validation ``metric`` (Brier score by default); a
baseline replaces LightGBM only when it is better by more than ``margin``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from churn import baselines, btyd, calibration, evaluation, model
from churn.bundle.manifest import CandidateScore, Selection
from churn.errors import ConfigError
from churn.model import simple

log = logging.getLogger(__name__)

LIGHTGBM = "lightgbm"
CANDIDATES = (LIGHTGBM, *simple.KINDS)
SELECTION_METRICS = ("brier", "log_loss")
_TOLERANCE = 1e-9


def check_rule(metric: str, margin: float) -> None:
    """Raise ConfigError for a selection metric that is not a proper score or a bad margin."""
    if metric not in SELECTION_METRICS or not np.isfinite(margin):
        raise ConfigError(
            f"train.selection: expected metric in {list(SELECTION_METRICS)} and a finite margin; "
            f"got {metric!r}, {margin!r}"
        )


def deployable_baselines(
    fitted: Mapping[str, baselines.Baseline],
    rows: pd.DataFrame,
    features: Sequence[str],
    *,
    horizon_days: int,
    time_unit_days: float,
    penalizer: float,
    latest: pd.Timestamp,
) -> tuple[dict[str, model.ChurnModel], dict[str, str]]:
    """Each baseline as a stored scorer, checked against the fitted one on ``rows``.

    Returns the scorers and, for those that cannot be deployed, why.
    """
    out: dict[str, model.ChurnModel] = {}
    why: dict[str, str] = {}
    retained = rows[rows[model.LABEL] == 0]  # the reasons' zero point: a typical retained customer
    recency = fitted["recency"]
    if isinstance(recency, baselines.RecencyBaseline):
        iso = recency.isotonic
        scorer = simple.RecencyScorer(
            tuple(float(v) for v in iso.X_thresholds_),
            tuple(float(v) for v in iso.y_thresholds_),
            float(retained["recency_days"].median()),
        )
        out["recency"] = _checked(scorer, features, recency, rows)
    rfm = fitted["rfm_logistic"]
    if isinstance(rfm, baselines.RFMLogisticBaseline):
        scaler, regression = rfm.pipeline[0], rfm.pipeline[-1]
        rfm_scorer = simple.RFMLogisticScorer(
            tuple(float(v) for v in scaler.mean_),
            tuple(float(v) for v in scaler.scale_),
            tuple(float(v) for v in regression.coef_[0]),
            float(regression.intercept_[0]),
        )
        out["rfm_logistic"] = _checked(rfm_scorer, features, rfm, rows)
    if simple.BGNBD_COLUMN not in features:
        why["bgnbd"] = f"the feature {simple.BGNBD_COLUMN} is off (features.btyd.enabled=false)"
        return out, why
    latest_rows = rows[rows["cutoff"] == latest]
    x, t_x, big_t = simple.bgnbd_summary(latest_rows, time_unit_days)
    try:
        params = btyd.fit_bgnbd(x, t_x, big_t, penalizer=penalizer)
    except (btyd.ConvergenceError, ValueError) as err:
        why["bgnbd"] = f"BG/NBD could not be fitted at {latest.date()} for the attribution: {err}"
        return out, why
    column = rows[simple.BGNBD_COLUMN].to_numpy(dtype=float)
    if not np.isfinite(column).any():
        why["bgnbd"] = f"{simple.BGNBD_COLUMN} is empty on every training row"
        return out, why
    bgnbd = simple.BGNBDScorer(
        params,
        horizon_days,
        time_unit_days,
        float(retained["recency_days"].median()),
        float(retained["frequency"].median()),
        float(np.nanmean(column)),
    )
    out["bgnbd"] = model.ChurnModel.from_scorer(bgnbd, features)
    return out, why


def _checked(
    scorer: simple.SimpleScorer,
    features: Sequence[str],
    fitted: baselines.Baseline,
    rows: pd.DataFrame,
) -> model.ChurnModel:
    stored = model.ChurnModel.from_scorer(scorer, features)
    gap = model.largest_difference(stored, fitted, rows)
    if gap > _TOLERANCE:
        raise RuntimeError(f"candidates: the stored {scorer.kind} scorer differs by {gap}")
    return stored


def validate_on_cutoff(
    pipeline: object,
    rows: pd.DataFrame,
    scorers: Mapping[str, model.ChurnModel],
    features: Sequence[str],
    *,
    method: str,
    n_folds: int,
    seed: int,
) -> dict[str, np.ndarray]:
    """Every candidate's predictions for the calibration cutoff's ``rows``.

    LightGBM's are cross-fitted by customer: calibrated on the other folds only.
    """
    x, y = rows[list(features)], rows[model.LABEL].to_numpy()
    folds = model.customer_folds(rows["customer_id"], n_folds=n_folds, seed=seed)
    p = np.empty(len(rows))
    for k in range(n_folds):
        held = folds == k
        fold = calibration.calibrate(pipeline, x[~held], y[~held], method=method)
        p[held] = np.asarray(fold.predict_proba(x[held]))[:, 1]
    out = {LIGHTGBM: p}
    out.update({name: s.predict_proba(rows)[:, 1] for name, s in scorers.items()})
    return out


def validate_out_of_fold(
    rows: pd.DataFrame,
    crossed: model.CrossFit,
    scorers: Mapping[str, model.ChurnModel],
    *,
    horizon_days: int,
    seed: int,
) -> dict[str, np.ndarray]:
    """Every candidate's out-of-fold predictions for the training ``rows`` (cross-fitted roles).

    LightGBM: calibrated without the row's fold; ``recency`` and ``rfm_logistic``: refitted on
    the other folds; ``bgnbd``: its column (no labels).
    """
    out = {LIGHTGBM: crossed.calibrated}
    y = rows[model.LABEL].to_numpy()
    refitted = [n for n in ("recency", "rfm_logistic") if n in scorers]
    for name in refitted:
        out[name] = np.full(len(rows), np.nan)
    for k in np.unique(crossed.folds):
        held = crossed.folds == k
        fold = baselines.fit_baselines(rows[~held], y[~held], horizon_days=horizon_days, seed=seed)
        for name in refitted:
            out[name][held] = fold[name].predict(rows[held])
    if "bgnbd" in scorers:
        out["bgnbd"] = scorers["bgnbd"].predict_proba(rows)[:, 1]
    return out


def select(
    predictions: Mapping[str, np.ndarray],
    y: np.ndarray,
    *,
    metric: str,
    margin: float,
    validation: str,
    unavailable: Mapping[str, str] | None = None,
) -> Selection:
    """The candidate with the lowest ``metric``; a baseline must beat LightGBM by ``margin``."""
    scores = []
    for name in [c for c in CANDIDATES if c in predictions]:
        p = np.asarray(predictions[name], dtype=float)
        values = evaluation.classification_metrics(y, p)
        scores.append(
            CandidateScore(
                name,
                float(values["brier"]),
                float(values["roc_auc"]),
                float(values["ece"]),
                len(y),
            )
        )
    value = {s.name: _metric(y, np.asarray(predictions[s.name]), metric) for s in scores}
    rule = (
        f"lowest validation {metric}; a baseline replaces {LIGHTGBM} only when better by more "
        f"than {margin}"
    )
    others = {n: v for n, v in value.items() if n != LIGHTGBM and np.isfinite(v)}
    best = min(others, key=lambda n: others[n]) if others else None
    model_value = value.get(LIGHTGBM, np.nan)
    if best is not None and model_value - others[best] > margin:
        chosen = best
        reason = (
            f"{best} {metric} {others[best]:.4f} beats {LIGHTGBM} {model_value:.4f} by more "
            f"than {margin}"
        )
    else:
        chosen = LIGHTGBM
        reason = (
            f"{LIGHTGBM} {metric} {model_value:.4f}; best baseline "
            + (f"{best} {others[best]:.4f}" if best is not None else "none")
            + f" is not better by more than {margin}"
        )
    for name, why in (unavailable or {}).items():
        reason += f"; {name} not a candidate: {why}"
    log.info("selection on %s (%d rows): %s -> %s", validation, len(y), reason, chosen)
    return Selection(chosen, metric, float(margin), validation, len(y), rule, reason, tuple(scores))


def _metric(y: np.ndarray, p: np.ndarray, metric: str) -> float:
    if metric == "brier":
        return float(np.mean((p - y) ** 2))
    clipped = np.clip(p, 1e-15, 1 - 1e-15)
    return float(-np.mean(y * np.log(clipped) + (1 - y) * np.log1p(-clipped)))


def kept(chosen: str, *, validation: str, reason: str, metric: str, margin: float) -> Selection:
    """A selection made elsewhere (the deployment repeats the evaluation's choice)."""
    rule = f"the evaluation's choice ({chosen})"
    return Selection(chosen, metric, float(margin), validation, 0, rule, reason)

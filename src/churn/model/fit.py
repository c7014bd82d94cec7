"""The LightGBM churn model: encoder, early stopping on held-out customers, tuning, SHAP."""

from __future__ import annotations

import logging
import os
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.metrics import log_loss
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OrdinalEncoder

from churn.errors import ConfigError, DataError
from churn.model.config import ModelConfig
from churn.model.deployed import ChurnModel
from churn.model.roles import KEY_COLUMNS, LABEL, CutoffRoles
from churn.progress import Progress

log = logging.getLogger(__name__)
# lifecycle_stage is ordinal: new < established < lapsing
CATEGORY_ORDERS: dict[str, tuple[str, ...]] = {
    "lifecycle_stage": ("new", "established", "lapsing"),
}


def feature_columns(columns: Sequence[str], *, exclude: Collection[str] = ()) -> list[str]:
    """The model's inputs: every column but the keys, the label and the excluded ones."""
    unknown = sorted(set(exclude) - set(columns))
    if unknown:
        raise ConfigError(f"model.exclude_features: {unknown} are not feature columns")
    skip = {*KEY_COLUMNS, LABEL, *exclude}
    return [c for c in columns if c not in skip]


def _encoder(frame: pd.DataFrame, features: Sequence[str]) -> ColumnTransformer:
    """Ordinal codes for text columns (unknown values become missing); the rest passes through."""
    text = [c for c in features if not pd.api.types.is_numeric_dtype(frame[c])]
    categories = [list(CATEGORY_ORDERS.get(c) or sorted(frame[c].dropna().unique())) for c in text]
    encoder = ColumnTransformer(
        [
            (
                "categories",
                OrdinalEncoder(
                    categories=categories,
                    handle_unknown="use_encoded_value",
                    unknown_value=np.nan,
                    encoded_missing_value=np.nan,
                ),
                text,
            )
        ],
        remainder="passthrough",
        verbose_feature_names_out=False,
    )
    return encoder.set_output(transform="pandas")


def holdout_customers(customer_ids: pd.Series, *, fraction: float, seed: int) -> set[str]:
    """A seeded share of the distinct customers, independent of row order."""
    ids = np.sort(customer_ids.astype(str).unique())
    draw = np.random.default_rng(seed).random(ids.size)
    chosen = set(ids[draw < fraction].tolist())
    if not chosen or len(chosen) == ids.size:
        raise DataError(
            f"holdout_customers: {ids.size} training customers cannot be split with holdout "
            f"fraction {fraction}"
        )
    return chosen


@dataclass
class FittedLightGBM:
    """The fitted pipeline and what early stopping found."""

    pipeline: Pipeline
    best_iteration: int
    params: dict[str, Any]
    training_rows: int
    holdout_rows: int
    holdout_loss: float
    holdout_ids: set[str]


def fit_lightgbm(
    frame: pd.DataFrame,
    features: Sequence[str],
    config: ModelConfig,
    *,
    seed: int,
    params: Mapping[str, Any] | None = None,
    eval_frame: pd.DataFrame | None = None,
) -> FittedLightGBM:
    """Fit encoder + LightGBM on labelled rows, stopping early on held-out customers.

    Args:
        frame: training rows with the feature columns, ``customer_id`` and ``churned``.
        features: the model's input columns.
        config: the model settings.
        seed: seeds the holdout draw and LightGBM.
        params: LightGBM parameters replacing ``config.params`` (from tuning).
        eval_frame: rows to stop on instead of a customer holdout (out-of-time tuning).
    """
    where = "fit_lightgbm"
    if frame.empty:
        raise DataError(f"{where}: expected training rows; got none")
    if frame[LABEL].nunique() < 2:
        raise DataError(f"{where}: expected churned and retained rows; got one class only")
    if eval_frame is None:
        held = holdout_customers(frame["customer_id"], fraction=config.holdout_fraction, seed=seed)
        is_held = frame["customer_id"].isin(held).to_numpy()
        fit_rows, stop_rows = frame[~is_held], frame[is_held]
    else:
        held = set()
        fit_rows, stop_rows = frame, eval_frame
    encoder = _encoder(frame, features).fit(frame[list(features)])
    x_fit = encoder.transform(fit_rows[list(features)])
    x_stop = encoder.transform(stop_rows[list(features)])
    chosen = {"deterministic": True, **dict(config.params if params is None else params)}
    classifier = lgb.LGBMClassifier(
        n_estimators=config.n_estimators,
        n_jobs=config.n_jobs,
        random_state=seed,
        verbose=-1,
        **chosen,
    )
    with Progress("training rounds", total=config.n_estimators, unit="trees") as progress:
        classifier.fit(
            x_fit,
            fit_rows[LABEL].to_numpy(),
            eval_X=(x_stop,),
            eval_y=(stop_rows[LABEL].to_numpy(),),
            eval_metric="binary_logloss",
            callbacks=[
                lgb.early_stopping(config.early_stopping_rounds, verbose=False),
                _rounds(progress),
            ],
        )
    best = int(classifier.best_iteration_ or config.n_estimators)
    loss = float(classifier.best_score_["valid_0"]["binary_logloss"])
    log.info(
        "lightgbm: %d rows, stopped at %d trees on %d held-out rows (log loss %.4f)",
        len(fit_rows),
        best,
        len(stop_rows),
        loss,
    )
    pipeline = Pipeline([("encode", encoder), ("lightgbm", classifier)])
    return FittedLightGBM(pipeline, best, chosen, len(fit_rows), len(stop_rows), loss, held)


def _rounds(progress: Progress) -> Any:
    """A LightGBM callback counting each boosting round as done."""

    def callback(env: Any) -> None:
        progress.update(1)

    return callback


def tune(
    frame: pd.DataFrame,
    roles: CutoffRoles,
    features: Sequence[str],
    config: ModelConfig,
    *,
    horizon_days: int,
    seed: int,
) -> dict[str, Any]:
    """Search LightGBM parameters with Optuna on an out-of-time split of the training cutoffs.

    The latest training cutoff validates; the training cutoffs whose label window ends by it
    fit. When none does (a short history), the training rows are split by customer instead,
    with a warning. Returns ``config.params`` updated with the best trial's values (unchanged
    when ``n_trials`` is 0).
    """
    tuning = config.tuning
    if tuning.n_trials == 0 or not tuning.space:
        return dict(config.params)
    import optuna

    validation = roles.training[0]
    fit_cutoffs = [c for c in roles.training if c + pd.Timedelta(days=horizon_days) <= validation]
    if fit_cutoffs:
        fit_rows = frame[frame["cutoff"].isin(fit_cutoffs)]
        val_rows = frame[frame["cutoff"] == validation]
        where = f"fit on {len(fit_cutoffs)} cutoffs, validate on {validation.date()}"
    else:
        rows = frame[frame["cutoff"].isin(roles.training)]
        held = holdout_customers(rows["customer_id"], fraction=config.holdout_fraction, seed=seed)
        is_held = rows["customer_id"].isin(held)
        fit_rows, val_rows = rows[~is_held], rows[is_held]
        where = f"validate on {len(held)} held-out customers of the training cutoffs"
        log.warning(
            "tuning: no training cutoff's %d-day label window ends by the validation cutoff %s; "
            "tuning on a split by customer instead (in time, so less honest)",
            horizon_days,
            validation.date(),
        )
    y_val = val_rows[LABEL].to_numpy()
    log.info(
        "tuning: %d trials; %s (%d fit rows, %d validation rows)",
        tuning.n_trials,
        where,
        len(fit_rows),
        len(val_rows),
    )

    def objective(trial: optuna.Trial) -> float:
        params = dict(config.params) | {
            name: _suggest(trial, name, low, high) for name, (low, high) in tuning.space.items()
        }
        fitted = fit_lightgbm(
            fit_rows, features, config, seed=seed, params=params, eval_frame=val_rows
        )
        p = fitted.pipeline.predict_proba(val_rows[list(features)])[:, 1]
        loss = float(log_loss(y_val, p, labels=[0, 1]))
        trial.set_user_attr("best_iteration", fitted.best_iteration)
        log.info(
            "tuning trial %d/%d: log loss %.5f %s", trial.number + 1, tuning.n_trials, loss, params
        )
        return loss

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(objective, n_trials=tuning.n_trials, timeout=tuning.timeout_s)
    best = dict(config.params) | study.best_params
    log.info("tuning: best log loss %.5f with %s", study.best_value, study.best_params)
    return best


def _suggest(trial: Any, name: str, low: float, high: float) -> float | int:
    wide = low > 0 and high / low >= 10
    if isinstance(low, int) and isinstance(high, int):
        return int(trial.suggest_int(name, low, high, log=wide))
    return float(trial.suggest_float(name, float(low), float(high), log=wide))


def booster(model: Any) -> lgb.Booster:
    """The LightGBM booster inside a deployed model, a fitted pipeline or a calibrated one."""
    if isinstance(model, ChurnModel):
        if model.booster is None:
            raise TypeError(f"booster: a {model.kind} model has no LightGBM booster")
        return model.booster
    return lightgbm_pipeline(model).named_steps["lightgbm"].booster_


def lightgbm_pipeline(model: Any) -> Pipeline:
    """The encoder + LightGBM pipeline inside a (possibly calibrated) model."""
    if isinstance(model, Pipeline):
        return model
    calibrated = getattr(model, "calibrated_classifiers_", None)
    if calibrated:
        inner = calibrated[0].estimator
        inner = getattr(inner, "estimator", inner)  # FrozenEstimator wraps the pipeline
        if isinstance(inner, Pipeline):
            return inner
    raise TypeError(f"lightgbm_pipeline: expected a fitted churn model; got {type(model).__name__}")


def contributions(model: Any, frame: pd.DataFrame, *, threads: int = 0) -> pd.DataFrame:
    """SHAP contributions (log-odds) of each encoded feature per row, plus ``bias``.

    ``threads``: LightGBM threads for this call (0: all cores); SHAP costs far more than a
    prediction, so it is worth every core even when the model trains on one.
    """
    if isinstance(model, ChurnModel):
        return model.contributions(frame, threads=threads)
    pipeline = lightgbm_pipeline(model)
    encoded = pipeline.named_steps["encode"].transform(frame)
    values = pipeline.named_steps["lightgbm"].booster_.predict(
        encoded,
        pred_contrib=True,
        num_iteration=pipeline.named_steps["lightgbm"].best_iteration_,
        num_threads=threads or (os.cpu_count() or 1),
    )
    return pd.DataFrame(values, columns=[*encoded.columns, "bias"], index=frame.index)


def importance(model: Any) -> dict[str, float]:
    """Total gain of each feature, largest first (a deployed baseline: its terms' weights)."""
    if isinstance(model, ChurnModel) and model.simple is not None:
        return model.simple.importance()
    trees = booster(model)
    gains = trees.feature_importance(importance_type="gain")
    pairs = sorted(zip(trees.feature_name(), gains, strict=True), key=lambda p: -p[1])
    return {name: float(gain) for name, gain in pairs}

"""Cutoff roles, the LightGBM churn model with early stopping, optional tuning (docs/training.md).

Roles for a target date ``A`` (the date the model will be applied at): the *calibration cutoff*
is the latest labelled cutoff whose label window ends by ``A``; the *training cutoffs* come
before it. Evaluation uses ``A`` = the latest labelled cutoff, which is the test set; the
deployment refit moves the same recipe (as many training cutoffs) forward to ``A`` = the data
end. Early stopping uses a holdout of whole customers drawn from the training rows, so no
customer is on both sides.

The fitted model is a scikit-learn :class:`~sklearn.pipeline.Pipeline`: an encoder of the
categorical features (``lifecycle_stage``) followed by an ``LGBMClassifier``. It takes the
feature columns as a DataFrame, so the same object serves the bundle, MLflow and scoring.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.metrics import log_loss
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OrdinalEncoder

from churn.config import check_keys
from churn.errors import ConfigError, DataError, InsufficientHistoryError

log = logging.getLogger(__name__)

LABEL = "churned"
KEY_COLUMNS = ("customer_id", "cutoff")
# lifecycle_stage is ordinal: new < established < lapsing
CATEGORY_ORDERS: dict[str, tuple[str, ...]] = {
    "lifecycle_stage": ("new", "established", "lapsing"),
}


@dataclass(frozen=True)
class CutoffRoles:
    """Which labelled cutoffs train and calibrate a model meant for ``target``."""

    name: str
    target: pd.Timestamp
    calibration: pd.Timestamp
    training: tuple[pd.Timestamp, ...]  # latest first

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dates."""
        return {
            "name": self.name,
            "target": str(self.target.date()),
            "calibration": str(self.calibration.date()),
            "training": [str(c.date()) for c in self.training],
        }


def plan_roles(
    cutoffs: Sequence[pd.Timestamp],
    *,
    end: pd.Timestamp,
    horizon_days: int,
    step_days: int,
    usable: Collection[pd.Timestamp] | None = None,
) -> tuple[CutoffRoles, CutoffRoles]:
    """The evaluation roles (test = latest cutoff) and the deployment roles (target = ``end``).

    Args:
        cutoffs: the labelled cutoffs (any order).
        end: the data end ``E``.
        horizon_days: the label horizon ``H``.
        step_days: days between cutoffs (for the message on too little history).
        usable: the cutoffs whose rows can train or calibrate (customers of both classes);
            all when None.

    Raises:
        InsufficientHistoryError: without a usable test cutoff, calibration cutoff and two
            training cutoffs, saying how much history the horizon and step need.
    """
    horizon = pd.Timedelta(days=horizon_days)
    cuts = sorted({pd.Timestamp(c) for c in cutoffs}, reverse=True)
    ok = set(cuts) if usable is None else {pd.Timestamp(c) for c in usable}
    if not cuts:
        raise ConfigError("plan_roles: expected at least one cutoff; got none")
    test = cuts[0]
    calibration = next((c for c in cuts if c + horizon <= test), None)
    training = tuple(c for c in cuts if calibration is not None and c < calibration and c in ok)
    if test not in ok or calibration not in ok or len(training) < 2:
        raise InsufficientHistoryError(
            _history_message(cuts, ok, end=end, horizon_days=horizon_days, step_days=step_days)
        )
    evaluation = CutoffRoles("evaluation", test, calibration, training)
    deploy_cal = next(c for c in cuts if c + horizon <= end)
    deploy_training = tuple(c for c in cuts if c < deploy_cal and c in ok)[: len(training)]
    if deploy_cal not in ok:
        raise InsufficientHistoryError(
            f"plan_roles: the deployment calibration cutoff {deploy_cal.date()} has no labelled "
            "customers of both classes"
        )
    return evaluation, CutoffRoles("deployment", end, deploy_cal, deploy_training)


def _history_message(
    cuts: list[pd.Timestamp],
    usable: set[pd.Timestamp],
    *,
    end: pd.Timestamp,
    horizon_days: int,
    step_days: int,
) -> str:
    gap = math.ceil(horizon_days / step_days)  # steps from the test to the calibration cutoff
    needed_cutoffs = gap + 3
    earliest = cuts[0] - pd.Timedelta(days=(gap + 2) * step_days)
    return (
        f"too little history for horizon {horizon_days} days and step {step_days} days: "
        f"evaluation needs a test cutoff, a calibration cutoff {horizon_days}+ days before it and "
        f"2 training cutoffs before that, so label.n_cutoffs >= {needed_cutoffs} and customers "
        f"buying before {earliest.date()}, {(end - earliest).days} days before the data end "
        f"{end.date()}; got {len(cuts)} cutoffs, {len(usable & set(cuts))} of them with "
        "customers of both classes. Use more history, a shorter label.horizon_days or a shorter "
        "label.step_days"
    )


@dataclass(frozen=True)
class TuningConfig:
    """Optional Optuna search (``model.tuning``); ``n_trials: 0`` switches it off."""

    n_trials: int = 0
    timeout_s: float | None = None
    # parameter -> [low, high]: whole numbers give integers; a high/low ratio of 10 or more
    # searches on a log scale
    space: Mapping[str, tuple[float, float]] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelConfig:
    """LightGBM settings (``conf/model/lightgbm.yaml``)."""

    params: Mapping[str, Any] = field(default_factory=dict)
    n_estimators: int = 2000
    early_stopping_rounds: int = 50
    holdout_fraction: float = 0.2
    n_jobs: int = 1
    exclude_features: tuple[str, ...] = ()
    tuning: TuningConfig = field(default_factory=TuningConfig)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> ModelConfig:
        """Build from the ``model`` config node (its ``name`` key is informative only)."""
        flat = {k: v for k, v in values.items() if k != "name"}
        known = {f.name for f in dataclasses.fields(cls)}
        check_keys("model", flat, known)
        tuning = dict(flat.pop("tuning", None) or {})
        check_keys("model.tuning", tuning, {f.name for f in dataclasses.fields(TuningConfig)})
        space = {str(k): _bounds(k, v) for k, v in dict(tuning.pop("space", None) or {}).items()}
        config = cls(
            **{
                **flat,
                "params": dict(flat.get("params") or {}),
                "exclude_features": tuple(flat.get("exclude_features") or ()),
            },
            tuning=TuningConfig(**tuning, space=space),
        )
        config.validate()
        return config

    def validate(self) -> None:
        """Raise ConfigError for settings that cannot work."""
        if not 0 < self.holdout_fraction < 1:
            raise ConfigError(
                f"model.holdout_fraction: expected a share in (0, 1); got {self.holdout_fraction}"
            )
        for name in ("n_estimators", "early_stopping_rounds"):
            if getattr(self, name) < 1:
                raise ConfigError(f"model.{name}: expected >= 1; got {getattr(self, name)}")
        if self.tuning.n_trials < 0:
            raise ConfigError(f"model.tuning.n_trials: expected >= 0; got {self.tuning.n_trials}")
        reserved = {"n_estimators", "n_jobs", "random_state", "seed", "verbose", "objective"}
        clash = sorted(reserved & set(self.params))
        if clash:
            raise ConfigError(f"model.params: {clash} are set by the trainer; remove them")


def _bounds(name: object, value: Any) -> tuple[float, float]:
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 2:
        raise ConfigError(f"model.tuning.space.{name}: expected [low, high]; got {value!r}")
    low, high = value
    if not low < high:
        raise ConfigError(f"model.tuning.space.{name}: expected low < high; got {value!r}")
    return low, high


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


def sample_customers(frame: pd.DataFrame, *, max_customers: int | None, seed: int) -> pd.DataFrame:
    """All rows of a seeded sample of at most ``max_customers`` customers (all when None)."""
    if max_customers is None:
        return frame
    ids = np.sort(frame["customer_id"].astype(str).unique())
    if ids.size <= max_customers:
        return frame
    keep = np.random.default_rng(seed).choice(ids, size=max_customers, replace=False)
    log.info("training on a sample of %d of %d customers", max_customers, ids.size)
    return frame[frame["customer_id"].isin(keep)]


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
    classifier.fit(
        x_fit,
        fit_rows[LABEL].to_numpy(),
        eval_X=(x_stop,),
        eval_y=(stop_rows[LABEL].to_numpy(),),
        eval_metric="binary_logloss",
        callbacks=[lgb.early_stopping(config.early_stopping_rounds, verbose=False)],
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
    fit. Returns ``config.params`` updated with the best trial's values (unchanged when
    ``n_trials`` is 0).
    """
    tuning = config.tuning
    if tuning.n_trials == 0 or not tuning.space:
        return dict(config.params)
    import optuna

    validation = roles.training[0]
    fit_cutoffs = [c for c in roles.training if c + pd.Timedelta(days=horizon_days) <= validation]
    if not fit_cutoffs:
        raise InsufficientHistoryError(
            f"tune: no training cutoff's label window ends by the validation cutoff "
            f"{validation.date()}; tuning needs more cutoffs (or set model.tuning.n_trials=0)"
        )
    fit_rows = frame[frame["cutoff"].isin(fit_cutoffs)]
    val_rows = frame[frame["cutoff"] == validation]
    y_val = val_rows[LABEL].to_numpy()
    log.info(
        "tuning: %d trials; fit on %d cutoffs (%d rows), validate on %s (%d rows)",
        tuning.n_trials,
        len(fit_cutoffs),
        len(fit_rows),
        validation.date(),
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
    """The LightGBM booster inside a fitted pipeline or calibrated pipeline."""
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
    """Total gain of each feature, largest first."""
    trees = booster(model)
    gains = trees.feature_importance(importance_type="gain")
    pairs = sorted(zip(trees.feature_name(), gains, strict=True), key=lambda p: -p[1])
    return {name: float(gain) for name, gain in pairs}

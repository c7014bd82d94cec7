"""The training recipe end to end: evaluate honestly, then refit for deployment (docs/training.md).

:func:`train` takes the labelled training table and

1. plans the cutoff roles (:func:`churn.model.plan_roles`),
2. optionally tunes LightGBM on the evaluation's training cutoffs only,
3. fits the *evaluation* recipe (training cutoffs before the calibration cutoff, calibration on
   an out-of-time cutoff, baselines on the same training rows) and scores every split with the
   model, each baseline and any reference scorer (the demo's oracle),
4. fits the *deployment* recipe: the same recipe moved forward to the data end; this is the
   model that is saved and scored with.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from churn import baselines, calibration, evaluation, model, monitoring
from churn.errors import ConfigError, DataError
from churn.features import FeatureConfig
from churn.labels import LabelConfig
from churn.timing import Stopwatch

if TYPE_CHECKING:
    from churn import promotion

log = logging.getLogger(__name__)

MODEL_SCORER = "model"
SPLITS = ("train", "holdout", "calibration", "test")
# A reference scorer gets the (customer_id, cutoff) keys of a split and returns probabilities.
ReferenceScorer = Callable[[pd.DataFrame], np.ndarray]


@dataclass(frozen=True)
class TrainConfig:
    """What the recipe needs beyond the model config."""

    horizon_days: int
    step_days: int
    calibration_method: str = "isotonic"
    max_customers: int | None = None
    btyd_time_unit_days: float = 7.0
    btyd_penalizer: float = 0.001
    top_fractions: tuple[float, ...] = (0.05, 0.1, 0.2)
    ece_bins: int = 10
    reference_bins: int = 10

    @classmethod
    def from_settings(
        cls,
        label: LabelConfig,
        features: FeatureConfig,
        *,
        calibration_method: str,
        train: Mapping[str, Any],
    ) -> TrainConfig:
        """The recipe's settings from the label and feature configs and the ``train`` node.

        Raises:
            ConfigError: an unknown calibration method or a value of the wrong kind.
        """
        try:
            return cls(
                horizon_days=label.horizon_days,
                step_days=label.step_days,
                calibration_method=calibration.validate_method(calibration_method),
                max_customers=train.get("max_customers"),
                btyd_time_unit_days=features.btyd_time_unit_days,
                btyd_penalizer=features.btyd_penalizer,
                top_fractions=tuple(float(f) for f in train.get("top_fractions", (0.05, 0.1, 0.2))),
                ece_bins=int(train.get("ece_bins", 10)),
                reference_bins=int(train.get("reference_bins", 10)),
            )
        except (TypeError, ValueError) as err:
            raise ConfigError(f"train: expected numbers for its settings; {err}") from err


@dataclass
class Recipe:
    """One fitted recipe: roles, the calibrated model, the raw LightGBM fit and the baselines."""

    roles: model.CutoffRoles
    features: list[str]
    model: Any
    lightgbm: model.FittedLightGBM
    baselines: dict[str, baselines.Baseline]
    training_rows: int
    training_customers: int
    calibration_rows: int

    def summary(self) -> dict[str, Any]:
        """JSON-ready description for the manifest and the run's params."""
        return {
            **self.roles.to_dict(),
            "training_rows": self.training_rows,
            "training_customers": self.training_customers,
            "calibration_rows": self.calibration_rows,
            "holdout_rows": self.lightgbm.holdout_rows,
            "best_iteration": self.lightgbm.best_iteration,
        }


@dataclass
class TrainingOutcome:
    """Both recipes, the evaluation's predictions per split and its metrics."""

    evaluation: Recipe
    deployment: Recipe
    params: dict[str, Any]
    predictions: pd.DataFrame  # keys, split, churned, one column per scorer
    metrics: dict[str, float]
    scorers: list[str]
    references: dict[str, dict[str, Any]] = field(default_factory=dict)
    feature_dtypes: dict[str, str] = field(default_factory=dict)
    input_example: pd.DataFrame = field(default_factory=pd.DataFrame)
    slices: list[dict[str, Any]] = field(default_factory=list)  # quality per test segment

    def split(self, name: str) -> pd.DataFrame:
        """The evaluation predictions of one split."""
        return self.predictions[self.predictions["split"] == name]


def usable_cutoffs(frame: pd.DataFrame) -> list[pd.Timestamp]:
    """Cutoffs whose rows hold both churned and retained customers."""
    classes = frame.groupby("cutoff")[model.LABEL].nunique()
    return [pd.Timestamp(c) for c in classes[classes == 2].index]


def fit_recipe(
    frame: pd.DataFrame,
    roles: model.CutoffRoles,
    features: Sequence[str],
    config: model.ModelConfig,
    settings: TrainConfig,
    *,
    params: Mapping[str, Any],
    seed: int,
) -> Recipe:
    """Fit LightGBM on the training cutoffs, calibrate on the calibration cutoff, fit baselines."""
    # a fixed row order, so that bagging draws the same rows whatever order the table came in
    train_rows = frame[frame["cutoff"].isin(roles.training)].sort_values(list(model.KEY_COLUMNS))
    train_rows = model.sample_customers(train_rows, max_customers=settings.max_customers, seed=seed)
    fitted = model.fit_lightgbm(train_rows, features, config, seed=seed, params=params)
    cal_rows = frame[frame["cutoff"] == roles.calibration].sort_values("customer_id")
    calibrated = calibration.calibrate(
        fitted.pipeline,
        cal_rows[list(features)],
        cal_rows[model.LABEL].to_numpy(),
        method=settings.calibration_method,
    )
    fitted_baselines = baselines.fit_baselines(
        train_rows,
        train_rows[model.LABEL].to_numpy(),
        horizon_days=settings.horizon_days,
        time_unit_days=settings.btyd_time_unit_days,
        penalizer=settings.btyd_penalizer,
        seed=seed,
    )
    log.info(
        "%s recipe: %d training rows (%d customers) on %d cutoffs %s..%s; calibration %s (%d rows)",
        roles.name,
        len(train_rows),
        train_rows["customer_id"].nunique(),
        len(roles.training),
        roles.training[-1].date(),
        roles.training[0].date(),
        roles.calibration.date(),
        len(cal_rows),
    )
    deployable = model.ChurnModel.from_fitted(calibrated)
    gap = model.largest_difference(deployable, calibrated, cal_rows[list(features)])
    if gap > 1e-9:
        raise RuntimeError(f"fit_recipe: the stored model differs from the fitted one by {gap}")
    return Recipe(
        roles=roles,
        features=list(features),
        model=deployable,
        lightgbm=fitted,
        baselines=fitted_baselines,
        training_rows=len(train_rows),
        training_customers=int(train_rows["customer_id"].nunique()),
        calibration_rows=len(cal_rows),
    )


def predict(fitted: Any, frame: pd.DataFrame, features: Sequence[str]) -> np.ndarray:
    """Churn probabilities of a fitted (calibrated) model for feature rows."""
    return np.asarray(fitted.predict_proba(frame[list(features)])[:, 1], dtype=float)


def score_splits(
    recipe: Recipe,
    frame: pd.DataFrame,
    *,
    references: Mapping[str, ReferenceScorer] | None = None,
) -> pd.DataFrame:
    """Every row of the recipe's splits, scored by the model, each baseline and each reference."""
    roles = recipe.roles
    held = recipe.lightgbm.holdout_ids
    split = pd.Series(pd.NA, index=frame.index, dtype="string")
    in_training = frame["cutoff"].isin(roles.training)
    split[in_training & ~frame["customer_id"].isin(held)] = "train"
    split[in_training & frame["customer_id"].isin(held)] = "holdout"
    split[frame["cutoff"] == roles.calibration] = "calibration"
    if roles.name == "evaluation":
        split[frame["cutoff"] == roles.target] = "test"
    rows = frame[split.notna()]
    out = rows[[*model.KEY_COLUMNS, model.LABEL]].copy()
    out["split"] = split[split.notna()].to_numpy()
    out[MODEL_SCORER] = predict(recipe.model, rows, recipe.features)
    for name, baseline in recipe.baselines.items():
        out[name] = baseline.predict(rows)
    for name, scorer in (references or {}).items():
        out[name] = scorer(out[list(model.KEY_COLUMNS)])
    return out.reset_index(drop=True)


def metrics_by_split(
    predictions: pd.DataFrame, scorers: Sequence[str], settings: TrainConfig
) -> dict[str, float]:
    """``<split>/<metric>`` for the model, ``<split>/<scorer>/<metric>`` for the others."""
    metrics: dict[str, float] = {}
    for split_name in SPLITS:
        rows = predictions[predictions["split"] == split_name]
        if rows.empty:
            continue
        y = rows[model.LABEL].to_numpy()
        for scorer in scorers:
            p = rows[scorer].to_numpy(dtype=float)
            known = np.isfinite(p)
            if not known.all():
                log.warning(
                    "%s/%s: %d rows without a score left out", split_name, scorer, (~known).sum()
                )
            values = evaluation.classification_metrics(
                y[known], p[known], top_fractions=settings.top_fractions, n_bins=settings.ece_bins
            )
            prefix = split_name if scorer == MODEL_SCORER else f"{split_name}/{scorer}"
            metrics.update({f"{prefix}/{k}": float(v) for k, v in values.items()})
    return metrics


def train(
    frame: pd.DataFrame,
    config: model.ModelConfig,
    settings: TrainConfig,
    *,
    end: pd.Timestamp,
    seed: int,
    references: Mapping[str, ReferenceScorer] | None = None,
    stopwatch: Stopwatch | None = None,
) -> TrainingOutcome:
    """Evaluate the recipe on the latest labelled cutoff, then refit it for deployment.

    Args:
        frame: the labelled training table (:func:`churn.labels.training_table`) as pandas.
        config: LightGBM settings.
        settings: horizon, step, calibration method, sampling.
        end: the data end ``E`` (the deployment target).
        seed: seeds every random choice.
        references: extra scorers reported beside the baselines (e.g. the demo's oracle).
        stopwatch: collects per-stage timings.

    Raises:
        InsufficientHistoryError: too few usable cutoffs for the horizon and step.
    """
    watch = stopwatch or Stopwatch()
    if frame.empty:
        raise DataError("train: the training table is empty: no customer in any population")
    evaluation_roles, deployment_roles = model.plan_roles(
        sorted(frame["cutoff"].unique()),
        end=end,
        horizon_days=settings.horizon_days,
        step_days=settings.step_days,
        usable=usable_cutoffs(frame),
    )
    log.info("evaluation roles: %s", evaluation_roles.to_dict())
    log.info("deployment roles: %s", deployment_roles.to_dict())
    features = model.feature_columns(list(frame.columns), exclude=config.exclude_features)
    with watch.stage("tune"):
        params = model.tune(
            frame, evaluation_roles, features, config, horizon_days=settings.horizon_days, seed=seed
        )
    with watch.stage("evaluation_fit"):
        evaluated = fit_recipe(
            frame, evaluation_roles, features, config, settings, params=params, seed=seed
        )
    with watch.stage("evaluation_scoring"):
        predictions = score_splits(evaluated, frame, references=references)
        scorers = [MODEL_SCORER, *evaluated.baselines, *(references or {})]
        metrics = metrics_by_split(predictions, scorers, settings)
        test = predictions[predictions["split"] == "test"]
        rows = test[list(model.KEY_COLUMNS)].merge(frame, on=list(model.KEY_COLUMNS), how="left")
        slices = evaluation.slice_metrics(
            rows,
            test[model.LABEL].to_numpy(),
            {name: test[name].to_numpy(dtype=float) for name in scorers},
            model=MODEL_SCORER,
            baselines=list(evaluated.baselines),
            n_bins=settings.ece_bins,
        )
    _log_test_metrics(metrics, scorers)
    with watch.stage("deployment_fit"):
        deployed = fit_recipe(
            frame, deployment_roles, features, config, settings, params=params, seed=seed
        )
    with watch.stage("references"):
        latest = frame[frame["cutoff"] == deployment_roles.calibration]
        refs = monitoring.reference_distributions(latest[features], n_bins=settings.reference_bins)
        refs["churn_probability"] = monitoring.reference_distribution(
            predict(deployed.model, latest, features), n_bins=settings.reference_bins
        )
    return TrainingOutcome(
        evaluated,
        deployed,
        params,
        predictions,
        metrics,
        scorers,
        refs,
        feature_dtypes={name: str(frame[name].dtype) for name in features},
        input_example=_input_example(latest[features]),
        slices=slices,
    )


def _input_example(features: pd.DataFrame) -> pd.DataFrame:
    """A few feature rows and no customer id: the logged model's input example.

    Counts stay integers: they are never missing, and MLflow's schema would refuse integer
    input for a column declared as double.
    """
    return features.head(5).reset_index(drop=True)


def _log_test_metrics(metrics: Mapping[str, float], scorers: Sequence[str]) -> None:
    for scorer in scorers:
        prefix = "test" if scorer == MODEL_SCORER else f"test/{scorer}"
        log.info(
            "test %-13s ROC-AUC %.4f  PR-AUC %.4f  Brier %.4f  ECE %.4f  capture@10%% %.3f",
            scorer,
            metrics.get(f"{prefix}/roc_auc", float("nan")),
            metrics.get(f"{prefix}/pr_auc", float("nan")),
            metrics.get(f"{prefix}/brier", float("nan")),
            metrics.get(f"{prefix}/ece", float("nan")),
            metrics.get(f"{prefix}/capture_top10", float("nan")),
        )


def plot_outcome(
    outcome: TrainingOutcome, frame: pd.DataFrame, directory: Path, *, shap_rows: int, seed: int
) -> dict[str, Path]:
    """The evaluation plots (test split) and the deployed model's importance and SHAP summary."""
    test = outcome.split("test")
    curves = {
        s: (test[model.LABEL].to_numpy(), test[s].to_numpy(dtype=float)) for s in outcome.scorers
    }
    figures = {
        "roc": evaluation.plot_roc(curves, title="ROC curve, test cutoff"),
        "precision_recall": evaluation.plot_precision_recall(
            curves, title="Precision and recall, test cutoff"
        ),
        "reliability": evaluation.plot_reliability(curves, title="Reliability, test cutoff"),
        "cumulative_gain": evaluation.plot_cumulative_gain(
            curves, title="Cumulative gain, test cutoff"
        ),
        "score_distribution": evaluation.plot_score_distribution(
            test[model.LABEL].to_numpy(),
            test[MODEL_SCORER].to_numpy(dtype=float),
            title="Churn probability by outcome, test cutoff",
        ),
        "feature_importance": evaluation.plot_feature_importance(
            model.importance(outcome.deployment.model),
            title="Feature importance (total gain), deployed model",
        ),
    }
    deployed = outcome.deployment
    latest = frame[frame["cutoff"] == deployed.roles.calibration]
    if len(latest) > shap_rows:
        latest = latest.sample(n=shap_rows, random_state=seed)
    contrib = model.contributions(deployed.model, latest[deployed.features]).drop(columns="bias")
    encoded = deployed.model.encode(latest[deployed.features])
    figures["shap_summary"] = evaluation.plot_shap_summary(
        contrib.to_numpy(),
        encoded[list(contrib.columns)],
        title=f"What drives the churn score (SHAP, {len(latest)} customers)",
    )
    return {
        name: evaluation.save_figure(fig, directory / f"{name}.png")
        for name, fig in figures.items()
    }


def log_headline(
    outcome: TrainingOutcome, path: Path, decision: promotion.Decision, seconds: float
) -> None:
    """One INFO line: where the bundle went, the test metrics and the promotion decision."""
    metrics = outcome.metrics
    log.info(
        "trained in %.1f s; bundle %s; test ROC-AUC %.4f, Brier %.4f, ECE %.4f; %s",
        seconds,
        path,
        metrics.get("test/roc_auc", float("nan")),
        metrics.get("test/brier", float("nan")),
        metrics.get("test/ece", float("nan")),
        "champion" if decision.promote else "not promoted: " + "; ".join(decision.reasons),
    )

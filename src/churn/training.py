"""The training recipe end to end: evaluate honestly, then refit for deployment (docs/training.md).

:func:`train` takes the labelled training table and

1. plans the cutoff roles (:func:`churn.model.plan_roles`), degrading with a warning when the
   history is too short for a separate calibration or test cutoff,
2. optionally tunes LightGBM on the evaluation's training cutoffs only,
3. fits the *evaluation* recipe (:func:`churn.recipes.fit_recipe`: training cutoffs, calibration
   on an out-of-time cutoff or cross-fitted by customer, baselines on the same training rows)
   and scores every split with the model, each baseline and any reference scorer (the demo's
   oracle),
4. fits the *deployment* recipe: the same recipe moved forward to the data end; this is the
   model that is saved and scored with.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ibis.expr.types as ir
import numpy as np
import pandas as pd

from churn import evaluation, model, monitoring, sampling
from churn.errors import InsufficientHistoryError
from churn.evaluation import ClvCheck
from churn.features import FeatureConfig
from churn.purchases import POSITIVE
from churn.recipes import (
    MODEL_SCORER,
    Recipe,
    ReferenceScorer,
    TrainConfig,
    fit_recipe,
    predict,
    score_splits,
    usable_cutoffs,
)
from churn.timing import Stopwatch

if TYPE_CHECKING:
    from churn import promotion

__all__ = [
    "MODEL_SCORER",
    "SPLITS",
    "ClvInputs",
    "Recipe",
    "ReferenceScorer",
    "TrainConfig",
    "TrainingOutcome",
    "fit_recipe",
    "log_headline",
    "metrics_by_split",
    "plot_outcome",
    "predict",
    "score_splits",
    "train",
    "usable_cutoffs",
]

log = logging.getLogger(__name__)

SPLITS = ("train", "holdout", "calibration", "test")


@dataclass(frozen=True)
class ClvInputs:
    """What the CLV check at the test cutoff needs (:mod:`churn.evaluation.clv_check`)."""

    transactions: ir.Table  # the validated transactions on the engine
    features: FeatureConfig
    purchase_rule: str = POSITIVE


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
    clv_check: ClvCheck | None = None  # the value model against the test window

    def split(self, name: str) -> pd.DataFrame:
        """The evaluation predictions of one split."""
        return self.predictions[self.predictions["split"] == name]


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
            if not known.any():  # a reference scored on the test rows only
                continue
            if not known.all():  # e.g. the oracle scored on a sample (train.oracle_rows)
                log.info(
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
    sample: sampling.CustomerSample | None = None,
    clv: ClvInputs | None = None,
    transactions: ir.Table | None = None,
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
        sample: the training sample the table was built for (:mod:`churn.sampling`): the
            recipes train on its customers and plan their roles on its whole-population counts.
        clv: when given, the CLV check at the test cutoff: the value model fitted before it
            against its window (``test/clv_*`` metrics, the ``clv_check`` plot); skipped with a
            warning when the value model cannot be fitted.
        transactions: the validated transactions on the engine; when they have a ``channel``
            column, each test customer's main channel before the test cutoff is joined for the
            channel slice (:func:`churn.evaluation.with_main_channel`).

    Raises:
        InsufficientHistoryError: not one cutoff with customers of both classes (at least
            ``settings.min_class_rows`` of each).
    """
    watch = stopwatch or Stopwatch()
    usable = None if sample is None else sample.usable
    evaluation_roles, deployment_roles = plan_recipe(frame, settings, end=end, usable=usable)
    log.info("evaluation roles: %s", evaluation_roles.to_dict())
    log.info("deployment roles: %s", deployment_roles.to_dict())
    features = model.feature_columns(list(frame.columns), exclude=config.exclude_features)
    with watch.stage("tune"):
        params = model.tune(
            frame, evaluation_roles, features, config, horizon_days=settings.horizon_days, seed=seed
        )
    with watch.stage("evaluation_fit"):
        evaluated = fit_recipe(
            frame,
            evaluation_roles,
            features,
            config,
            settings,
            params=params,
            seed=seed,
            sample=sample,
        )
    with watch.stage("evaluation_scoring"):
        predictions = score_splits(evaluated, frame, references=references)
        scorers = [MODEL_SCORER, *evaluated.baselines, *(references or {})]
        metrics = metrics_by_split(predictions, scorers, settings)
        test = predictions[predictions["split"] == "test"]
        rows = test[list(model.KEY_COLUMNS)].merge(frame, on=list(model.KEY_COLUMNS), how="left")
        if transactions is not None:
            rows = evaluation.with_main_channel(rows, transactions)
        slices = evaluation.slice_metrics(
            rows,
            test[model.LABEL].to_numpy(),
            {name: test[name].to_numpy(dtype=float) for name in scorers},
            model=MODEL_SCORER,
            baselines=list(evaluated.baselines),
            n_bins=settings.ece_bins,
        )
    _log_test_metrics(metrics, scorers, in_time=evaluation_roles.in_time)
    check = None
    if clv is not None:
        with watch.stage("clv_check"):
            check = evaluation.clv_check(
                clv.transactions,
                evaluation_roles.target,  # the test cutoff c_0 = E - H: its window is observed
                horizon_days=settings.horizon_days,
                features=clv.features,
                purchase_rule=clv.purchase_rule,
            )
        metrics |= {} if check is None else check.metrics("test")
    with watch.stage("deployment_fit"):
        deployed = fit_recipe(
            frame,
            deployment_roles,
            features,
            config,
            settings,
            params=params,
            seed=seed,
            chosen=evaluated.selection.chosen,
            sample=sample,
        )
    with watch.stage("references"):
        latest = frame[frame["cutoff"] == deployment_roles.latest]
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
        clv_check=check,
    )


def plan_recipe(
    frame: pd.DataFrame,
    settings: TrainConfig,
    *,
    end: pd.Timestamp,
    usable: Sequence[pd.Timestamp] | None = None,
) -> tuple[model.CutoffRoles, model.CutoffRoles]:
    """The evaluation and deployment roles for data end ``end``, or why not one cutoff can train.

    ``usable``: the cutoffs with enough customers of each class, when counted before sampling
    (else counted on ``frame``).

    Raises:
        InsufficientHistoryError: no cutoff holds ``settings.min_class_rows`` customers of each
            class, saying how much history the horizon needs and what came in.
    """
    cutoffs = sorted(frame["cutoff"].unique())
    horizon = settings.horizon_days
    if frame.empty:
        raise InsufficientHistoryError(
            "train: the training table is empty: no customer in any population; "
            + model.history_message(
                [], end=end, horizon_days=horizon, detail="got no customer at any cutoff"
            )
        )
    if usable is None:
        usable = usable_cutoffs(frame, min_class_rows=settings.min_class_rows)
    if not usable:
        counts = frame.groupby("cutoff")[model.LABEL].agg(["sum", "size"])
        found = ", ".join(
            f"{pd.Timestamp(c).date()}: {int(n)} churned, {int(size - n)} retained"
            for c, n, size in zip(counts.index, counts["sum"], counts["size"], strict=True)
        )
        detail = (
            f"needs at least {settings.min_class_rows} of each (train.min_class_rows); got "
            f"{len(cutoffs)} cutoffs with customers ({found})"
        )
        raise InsufficientHistoryError(
            model.history_message(cutoffs, end=end, horizon_days=horizon, detail=detail)
        )
    return model.plan_roles(
        cutoffs, end=end, horizon_days=horizon, step_days=settings.step_days, usable=usable
    )


def _input_example(features: pd.DataFrame) -> pd.DataFrame:
    """A few feature rows and no customer id: the logged model's input example.

    Counts stay integers: they are never missing, and MLflow's schema would refuse integer
    input for a column declared as double.
    """
    return features.head(5).reset_index(drop=True)


def _log_test_metrics(
    metrics: Mapping[str, float], scorers: Sequence[str], *, in_time: bool
) -> None:
    for scorer in scorers:
        prefix = "test" if scorer == MODEL_SCORER else f"test/{scorer}"
        log.info(
            "test%s %-13s ROC-AUC %.4f  PR-AUC %.4f  Brier %.4f  ECE %.4f  capture@10%% %.3f",
            " (in-time)" if in_time else "",
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
    """The evaluation plots (test split, and the CLV check when made) and the deployed model's
    importance and SHAP summary."""
    test = outcome.split("test")
    where = "test cutoff, in-time" if outcome.evaluation.roles.in_time else "test cutoff"
    curves = {
        s: (test[model.LABEL].to_numpy(), test[s].to_numpy(dtype=float)) for s in outcome.scorers
    }
    figures = {
        "roc": evaluation.plot_roc(curves, title=f"ROC curve, {where}"),
        "precision_recall": evaluation.plot_precision_recall(
            curves, title=f"Precision and recall, {where}"
        ),
        "reliability": evaluation.plot_reliability(curves, title=f"Reliability, {where}"),
        "cumulative_gain": evaluation.plot_cumulative_gain(
            curves, title=f"Cumulative gain, {where}"
        ),
        "score_distribution": evaluation.plot_score_distribution(
            test[model.LABEL].to_numpy(),
            test[MODEL_SCORER].to_numpy(dtype=float),
            title=f"Churn probability by outcome, {where}",
        ),
        "feature_importance": evaluation.plot_feature_importance(
            model.importance(outcome.deployment.model),
            title="Feature importance (total gain), deployed model",
        ),
    }
    if outcome.clv_check is not None:
        figures["clv_check"] = evaluation.plot_clv_check(outcome.clv_check)
    deployed = outcome.deployment
    latest = frame[frame["cutoff"] == deployed.roles.latest]
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

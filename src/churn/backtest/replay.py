"""Fit the production recipe on what was known before each as-of date and score at that date."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from churn import model, training
from churn.backtest.plan import BacktestPlan
from churn.timing import Stopwatch

log = logging.getLogger(__name__)


@dataclass
class Replay:
    """Every as-of date's scored customers and what its recipe was fitted on."""

    predictions: pd.DataFrame  # date, customer_id, cutoff, churned, one column per scorer
    baselines: list[str]  # the simple scorers the deployed one must not lose to
    references: list[str]  # scorers reported beside them (e.g. the demo's oracle)
    recipes: dict[str, dict[str, Any]] = field(default_factory=dict)  # per date: roles, sizes
    seconds: dict[str, float] = field(default_factory=dict)
    # a date's model scoring the later dates: fit_date, date, age_days, churned, model
    stale: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def scorers(self) -> list[str]:
        """Every scorer column: the deployed model, the baselines, the references."""
        return [training.MODEL_SCORER, *self.baselines, *self.references]


def replay(
    frame: pd.DataFrame,
    plan: BacktestPlan,
    config: model.ModelConfig,
    settings: training.TrainConfig,
    *,
    seed: int,
    references: Mapping[str, training.ReferenceScorer] | None = None,
    stopwatch: Stopwatch | None = None,
) -> Replay:
    """The deployed recipe at each date of ``plan``, scored on the customers at that date.

    At a date ``A`` the recipe gets only the rows of the cutoffs ``pipelines.train`` would
    label with data end ``A`` (:meth:`BacktestPlan.recipe_cutoffs`: every label window ends by
    ``A``, features come from before each cutoff). It plans its roles, tunes when configured
    and fits the deployment recipe (calibration on the latest labelled cutoff); the evaluation
    fit of a training run is skipped, since the date itself is the test. The customers of the
    population at ``A`` are then scored by the deployed model, every baseline fitted beside it
    and each reference scorer, and labelled by what happened in ``[A, A + H)``.

    Args:
        frame: the labelled table over ``plan.cutoffs``.
        plan: the as-of dates.
        config: LightGBM settings.
        settings: the recipe's settings (horizon, step, calibration, sampling).
        seed: seeds every random choice of every date's recipe.
        references: extra scorers of ``(customer_id, cutoff)`` keys (e.g. the demo's oracle).
        stopwatch: collects the time spent fitting and scoring.
    """
    watch = stopwatch or Stopwatch()
    features = model.feature_columns(list(frame.columns), exclude=config.exclude_features)
    parts: list[pd.DataFrame] = []
    recipes: dict[str, dict[str, Any]] = {}
    baselines: list[str] = []
    fitted: dict[pd.Timestamp, training.Recipe] = {}
    for date in tqdm(plan.dates, desc="backtest dates", unit="date", leave=False):
        known = frame[frame["cutoff"].isin(plan.recipe_cutoffs(date))]
        with watch.stage("fit"):
            recipe = fit_at(known, date, features, config, settings, seed=seed)
        at_date = frame[frame["cutoff"] == date]
        with watch.stage("score"):
            scored = _score(recipe, at_date, references)
        scored.insert(0, "date", date)
        parts.append(scored)
        recipes[str(date.date())] = recipe.summary()
        fitted[date] = recipe
        baselines = list(recipe.baselines)
        log.info(
            "backtest %s: %d customers scored, churn share %.3f; recipe %s",
            date.date(),
            len(scored),
            scored[model.LABEL].mean() if len(scored) else float("nan"),
            recipe.roles.to_dict(),
        )
    predictions = pd.concat(parts, ignore_index=True)
    with watch.stage("staleness"):
        stale = _stale(frame, fitted)
    return Replay(predictions, baselines, list(references or {}), recipes, watch.seconds, stale)


def _stale(frame: pd.DataFrame, fitted: Mapping[pd.Timestamp, training.Recipe]) -> pd.DataFrame:
    """Each date's deployed model scoring the customers of every later date, as if not retrained.

    Such a model is served ``age_days`` after the date it was fitted for; nothing it uses is
    later than its own date, so the rows measure the cost of not retraining.
    """
    parts = []
    for fit_date, recipe in fitted.items():
        for date in (d for d in fitted if d > fit_date):
            rows = frame[frame["cutoff"] == date]
            part = rows[["customer_id", model.LABEL]].reset_index(drop=True)
            part[training.MODEL_SCORER] = training.predict(recipe.model, rows, recipe.features)
            part.insert(0, "age_days", (date - fit_date).days)
            part.insert(0, "date", date)
            part.insert(0, "fit_date", fit_date)
            parts.append(part)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def fit_at(
    known: pd.DataFrame,
    date: pd.Timestamp,
    features: list[str],
    config: model.ModelConfig,
    settings: training.TrainConfig,
    *,
    seed: int,
) -> training.Recipe:
    """The recipe ``pipelines.train`` would deploy with data end ``date``, from ``known`` rows."""
    evaluation_roles, deployment_roles = training.plan_recipe(known, settings, end=date)
    params = model.tune(
        known, evaluation_roles, features, config, horizon_days=settings.horizon_days, seed=seed
    )
    return training.fit_recipe(
        known, deployment_roles, features, config, settings, params=params, seed=seed
    )


def _score(
    recipe: training.Recipe,
    rows: pd.DataFrame,
    references: Mapping[str, training.ReferenceScorer] | None,
) -> pd.DataFrame:
    out = rows[[*model.KEY_COLUMNS, model.LABEL]].reset_index(drop=True)
    out[training.MODEL_SCORER] = training.predict(recipe.model, rows, recipe.features)
    for name, baseline in recipe.baselines.items():
        out[name] = baseline.predict(rows)
    for name, scorer in (references or {}).items():
        out[name] = scorer(out[list(model.KEY_COLUMNS)])
    return out

"""One training recipe: fit LightGBM, calibrate, fit the baselines, choose, score the splits.

:func:`fit_recipe` follows the roles (:func:`churn.model.plan_roles`): with a calibration cutoff
the calibrator is fitted on its rows (out of time); without one it is cross-fitted on the
training rows by customer (:func:`churn.model.cross_fit`), and for an in-time evaluation the
test cutoff's rows are scored out of fold, by the model and by baselines fitted without their
customers. The deployed scorer is the candidate (LightGBM or a baseline) chosen by validation
(:mod:`churn.candidates`); the deployment refit repeats the evaluation's choice.
:func:`churn.training.train` runs it twice: for the evaluation and for deployment.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from churn import baselines, calibration, candidates, model, sampling, seasonal
from churn.bundle.manifest import Selection
from churn.errors import ConfigError
from churn.features import FeatureConfig
from churn.labels import LabelConfig

log = logging.getLogger(__name__)

MODEL_SCORER = "model"
# A reference scorer gets the (customer_id, cutoff) keys of a split and returns probabilities.
ReferenceScorer = Callable[[pd.DataFrame], np.ndarray]


@dataclass(frozen=True)
class TrainConfig:
    """What the recipe needs beyond the model config."""

    horizon_days: int
    step_days: int
    calibration_method: str = "isotonic"
    max_customers: int | str | None = None  # a number, "auto" or None (churn.sampling)
    max_rows: int = sampling.DEFAULT_MAX_ROWS  # auto's budget of sampled rows
    sample_evaluation: bool = False  # sample the test and calibration cutoffs too
    btyd_time_unit_days: float = 7.0
    btyd_penalizer: float = 0.001
    top_fractions: tuple[float, ...] = (0.05, 0.1, 0.2)
    ece_bins: int = 10
    reference_bins: int = 10
    calibration_folds: int = 5
    min_class_rows: int = 100
    seasonal: seasonal.SeasonalSettings = field(default_factory=seasonal.SeasonalSettings)
    selection_metric: str = "brier"
    selection_margin: float = 0.0

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
            ConfigError: an unknown calibration method or selection metric, or a value of the
                wrong kind.
        """
        selection = train.get("selection") or {}
        try:
            config = cls(
                horizon_days=label.horizon_days,
                step_days=label.step_days,
                calibration_method=calibration.validate_method(calibration_method),
                max_customers=sampling.check_max_customers(train.get("max_customers")),
                max_rows=int(train.get("max_rows", sampling.DEFAULT_MAX_ROWS)),
                sample_evaluation=bool(train.get("sample_evaluation", False)),
                btyd_time_unit_days=features.btyd_time_unit_days,
                btyd_penalizer=features.btyd_penalizer,
                top_fractions=tuple(float(f) for f in train.get("top_fractions", (0.05, 0.1, 0.2))),
                ece_bins=int(train.get("ece_bins", 10)),
                reference_bins=int(train.get("reference_bins", 10)),
                calibration_folds=int(train.get("calibration_folds", 5)),
                min_class_rows=int(train.get("min_class_rows", 100)),
                seasonal=seasonal.SeasonalSettings.from_mapping(train.get("seasonal") or {}),
                selection_metric=str(selection.get("metric", "brier")),
                selection_margin=float(selection.get("margin", 0.0)),
            )
        except (TypeError, ValueError) as err:
            raise ConfigError(f"train: expected numbers for its settings; {err}") from err
        if config.calibration_folds < 2 or config.min_class_rows < 1 or config.max_rows < 1:
            raise ConfigError(
                "train: expected calibration_folds >= 2, min_class_rows >= 1 and max_rows >= 1; "
                f"got {config.calibration_folds}, {config.min_class_rows} and {config.max_rows}"
            )
        candidates.check_rule(config.selection_metric, config.selection_margin)
        return config


@dataclass
class Recipe:
    """One fitted recipe: roles, the deployed scorer, the raw LightGBM fit and the baselines.

    ``model`` is the chosen candidate as stored (``selection`` says which and why).
    ``out_of_fold``: for an in-time evaluation, the test cutoff's keys with the model's and each
    baseline's out-of-fold predictions (None otherwise).
    """

    roles: model.CutoffRoles
    features: list[str]
    model: Any
    lightgbm: model.FittedLightGBM
    baselines: dict[str, baselines.Baseline]
    training_rows: int
    training_customers: int
    calibration_rows: int
    selection: Selection
    out_of_fold: pd.DataFrame | None = None
    seasonal: seasonal.SeasonalShift | None = None

    def summary(self) -> dict[str, Any]:
        """JSON-ready description for the manifest and the run's params."""
        return {
            **self.roles.to_dict(),
            "training_rows": self.training_rows,
            "training_customers": self.training_customers,
            "calibration_rows": self.calibration_rows,
            "holdout_rows": self.lightgbm.holdout_rows,
            "best_iteration": self.lightgbm.best_iteration,
            "seasonal": None if self.seasonal is None else self.seasonal.to_dict(),
            "seasonal_shift": 0.0 if self.seasonal is None else self.seasonal.shift,
            "selected": self.selection.chosen,
        }


def usable_cutoffs(frame: pd.DataFrame, *, min_class_rows: int = 1) -> list[pd.Timestamp]:
    """Cutoffs whose rows hold at least ``min_class_rows`` churned and as many retained ones."""
    churned = frame.groupby("cutoff")[model.LABEL].agg(["sum", "size"])
    enough = (churned["sum"] >= min_class_rows) & (
        churned["size"] - churned["sum"] >= min_class_rows
    )
    return [pd.Timestamp(c) for c in churned.index[enough]]


def fit_recipe(
    frame: pd.DataFrame,
    roles: model.CutoffRoles,
    features: Sequence[str],
    config: model.ModelConfig,
    settings: TrainConfig,
    *,
    params: Mapping[str, Any],
    seed: int,
    chosen: str | None = None,
    sample: sampling.CustomerSample | None = None,
) -> Recipe:
    """Fit LightGBM on the training cutoffs, calibrate as the roles say, fit the baselines, and
    deploy the candidate chosen by validation (``chosen``: repeat a choice made before).

    The training rows are those of ``sample`` (the table was built for it), or else a sample
    drawn here as ``settings.max_customers`` says; calibration and test rows are not sampled.
    """
    train_rows = _training_rows(frame, roles, settings, sample, seed=seed)
    fitted = model.fit_lightgbm(train_rows, features, config, seed=seed, params=params)
    fitted_baselines = _baselines(train_rows, settings, seed=seed)
    stored, unavailable = candidates.deployable_baselines(
        fitted_baselines,
        train_rows,
        features,
        horizon_days=settings.horizon_days,
        time_unit_days=settings.btyd_time_unit_days,
        penalizer=settings.btyd_penalizer,
        latest=roles.training[0],
    )
    out_of_fold, validation = None, None
    if roles.cross_fitted:
        crossed = model.cross_fit(
            train_rows,
            features,
            config,
            method=settings.calibration_method,
            n_folds=settings.calibration_folds,
            seed=seed,
            params=params,
        )
        plain = model.ChurnModel.from_fitted(fitted.pipeline)
        gap = model.largest_difference(plain, fitted.pipeline, train_rows[list(features)])
        deployable = model.with_calibrator(plain, crossed.calibrator)
        cal_rows, where = train_rows, "the training cutoffs, out of fold by customer"
        if chosen is None:
            validation = candidates.validate_out_of_fold(
                train_rows, crossed, stored, horizon_days=settings.horizon_days, seed=seed
            )
        if roles.name == "evaluation" and roles.in_time:
            out_of_fold = _out_of_fold(train_rows, roles.target, crossed, settings, seed=seed)
    else:
        cal_rows = frame[frame["cutoff"] == roles.calibration].sort_values("customer_id")
        calibrated = calibration.calibrate(
            fitted.pipeline,
            cal_rows[list(features)],
            cal_rows[model.LABEL].to_numpy(),
            method=settings.calibration_method,
        )
        deployable = model.ChurnModel.from_fitted(calibrated)
        gap = model.largest_difference(deployable, calibrated, cal_rows[list(features)])
        where = f"the calibration cutoff {roles.latest.date()}"
        if chosen is None:
            validation = candidates.validate_on_cutoff(
                fitted.pipeline,
                cal_rows,
                stored,
                features,
                method=settings.calibration_method,
                n_folds=settings.calibration_folds,
                seed=seed,
            )
    if gap > 1e-9:
        raise RuntimeError(f"fit_recipe: the stored model differs from the fitted one by {gap}")
    selection = _select(validation, cal_rows, chosen, stored, unavailable, settings, where)
    if selection.chosen != candidates.LIGHTGBM:
        deployable = stored[selection.chosen]
        if out_of_fold is not None and validation is not None:
            at_target = (train_rows["cutoff"] == roles.target).to_numpy()
            out_of_fold[MODEL_SCORER] = validation[selection.chosen][at_target]
    shift = None
    if roles.calibration is not None:
        # with whole test and calibration cutoffs beside sampled ones, compare like with like
        same = frame if sample is None or not sample.full_cutoffs else sample.select(frame)
        shift = seasonal.year_ago_shift(
            same,
            lambda rows: predict(deployable, rows, features),
            target=roles.target,
            calibration=roles.calibration,
            horizon_days=settings.horizon_days,
            settings=settings.seasonal,
        )
        if shift.shift:
            deployable = dataclasses.replace(deployable, offset=shift.shift)
        else:
            log.info("seasonal recalibration for %s: none (%s)", roles.target.date(), shift.reason)
    log.info(
        "%s recipe: %d training rows (%d customers) on %d cutoffs %s..%s; calibration %s (%d "
        "rows); deploys %s",
        roles.name,
        len(train_rows),
        train_rows["customer_id"].nunique(),
        len(roles.training),
        roles.training[-1].date(),
        roles.training[0].date(),
        "cross-fitted" if roles.calibration is None else roles.calibration.date(),
        len(cal_rows),
        selection.chosen,
    )
    return Recipe(
        roles=roles,
        features=list(features),
        model=deployable,
        lightgbm=fitted,
        baselines=fitted_baselines,
        training_rows=len(train_rows),
        training_customers=int(train_rows["customer_id"].nunique()),
        calibration_rows=len(cal_rows),
        selection=selection,
        out_of_fold=out_of_fold,
        seasonal=shift,
    )


def _training_rows(
    frame: pd.DataFrame,
    roles: model.CutoffRoles,
    settings: TrainConfig,
    sample: sampling.CustomerSample | None,
    *,
    seed: int,
) -> pd.DataFrame:
    """The training cutoffs' rows of the sample, in a fixed order.

    The order is fixed so that bagging draws the same rows whatever order the table came in.
    """
    rows = frame[frame["cutoff"].isin(roles.training)].sort_values(list(model.KEY_COLUMNS))
    if sample is not None:
        return sample.select(rows)
    return sampling.sample_rows(
        rows, max_customers=settings.max_customers, max_rows=settings.max_rows, seed=seed
    )


def _select(
    validation: Mapping[str, np.ndarray] | None,
    rows: pd.DataFrame,
    chosen: str | None,
    stored: Mapping[str, model.ChurnModel],
    unavailable: Mapping[str, str],
    settings: TrainConfig,
    where: str,
) -> Selection:
    """Choose on ``validation``, or keep ``chosen`` (LightGBM when it cannot be deployed here)."""
    metric, margin = settings.selection_metric, settings.selection_margin
    if validation is not None:
        return candidates.select(
            validation,
            rows[model.LABEL].to_numpy(),
            metric=metric,
            margin=margin,
            validation=where,
            unavailable=unavailable,
        )
    name = chosen or candidates.LIGHTGBM
    reason = "chosen by the evaluation's validation"
    if name != candidates.LIGHTGBM and name not in stored:
        log.warning("%s cannot be deployed (%s); deploying lightgbm", name, unavailable.get(name))
        reason = f"{name} chosen by the evaluation cannot be deployed: {unavailable.get(name)}"
        name = candidates.LIGHTGBM
    return candidates.kept(name, validation=where, reason=reason, metric=metric, margin=margin)


def _baselines(
    rows: pd.DataFrame, settings: TrainConfig, *, seed: int
) -> dict[str, baselines.Baseline]:
    return baselines.fit_baselines(
        rows,
        rows[model.LABEL].to_numpy(),
        horizon_days=settings.horizon_days,
        time_unit_days=settings.btyd_time_unit_days,
        penalizer=settings.btyd_penalizer,
        seed=seed,
    )


def _out_of_fold(
    rows: pd.DataFrame,
    target: pd.Timestamp,
    crossed: model.CrossFit,
    settings: TrainConfig,
    *,
    seed: int,
) -> pd.DataFrame:
    """The target cutoff's rows scored out of fold: the model and baselines fitted per fold."""
    at_target = (rows["cutoff"] == target).to_numpy()
    out = rows.loc[at_target, list(model.KEY_COLUMNS)].copy()
    out[MODEL_SCORER] = crossed.calibrated[at_target]
    scores: dict[str, np.ndarray] = {}
    for k in np.unique(crossed.folds):
        held = crossed.folds == k
        for name, baseline in _baselines(rows[~held], settings, seed=seed).items():
            column = scores.setdefault(name, np.full(len(rows), np.nan))
            column[held & at_target] = baseline.predict(rows[held & at_target])
    for name, column in scores.items():
        out[name] = column[at_target]
    return out


def predict(fitted: Any, frame: pd.DataFrame, features: Sequence[str]) -> np.ndarray:
    """Churn probabilities of a fitted (calibrated) model for feature rows."""
    return np.asarray(fitted.predict_proba(frame[list(features)])[:, 1], dtype=float)


def score_splits(
    recipe: Recipe,
    frame: pd.DataFrame,
    *,
    references: Mapping[str, ReferenceScorer] | None = None,
) -> pd.DataFrame:
    """Every row of the recipe's splits, scored by the model and each baseline; the test rows
    by each reference too (NaN elsewhere).

    In an in-time evaluation the test rows are training rows too: they carry the out-of-fold
    predictions of the model and the baselines instead of the full fits'.
    """
    roles = recipe.roles
    held = recipe.lightgbm.holdout_ids
    split = pd.Series(pd.NA, index=frame.index, dtype="string")
    in_training = frame["cutoff"].isin(roles.training)
    split[in_training & ~frame["customer_id"].isin(held)] = "train"
    split[in_training & frame["customer_id"].isin(held)] = "holdout"
    if roles.calibration is not None:
        split[frame["cutoff"] == roles.calibration] = "calibration"
    if roles.name == "evaluation":
        split[frame["cutoff"] == roles.target] = "test"
    rows = frame[split.notna()]
    out = rows[[*model.KEY_COLUMNS, model.LABEL]].copy()
    out["split"] = split[split.notna()].to_numpy()
    out[MODEL_SCORER] = predict(recipe.model, rows, recipe.features)
    for name, baseline in recipe.baselines.items():
        out[name] = baseline.predict(rows)
    out = out.reset_index(drop=True)
    if recipe.out_of_fold is not None:
        test = (out["split"] == "test").to_numpy()
        keys = list(model.KEY_COLUMNS)
        matched = out.loc[test, keys].merge(recipe.out_of_fold, on=keys, how="left")
        for name in [MODEL_SCORER, *recipe.baselines]:
            out.loc[test, name] = matched[name].to_numpy(dtype=float)
    # references (the demo's oracle) are reported on the test cutoff only: on a large world the
    # oracle of every training cutoff took most of the evaluation's time
    test_rows = (out["split"] == "test").to_numpy()
    for name, scorer in (references or {}).items():
        out[name] = np.nan
        if test_rows.any():
            out.loc[test_rows, name] = scorer(out.loc[test_rows, list(model.KEY_COLUMNS)])
    return out

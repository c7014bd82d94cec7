"""Cutoff roles, the LightGBM fit with its customer holdout, tuning and contributions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import logit
from sklearn.metrics import roc_auc_score

from churn import labels, model
from churn.errors import ConfigError, DataError, InsufficientHistoryError

E = pd.Timestamp("2026-01-01")
SMALL = model.ModelConfig(
    params={"learning_rate": 0.1, "num_leaves": 7, "min_child_samples": 20},
    n_estimators=200,
    early_stopping_rounds=20,
)


def _schedule(horizon: int, step: int, n: int) -> list[pd.Timestamp]:
    config = labels.LabelConfig(horizon_days=horizon, step_days=step, n_cutoffs=n)
    return labels.cutoff_schedule(E, config)


@pytest.mark.parametrize(
    ("horizon", "step", "n"), [(90, 30, 12), (60, 15, 10), (30, 30, 5), (90, 7, 20), (45, 60, 6)]
)
def test_plan_roles_time_relations(horizon: int, step: int, n: int) -> None:
    cutoffs = _schedule(horizon, step, n)
    h = pd.Timedelta(days=horizon)

    evaluation, deployment = model.plan_roles(cutoffs, end=E, horizon_days=horizon, step_days=step)

    # evaluation: the latest labelled cutoff is the test set; nothing else sees past it
    assert evaluation.target == max(cutoffs)
    assert evaluation.calibration + h <= evaluation.target
    assert evaluation.calibration == max(c for c in cutoffs if c + h <= evaluation.target)
    assert all(c < evaluation.calibration for c in evaluation.training)
    assert all(c + h <= evaluation.target for c in evaluation.training)
    assert len(evaluation.training) >= 2
    # deployment: the same recipe moved forward to the data end
    assert deployment.target == E
    assert deployment.calibration == max(cutoffs)
    assert deployment.calibration + h <= E
    assert all(c < deployment.calibration for c in deployment.training)
    assert len(deployment.training) == len(evaluation.training)
    assert list(deployment.training) == sorted(deployment.training, reverse=True)
    assert deployment.training[0] > evaluation.training[0]


def test_plan_roles_without_a_calibration_cutoff_cross_fits_and_tests_out_of_time(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cutoffs = _schedule(90, 30, 5)  # test 2025-10-03; 2025-07-05 and 2025-06-05 end by it

    evaluation, deployment = model.plan_roles(cutoffs, end=E, horizon_days=90, step_days=30)

    assert evaluation.target == cutoffs[0]
    assert evaluation.calibration is None
    assert evaluation.training == tuple(cutoffs[3:])
    assert (evaluation.calibration_mode, evaluation.evaluation_mode) == (
        "cross_fitted",
        "out_of_time",
    )
    # the same recipe moved forward: as many cutoffs, the latest ones, cross-fitted
    assert deployment.training == tuple(cutoffs[:2])
    assert deployment.calibration is None
    assert deployment.cross_fitted
    assert deployment.latest == cutoffs[0]
    assert "missing a calibration cutoff 90+ days before the test cutoff" in caplog.text
    assert evaluation.to_dict()["calibration"] is None


def test_plan_roles_one_usable_cutoff_evaluates_in_time(caplog: pytest.LogCaptureFixture) -> None:
    cutoffs = _schedule(182, 30, 12)
    usable = cutoffs[:1]

    evaluation, deployment = model.plan_roles(
        cutoffs, end=E, horizon_days=182, step_days=30, usable=usable
    )

    assert evaluation.training == (cutoffs[0],) == deployment.training
    assert evaluation.target == cutoffs[0]
    assert evaluation.in_time
    assert evaluation.cross_fitted
    assert deployment.target == E
    assert deployment.evaluation_mode == "in_time"
    assert evaluation.to_dict()["evaluation_mode"] == "in_time"
    assert "never used by the promotion gate" in caplog.text


def test_plan_roles_cutoffs_within_a_horizon_all_train_in_time() -> None:
    cutoffs = _schedule(182, 30, 7)  # 180 days between the first and the last: none ends by c0

    evaluation, deployment = model.plan_roles(cutoffs, end=E, horizon_days=182, step_days=30)

    assert evaluation.in_time
    assert evaluation.training == tuple(cutoffs) == deployment.training


def test_plan_roles_no_usable_cutoff_says_what_is_needed() -> None:
    cutoffs = _schedule(90, 30, 5)

    with pytest.raises(InsufficientHistoryError) as err:
        model.plan_roles(cutoffs, end=E, horizon_days=90, step_days=30, usable=[])

    message = str(err.value)
    assert message.startswith("too little history for horizon 90 days")
    assert "on or before 2025-10-03, 90 days before the data end 2026-01-01" in message
    assert "got 5 cutoffs, none with customers of both classes" in message
    assert err.value.exit_code == 3
    with pytest.raises(ConfigError, match="at least one cutoff"):
        model.plan_roles([], end=E, horizon_days=90, step_days=30)


def test_plan_roles_skips_unusable_cutoffs() -> None:
    cutoffs = _schedule(90, 30, 12)
    usable = cutoffs[:8]  # the 4 earliest have no customers of both classes

    evaluation, deployment = model.plan_roles(
        cutoffs, end=E, horizon_days=90, step_days=30, usable=usable
    )

    assert evaluation.training == tuple(cutoffs[4:8])
    assert deployment.training == tuple(cutoffs[1:5])
    assert evaluation.calibration_mode == "out_of_time" == evaluation.evaluation_mode
    # an unusable latest cutoff: the latest usable one is the test cutoff
    later, _ = model.plan_roles(cutoffs, end=E, horizon_days=90, step_days=30, usable=cutoffs[1:])
    assert later.target == cutoffs[1]
    assert later.calibration == cutoffs[4]


def test_model_config_from_mapping_builds_tuning_space() -> None:
    config = model.ModelConfig.from_mapping(
        {
            "name": "lightgbm",
            "params": {"num_leaves": 15},
            "exclude_features": ["tenure_days"],
            "tuning": {"n_trials": 3, "space": {"num_leaves": [8, 64]}},
        }
    )
    assert config.params == {"num_leaves": 15}
    assert config.exclude_features == ("tenure_days",)
    assert config.tuning.space == {"num_leaves": (8, 64)}


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"holdout_fraction": 1.0}, "holdout_fraction"),
        ({"n_estimators": 0}, "n_estimators"),
        ({"params": {"n_jobs": 4}}, "set by the trainer"),
        ({"colour": "red"}, "unknown keys"),
        ({"tuning": {"n_trials": -1}}, "n_trials"),
        ({"tuning": {"space": {"num_leaves": [64, 8]}}}, "low < high"),
        ({"tuning": {"space": {"num_leaves": 8}}}, r"\[low, high\]"),
    ],
)
def test_model_config_from_mapping_invalid(values: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        model.ModelConfig.from_mapping(values)


def test_feature_columns_drop_keys_label_and_excluded() -> None:
    columns = ["customer_id", "cutoff", "recency_days", "frequency", "churned"]
    assert model.feature_columns(columns) == ["recency_days", "frequency"]
    assert model.feature_columns(columns, exclude=["frequency"]) == ["recency_days"]
    with pytest.raises(ConfigError, match="not feature columns"):
        model.feature_columns(columns, exclude=["nps"])


def test_holdout_customers_independent_of_row_order() -> None:
    ids = pd.Series([f"c{i:04d}" for i in range(1000)] * 3)
    shuffled = ids.sample(frac=1.0, random_state=1)

    held = model.holdout_customers(ids, fraction=0.2, seed=7)

    assert held == model.holdout_customers(shuffled, fraction=0.2, seed=7)
    assert 150 < len(held) < 250
    assert held != model.holdout_customers(ids, fraction=0.2, seed=8)
    with pytest.raises(DataError, match="cannot be split"):
        model.holdout_customers(pd.Series(["only"]), fraction=0.2, seed=0)


def _planted(n: int, seed: int) -> pd.DataFrame:
    """Churn rises with recency and is higher for 'lapsing' customers; noise otherwise."""
    rng = np.random.default_rng(seed)
    recency = rng.exponential(60, n)
    stage = rng.choice(["new", "established", "lapsing"], n)
    logit_p = (recency - 60) / 30 + np.where(stage == "lapsing", 1.0, 0.0)
    churned = (rng.random(n) < 1 / (1 + np.exp(-logit_p))).astype(np.int64)
    return pd.DataFrame(
        {
            "customer_id": [f"c{seed}-{i}" for i in range(n)],
            "cutoff": pd.Timestamp("2025-01-01"),
            "recency_days": recency,
            "frequency": rng.integers(1, 20, n),
            "noise": rng.normal(size=n),
            "lifecycle_stage": pd.Series(stage, dtype="string"),
            "churned": churned,
        }
    )


FEATURES = ["recency_days", "frequency", "noise", "lifecycle_stage"]


def test_fit_lightgbm_learns_planted_signal() -> None:
    train, fresh = _planted(4000, seed=1), _planted(2000, seed=2)

    fitted = model.fit_lightgbm(train, FEATURES, SMALL, seed=0)
    p = fitted.pipeline.predict_proba(fresh[FEATURES])[:, 1]

    truth = (fresh["recency_days"] - 60) / 30 + (fresh["lifecycle_stage"] == "lapsing").astype(
        float
    )
    best = roc_auc_score(fresh["churned"], truth)  # the true log-odds: about 0.83
    assert roc_auc_score(fresh["churned"], p) > best - 0.02
    assert fitted.best_iteration < SMALL.n_estimators
    assert fitted.training_rows + fitted.holdout_rows == len(train)
    assert not set(train["customer_id"][~train["customer_id"].isin(fitted.holdout_ids)]) & (
        fitted.holdout_ids
    )
    gains = model.importance(fitted.pipeline)
    assert next(iter(gains)) == "recency_days"
    assert gains["noise"] < gains["recency_days"] / 5


def test_fit_lightgbm_is_deterministic_and_handles_unknown_stage() -> None:
    train, fresh = _planted(2000, seed=3), _planted(200, seed=4)
    fresh.loc[:9, "lifecycle_stage"] = "dormant"  # never seen in training: encoded as missing
    fresh.loc[10:19, "lifecycle_stage"] = pd.NA

    a = model.fit_lightgbm(train, FEATURES, SMALL, seed=5).pipeline.predict_proba(fresh[FEATURES])
    b = model.fit_lightgbm(train, FEATURES, SMALL, seed=5).pipeline.predict_proba(fresh[FEATURES])

    np.testing.assert_array_equal(a, b)
    assert np.isfinite(a).all()


def test_fit_lightgbm_rejects_one_class() -> None:
    train = _planted(500, seed=6).assign(churned=1)
    with pytest.raises(DataError, match="one class"):
        model.fit_lightgbm(train, FEATURES, SMALL, seed=0)


def test_contributions_add_up_to_the_log_odds() -> None:
    train, fresh = _planted(2000, seed=7), _planted(100, seed=8)
    pipeline = model.fit_lightgbm(train, FEATURES, SMALL, seed=0).pipeline

    contrib = model.contributions(pipeline, fresh[FEATURES])

    assert list(contrib.columns) == [
        *model.lightgbm_pipeline(pipeline)[:-1].get_feature_names_out(),
        "bias",
    ]
    p = pipeline.predict_proba(fresh[FEATURES])[:, 1]
    np.testing.assert_allclose(contrib.sum(axis=1), logit(p), atol=1e-6)
    with pytest.raises(TypeError, match="expected a fitted churn model"):
        model.lightgbm_pipeline(object())


def test_tune_searches_out_of_time() -> None:
    cutoffs = pd.date_range("2024-01-01", periods=6, freq="30D")[::-1]
    frame = pd.concat(
        [_planted(600, seed=10 + i).assign(cutoff=c) for i, c in enumerate(cutoffs)],
        ignore_index=True,
    )
    roles = model.CutoffRoles("evaluation", cutoffs[0], cutoffs[0], tuple(cutoffs[1:]))
    config = model.ModelConfig.from_mapping(
        {
            "params": dict(SMALL.params),
            "n_estimators": 50,
            "early_stopping_rounds": 10,
            "tuning": {
                "n_trials": 3,
                "space": {"num_leaves": [4, 40], "learning_rate": [0.05, 0.3]},
            },
        }
    )

    best = model.tune(frame, roles, FEATURES, config, horizon_days=60, seed=0)

    assert 4 <= best["num_leaves"] <= 40
    assert 0.05 <= best["learning_rate"] <= 0.3
    assert best["min_child_samples"] == 20  # untuned parameters are kept
    assert model.tune(frame, roles, FEATURES, SMALL, horizon_days=60, seed=0) == SMALL.params


def test_tune_on_a_short_history_splits_by_customer(caplog: pytest.LogCaptureFixture) -> None:
    cutoff = pd.Timestamp("2024-01-01")
    frame = _planted(1500, seed=3).assign(cutoff=cutoff)
    roles = model.CutoffRoles("evaluation", cutoff, None, (cutoff,), "cross_fitted", "in_time")
    config = model.ModelConfig.from_mapping(
        {
            "params": dict(SMALL.params),
            "n_estimators": 50,
            "early_stopping_rounds": 10,
            "tuning": {"n_trials": 2, "space": {"num_leaves": [4, 40]}},
        }
    )

    best = model.tune(frame, roles, FEATURES, config, horizon_days=400, seed=0)

    assert 4 <= best["num_leaves"] <= 40
    assert "tuning on a split by customer instead" in caplog.text
    assert best == model.tune(frame, roles, FEATURES, config, horizon_days=400, seed=0)

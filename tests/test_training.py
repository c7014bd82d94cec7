"""The training recipe on the small demo world: roles, splits, metrics, baselines, references."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churn import model, training
from churn.errors import DataError, InsufficientHistoryError

CONFIG = model.ModelConfig(
    params={
        "learning_rate": 0.1,
        "num_leaves": 15,
        "min_child_samples": 30,
        "subsample": 0.8,
        "subsample_freq": 1,
    },
    n_estimators=300,
    early_stopping_rounds=20,
)
SETTINGS = training.TrainConfig(horizon_days=90, step_days=30)


def _end(table: pd.DataFrame) -> pd.Timestamp:
    return pd.Timestamp(table["cutoff"].max()) + pd.Timedelta(days=90)


@pytest.fixture(scope="module")
def outcome(small_training_table: pd.DataFrame) -> training.TrainingOutcome:
    def constant(keys: pd.DataFrame) -> np.ndarray:
        return np.full(len(keys), 0.5)

    return training.train(
        small_training_table,
        CONFIG,
        SETTINGS,
        end=_end(small_training_table),
        seed=0,
        references={"coin": constant},
    )


def test_train_splits_follow_the_roles(
    outcome: training.TrainingOutcome, small_training_table: pd.DataFrame
) -> None:
    roles = outcome.evaluation.roles
    predictions = outcome.predictions
    by_split = predictions.groupby("split")["cutoff"].agg(["min", "max"])
    horizon = pd.Timedelta(days=90)

    assert set(predictions["split"]) == {"train", "holdout", "calibration", "test"}
    assert by_split.loc["test", "min"] == by_split.loc["test", "max"] == roles.target
    assert by_split.loc["calibration", "min"] == roles.calibration
    assert by_split.loc["calibration", "max"] + horizon <= roles.target
    assert by_split.loc["train", "max"] < roles.calibration
    # no label window of a training or calibration row reaches past the test cutoff
    fitted = predictions[predictions["split"] != "test"]
    assert (fitted["cutoff"] + horizon <= roles.target).all()
    # early stopping holds out whole customers
    train_ids = set(predictions.loc[predictions["split"] == "train", "customer_id"])
    held_ids = set(predictions.loc[predictions["split"] == "holdout", "customer_id"])
    assert train_ids
    assert held_ids
    assert not train_ids & held_ids
    # every test row is a row of the table at the test cutoff, once
    test_rows = small_training_table[small_training_table["cutoff"] == roles.target]
    assert (predictions["split"] == "test").sum() == len(test_rows)


def test_train_reports_every_scorer_on_every_split(outcome: training.TrainingOutcome) -> None:
    assert outcome.scorers == ["model", "recency", "rfm_logistic", "bgnbd", "coin"]
    metrics = outcome.metrics
    for split in training.SPLITS:
        assert 0 <= metrics[f"{split}/roc_auc"] <= 1
        for scorer in ("recency", "rfm_logistic", "bgnbd"):
            assert f"{split}/{scorer}/brier" in metrics
        # a reference (the demo's oracle; here a coin) is reported on the test cutoff only
        assert (f"{split}/coin/brier" in metrics) is (split == "test")
    for name in ("pr_auc", "log_loss", "ece", "lift_top5", "capture_top10", "lift_top20"):
        assert f"test/{name}" in metrics
    assert metrics["test/coin/roc_auc"] == pytest.approx(0.5)


def test_train_model_is_good_and_calibrated(outcome: training.TrainingOutcome) -> None:
    metrics = outcome.metrics
    assert metrics["test/roc_auc"] > 0.85
    assert metrics["test/roc_auc"] > metrics["test/recency/roc_auc"]
    assert metrics["test/brier"] < metrics["test/coin/brier"]
    assert metrics["test/ece"] < 0.06
    assert metrics["test/lift_top10"] > 1.5


def test_train_deployment_moves_forward(outcome: training.TrainingOutcome) -> None:
    evaluated, deployed = outcome.evaluation, outcome.deployment
    assert deployed.roles.calibration == evaluated.roles.target
    assert len(deployed.roles.training) == len(evaluated.roles.training)
    assert deployed.features == evaluated.features
    assert "customer_id" not in deployed.features
    assert "churned" not in deployed.features


def test_train_references_and_input_example(outcome: training.TrainingOutcome) -> None:
    assert set(outcome.references) == {*outcome.deployment.features, "churn_probability"}
    assert outcome.references["lifecycle_stage"]["kind"] == "categorical"
    assert list(outcome.input_example.columns) == outcome.deployment.features
    assert len(outcome.input_example) == 5
    assert outcome.feature_dtypes["frequency"] == "int64"
    assert outcome.input_example["frequency"].dtype == "int64"


def test_train_plots(
    outcome: training.TrainingOutcome, small_training_table: pd.DataFrame, tmp_path: Path
) -> None:
    paths = training.plot_outcome(
        outcome, small_training_table, tmp_path / "plots", shap_rows=300, seed=0
    )

    assert set(paths) == {
        "roc",
        "precision_recall",
        "reliability",
        "cumulative_gain",
        "score_distribution",
        "feature_importance",
        "shap_summary",
    }
    for path in paths.values():
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _latest(table: pd.DataFrame, n: int) -> pd.DataFrame:
    return table[table["cutoff"] >= sorted(table["cutoff"].unique())[-n]]


def test_train_short_history_cross_fits_calibration(small_training_table: pd.DataFrame) -> None:
    recent = _latest(small_training_table, 5)  # no calibration cutoff with 2 training cutoffs
    keep_lightgbm = dataclasses.replace(SETTINGS, selection_margin=1.0)

    outcome = training.train(recent, CONFIG, keep_lightgbm, end=_end(recent), seed=0)

    roles = outcome.evaluation.roles
    assert (roles.calibration_mode, roles.evaluation_mode) == ("cross_fitted", "out_of_time")
    assert set(outcome.predictions["split"]) == {"train", "holdout", "test"}
    assert (outcome.split("train")["cutoff"] + pd.Timedelta(days=90) <= roles.target).all()
    assert outcome.metrics["test/roc_auc"] > 0.8
    assert outcome.metrics["test/ece"] < 0.08
    deployed = outcome.deployment
    assert deployed.roles.cross_fitted
    assert deployed.roles.training[0] == roles.target
    assert deployed.model.calibration == "isotonic"
    assert deployed.model.calibration_input == "raw_score"
    assert outcome.evaluation.summary()["calibration_mode"] == "cross_fitted"
    assert outcome.evaluation.selection.chosen == "lightgbm"  # bgnbd validated better, by less
    assert "best baseline bgnbd" in outcome.evaluation.selection.reason


def test_train_short_history_deploys_bgnbd_when_it_validates_better(
    small_training_table: pd.DataFrame,
) -> None:
    recent = _latest(small_training_table, 5)  # two training cutoffs: the trees know little

    outcome = training.train(recent, CONFIG, SETTINGS, end=_end(recent), seed=0)

    selection = outcome.evaluation.selection
    scores = {c.name: c.brier for c in selection.candidates}
    assert selection.chosen == "bgnbd" == min(scores, key=lambda n: scores[n])
    assert selection.validation == "the training cutoffs, out of fold by customer"
    assert selection.rows == outcome.evaluation.training_rows
    assert outcome.deployment.model.kind == "bgnbd"
    assert outcome.deployment.selection.chosen == "bgnbd"
    test = outcome.split("test")
    np.testing.assert_allclose(
        test["model"],
        recent.set_index(["customer_id", "cutoff"]).loc[
            pd.MultiIndex.from_frame(test[["customer_id", "cutoff"]]), "btyd_p_no_purchase"
        ],
    )


def test_train_one_cutoff_evaluates_in_time_out_of_fold(
    small_training_table: pd.DataFrame,
) -> None:
    latest = _latest(small_training_table, 1)
    keep_lightgbm = dataclasses.replace(SETTINGS, selection_margin=1.0)  # bgnbd validates better

    outcome = training.train(latest, CONFIG, keep_lightgbm, end=_end(latest), seed=0)

    roles = outcome.evaluation.roles
    assert roles.in_time
    assert roles.training == (roles.target,)
    test = outcome.split("test")
    assert len(test) == len(latest)
    # the test rows are scored out of fold, not by the model fitted on them
    in_sample = training.predict(outcome.evaluation.model, latest, outcome.evaluation.features)
    assert not np.allclose(np.sort(test["model"].to_numpy()), np.sort(in_sample))
    assert test[["model", "recency", "rfm_logistic", "bgnbd"]].notna().all().all()
    assert 0.75 < outcome.metrics["test/roc_auc"] < 0.99
    assert outcome.deployment.roles.training == roles.training
    assert outcome.deployment.summary()["evaluation_mode"] == "in_time"


def test_train_refuses_without_both_classes(small_training_table: pd.DataFrame) -> None:
    retained = _latest(small_training_table, 2).assign(churned=0)

    with pytest.raises(InsufficientHistoryError, match="too little history for horizon 90") as err:
        training.train(retained, CONFIG, SETTINGS, end=_end(retained), seed=0)
    assert "0 churned" in str(err.value)
    assert "train.min_class_rows" in str(err.value)


def test_train_empty_table(small_training_table: pd.DataFrame) -> None:
    with pytest.raises(DataError, match="empty"):
        training.train(
            small_training_table.iloc[:0], CONFIG, SETTINGS, end=pd.Timestamp("2026-01-01"), seed=0
        )


def test_train_does_not_depend_on_row_order(
    outcome: training.TrainingOutcome, small_training_table: pd.DataFrame
) -> None:
    again = training.train(
        small_training_table.sample(frac=1.0, random_state=3),
        CONFIG,
        SETTINGS,
        end=_end(small_training_table),
        seed=0,
    )
    latest = small_training_table[
        small_training_table["cutoff"] == outcome.deployment.roles.calibration
    ]
    np.testing.assert_allclose(
        training.predict(again.deployment.model, latest, again.deployment.features),
        training.predict(outcome.deployment.model, latest, outcome.deployment.features),
    )


def test_train_selects_lightgbm_on_the_small_demo(outcome: training.TrainingOutcome) -> None:
    selection = outcome.evaluation.selection
    scores = {c.name: c for c in selection.candidates}

    assert set(scores) == {"lightgbm", "recency", "rfm_logistic", "bgnbd"}
    assert (
        selection.validation
        == f"the calibration cutoff {outcome.evaluation.roles.calibration.date()}"
    )
    assert selection.rows == outcome.evaluation.calibration_rows == scores["lightgbm"].rows
    # measured: lightgbm 0.111, bgnbd 0.119, recency 0.132, rfm_logistic 0.135
    assert scores["lightgbm"].brier < min(c.brier for n, c in scores.items() if n != "lightgbm")
    assert selection.chosen == "lightgbm"
    assert outcome.deployment.model.kind == "calibrated-lightgbm"

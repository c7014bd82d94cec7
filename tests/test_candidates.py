"""Choosing the deployed scorer: a planted world where recency alone tells churn."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churn import bundle, candidates, model, promotion, publish, tracking, training
from churn.errors import ConfigError
from churn.features import FeatureConfig
from churn.labels import LabelConfig

STUMP = model.ModelConfig(params={"num_leaves": 2}, n_estimators=1, early_stopping_rounds=1)
SETTINGS = training.TrainConfig(horizon_days=90, step_days=30)
FEATURES = ["recency_days", "frequency", "monetary_sum", "monetary_mean", "tenure_days", "noise"]


def _planted(seed: int = 0, customers: int = 800, cutoffs: int = 9) -> pd.DataFrame:
    """Churn is a step function of recency (10%, 50%, 90%) plus noise; nothing else matters."""
    rng = np.random.default_rng(seed)
    frames = []
    for k in range(cutoffs):
        recency = rng.uniform(0, 180, customers).round()
        step = np.select([recency < 60, recency < 120], [0.1, 0.5], 0.9)
        frames.append(
            pd.DataFrame(
                {
                    "customer_id": [f"c{i}" for i in range(customers)],
                    "cutoff": pd.Timestamp("2024-01-01") + pd.Timedelta(days=30 * k),
                    "recency_days": recency,
                    "frequency": rng.integers(1, 20, customers),
                    "monetary_sum": rng.gamma(2.0, 50.0, customers),
                    "monetary_mean": rng.gamma(2.0, 20.0, customers),
                    "tenure_days": recency + rng.uniform(1, 400, customers).round() + 1,
                    "noise": rng.normal(size=customers),
                    "churned": (rng.random(customers) < step).astype("int64"),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def planted() -> pd.DataFrame:
    return _planted()


@pytest.fixture(scope="module")
def outcome(planted: pd.DataFrame) -> training.TrainingOutcome:
    end = planted["cutoff"].max() + pd.Timedelta(days=90)
    return training.train(
        planted[["customer_id", "cutoff", *FEATURES, "churned"]], STUMP, SETTINGS, end=end, seed=0
    )


def test_select_picks_recency_when_it_really_is_better(outcome: training.TrainingOutcome) -> None:
    selection = outcome.evaluation.selection
    briers = {c.name: c.brier for c in selection.candidates}

    assert selection.chosen == "recency"
    assert set(briers) == {"lightgbm", "recency", "rfm_logistic"}  # no btyd column here
    assert briers["recency"] == min(briers.values())
    assert briers["lightgbm"] - briers["recency"] > 0.01
    assert "bgnbd not a candidate: the feature btyd_p_no_purchase is off" in selection.reason
    assert outcome.deployment.model.kind == "recency"
    assert outcome.deployment.selection.chosen == "recency"
    # what was tested is what is deployed: the model column is the recency baseline's
    test = outcome.split("test")
    np.testing.assert_allclose(test["model"], test["recency"])


def test_selection_margin_keeps_lightgbm(planted: pd.DataFrame) -> None:
    roles, _ = training.plan_recipe(planted, SETTINGS, end=planted["cutoff"].max())
    settings = training.TrainConfig(horizon_days=90, step_days=30, selection_margin=0.5)

    recipe = training.fit_recipe(
        planted, roles, FEATURES, STUMP, settings, params={"num_leaves": 2}, seed=0
    )

    assert recipe.selection.chosen == "lightgbm"
    assert recipe.model.kind == "calibrated-lightgbm"
    assert "is not better by more than 0.5" in recipe.selection.reason


def test_published_baseline_reloads_and_predicts_as_fitted(
    outcome: training.TrainingOutcome, planted: pd.DataFrame, tmp_path: Path
) -> None:
    published = publish.publish(
        outcome,
        bundle.TrainingSettings(LabelConfig(), FeatureConfig(), "isotonic"),
        end=planted["cutoff"].max(),
        fingerprint={},
        model_dir=tmp_path / "churn",
        plots={},
        policy=promotion.PromotionConfig(),
        tracking_config=tracking.TrackingConfig(enabled=False),
        params={},
        config_yaml="",
        artifacts={},
    )

    loaded = bundle.load(published.bundle.path)
    manifest = loaded.manifest
    assert published.decision.promote  # a fresh store always ends with a champion
    assert manifest.model.kind == "recency"
    assert sorted(manifest.model.files) == [model.MODEL_JSON]
    assert not (published.bundle.path / model.BOOSTER_FILE).exists()
    assert manifest.selection == outcome.evaluation.selection
    assert manifest.selection is not None
    assert manifest.selection.chosen == "recency"
    latest = planted[planted["cutoff"] == planted["cutoff"].max()]
    fitted = outcome.deployment.baselines["recency"]
    np.testing.assert_allclose(loaded.model.predict_proba(latest)[:, 1], fitted.predict(latest))
    assert model.largest_difference(loaded.model, fitted, latest) < 1e-12
    contributions = loaded.model.contributions(latest)
    assert list(contributions.columns) == ["recency_days", "bias"]
    # the recency term rises with recency
    order = np.argsort(latest["recency_days"].to_numpy())
    assert np.all(np.diff(contributions["recency_days"].to_numpy()[order]) >= -1e-12)
    metrics = publish.selection_metrics(manifest.selection)
    assert metrics["selection/recency/brier"] < metrics["selection/lightgbm/brier"]


@pytest.mark.parametrize(("metric", "margin"), [("roc_auc", 0.0), ("brier", float("nan"))])
def test_check_rule_rejects_bad_settings(metric: str, margin: float) -> None:
    with pytest.raises(ConfigError, match=r"train\.selection"):
        candidates.check_rule(metric, margin)


def test_model_card_says_what_was_chosen_and_why(outcome: training.TrainingOutcome) -> None:
    from churn.reports.summaries import deployed_name, selection_text

    text = selection_text(outcome.evaluation.selection)

    assert text.startswith("recency: lowest validation brier")
    assert "on the calibration cutoff" in text
    assert text.index("recency 0.") < text.index("lightgbm 0.")  # sorted, best first
    assert selection_text(None).startswith("not recorded")
    assert deployed_name("bgnbd") == "the BG/NBD baseline"


@pytest.mark.parametrize(("margin", "chosen"), [(0.0, "recency"), (0.05, "lightgbm")])
def test_select_prefers_lightgbm_within_the_margin(margin: float, chosen: str) -> None:
    rng = np.random.default_rng(0)
    truth = rng.uniform(0.05, 0.95, 4000)
    y = (rng.random(truth.size) < truth).astype(int)
    noisy = np.clip(truth + rng.normal(0, 0.15, truth.size), 0, 1)  # Brier about 0.02 worse

    selection = candidates.select(
        {"lightgbm": noisy, "recency": truth},
        y,
        metric="brier",
        margin=margin,
        validation="a test",
        unavailable={"bgnbd": "off"},
    )

    assert selection.chosen == chosen
    assert selection.rows == truth.size
    assert [c.name for c in selection.candidates] == ["lightgbm", "recency"]
    assert selection.reason.endswith("; bgnbd not a candidate: off")

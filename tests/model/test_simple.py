"""Deployed baselines: stored as model.json alone, reloaded to the same scores and reasons."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.special import logit

from churn import baselines, bundle, candidates, model, reasons
from churn.errors import BundleError
from churn.features import FeatureConfig
from churn.labels import LabelConfig
from churn.model import simple


@pytest.fixture(scope="module")
def rows(small_training_table: pd.DataFrame) -> pd.DataFrame:
    latest = sorted(small_training_table["cutoff"].unique())[-4:-1]
    return small_training_table[small_training_table["cutoff"].isin(latest)]


@pytest.fixture(scope="module")
def features(small_training_table: pd.DataFrame) -> list[str]:
    return model.feature_columns(list(small_training_table.columns))


@pytest.fixture(scope="module")
def scorers(rows: pd.DataFrame, features: list[str]) -> dict[str, model.ChurnModel]:
    fitted = baselines.fit_baselines(rows, rows[model.LABEL].to_numpy(), horizon_days=90)
    stored, why = candidates.deployable_baselines(
        fitted,
        rows,
        features,
        horizon_days=90,
        time_unit_days=7.0,
        penalizer=0.001,
        latest=rows["cutoff"].max(),
    )
    assert why == {}
    return stored


@pytest.mark.parametrize("kind", simple.KINDS)
def test_baseline_round_trips_through_model_json(
    kind: str, scorers: dict[str, model.ChurnModel], rows: pd.DataFrame, tmp_path: Path
) -> None:
    stored = scorers[kind]

    names = stored.save(tmp_path)
    loaded = model.ChurnModel.load(tmp_path)

    assert names == [model.MODEL_JSON]
    assert sorted(p.name for p in tmp_path.iterdir()) == names
    assert json.loads((tmp_path / model.MODEL_JSON).read_text())["kind"] == kind
    assert loaded == stored
    p = loaded.predict_proba(rows)[:, 1]
    np.testing.assert_array_equal(p, stored.predict_proba(rows)[:, 1])
    assert ((p >= 0) & (p <= 1)).all()


@pytest.mark.parametrize("kind", simple.KINDS)
def test_baseline_contributions_add_up_to_the_log_odds(
    kind: str, scorers: dict[str, model.ChurnModel], rows: pd.DataFrame
) -> None:
    stored = scorers[kind]

    contrib = stored.contributions(rows)

    p = np.clip(stored.predict_proba(rows)[:, 1], 1e-6, 1 - 1e-6)
    np.testing.assert_allclose(contrib.sum(axis=1), logit(p), atol=1e-6)
    assert set(contrib.columns) - {"bias"} <= set(stored.encode(rows).columns)
    words = reasons.top_reasons(contrib.drop(columns="bias"), rows, n=3)
    assert words["reason_1"].notna().mean() > 0.3  # plain words for those pushed up


def test_recency_and_rfm_match_the_fitted_baselines(
    scorers: dict[str, model.ChurnModel], rows: pd.DataFrame
) -> None:
    fitted = baselines.fit_baselines(rows, rows[model.LABEL].to_numpy(), horizon_days=90)

    for name in ("recency", "rfm_logistic"):
        assert model.largest_difference(scorers[name], fitted[name], rows) < 1e-9


def test_bgnbd_serves_the_feature_and_imputes_a_missing_one(
    scorers: dict[str, model.ChurnModel], rows: pd.DataFrame, caplog: pytest.LogCaptureFixture
) -> None:
    stored = scorers["bgnbd"]
    assert stored.simple is not None
    gap = rows.assign(btyd_p_no_purchase=np.nan).head(3)

    np.testing.assert_array_equal(stored.predict_proba(rows)[:, 1], rows["btyd_p_no_purchase"])
    assert (stored.predict_proba(gap)[:, 1] == stored.simple.to_dict()["fallback"]).all()
    assert "3 of 3 rows have no btyd_p_no_purchase" in caplog.text


def test_baseline_bundle_verifies_and_refuses_a_changed_file(
    scorers: dict[str, model.ChurnModel], features: list[str], tmp_path: Path
) -> None:
    manifest = bundle.Manifest(
        name="churn",
        created_at="2026-01-01T00:00:00+00:00",
        data_end="2026-01-01",
        model=bundle.ModelSpec(kind="recency", files={}),
        features=tuple(bundle.FeatureSpec(name, "float64") for name in features),
        training=bundle.TrainingSettings(LabelConfig(), FeatureConfig(), "isotonic"),
    )

    saved = bundle.save(scorers["recency"], manifest, tmp_path / "b")
    loaded = bundle.load(saved.path)

    assert saved.manifest.model.kind == "recency"
    assert list(saved.manifest.model.files) == [model.MODEL_JSON]
    assert loaded.model == scorers["recency"]
    text = (saved.path / model.MODEL_JSON).read_text()
    (saved.path / model.MODEL_JSON).write_text(text.replace('"reference"', '"reference" '))
    with pytest.raises(BundleError, match="sha256"):
        bundle.load(saved.path)


@pytest.mark.parametrize(
    ("kind", "scorer", "message"),
    [
        ("recency", {"x": [2.0, 1.0], "y": [0.1, 0.2], "reference": 1.0}, "x ascending"),
        ("rfm_logistic", {"means": [0.0], "scales": [1.0], "coefficients": [1.0]}, "expected 4"),
        ("bgnbd", {"params": None}, "expected params"),
        ("coin", {}, "expected a model of kind"),
    ],
)
def test_load_refuses_a_malformed_baseline(
    kind: str, scorer: dict[str, object], message: str, tmp_path: Path
) -> None:
    description = {"format_version": 1, "kind": kind, "features": ["x"], "scorer": scorer}
    (tmp_path / model.MODEL_JSON).write_text(json.dumps(description))

    with pytest.raises(ValueError, match=message):
        model.ChurnModel.load(tmp_path)


def test_from_scorer_refuses_missing_inputs() -> None:
    scorer = simple.RecencyScorer((0.0, 10.0), (0.1, 0.9), 5.0)

    with pytest.raises(ValueError, match="needs \\['recency_days'\\]"):
        model.ChurnModel.from_scorer(scorer, ["frequency"])

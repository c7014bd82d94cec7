"""The uplift model store: versions, the gate's champion, digests checked on load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from churn.errors import BundleError
from churn.uplift.evaluation import Evaluation, fit
from churn.uplift.history import model_inputs
from churn.uplift.learners import UpliftModel
from churn.uplift.settings import UpliftConfig
from churn.uplift.store import UpliftStore
from churn.uplift.training import UpliftTraining, store_uplift
from tests.uplift.campaigns import planted

CONFIG = UpliftConfig.from_mapping(
    {
        "features": ["recency_days", "frequency"],
        "min_rows_per_offer": 50,
        "learner": "t",
        "params": {"n_estimators": 20},
    }
)


@pytest.fixture(scope="module")
def model() -> UpliftModel:
    return fit([planted("2025-01-01", 1000)], CONFIG, seed=0)


def _trained(model: UpliftModel, *, passed: bool) -> UpliftTraining:
    gate = Evaluation(("2025-02-01",), ("2025-01-01",), {}, 0.1, 0.0, passed, "test gate")
    return UpliftTraining("trained", "test gate", model, gate, {"features": list(model.features)})


def test_store_uplift_passed_becomes_champion_and_loads_the_same_model(
    tmp_path: Path, model: UpliftModel
) -> None:
    config = UpliftConfig.from_mapping({**CONFIG.to_dict(), "model_dir": str(tmp_path / "u")})
    assert store_uplift(_trained(model, passed=True), config) == 1
    store = UpliftStore(tmp_path / "u")
    assert store.champion == 1
    assert store.latest == 1
    loaded = store.load()
    assert loaded.version == 1
    assert loaded.manifest["format"] == 1
    x = model_inputs(planted("2025-03-01", 200, seed=3).rows, model.features)
    np.testing.assert_allclose(loaded.model.predict(x, "call"), model.predict(x, "call"))
    assert not any(p.suffix in (".pkl", ".joblib", ".pickle") for p in store.path(1).iterdir())


def test_store_uplift_failed_gate_is_kept_but_not_served(
    tmp_path: Path, model: UpliftModel
) -> None:
    config = UpliftConfig.from_mapping({**CONFIG.to_dict(), "model_dir": str(tmp_path / "u")})
    store_uplift(_trained(model, passed=True), config)
    assert store_uplift(_trained(model, passed=False), config) == 2
    store = UpliftStore(tmp_path / "u")
    assert store.champion == 1
    assert store.latest == 2
    assert [m["champion"] for m in store.manifests()] == [True, False]


def test_store_uplift_without_a_model_stores_nothing(tmp_path: Path) -> None:
    config = UpliftConfig.from_mapping({**CONFIG.to_dict(), "model_dir": str(tmp_path / "u")})
    assert store_uplift(UpliftTraining("insufficient_history", "none"), config) is None
    assert not (tmp_path / "u").exists()


def test_uplift_store_without_champion_says_so(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="no champion"):
        UpliftStore(tmp_path / "u").load()


def test_uplift_store_changed_file_is_refused(tmp_path: Path, model: UpliftModel) -> None:
    store = UpliftStore(tmp_path / "u")
    number = store.add_model(model, {"features": list(model.features)})
    store.promote(number, reason="test")
    booster = next(p for p in store.path(number).iterdir() if p.name != "manifest.json")
    booster.write_text(booster.read_text() + "\n", encoding="utf-8")
    with pytest.raises(BundleError, match="does not match the digest"):
        store.load()

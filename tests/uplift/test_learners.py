"""T- and X-learners on planted uplift: offer "a" keeps customers with x1 > 0.5, "b" everyone."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churn.errors import ConfigError, DataError
from churn.uplift import LEARNERS, UpliftModel, UpliftParams, fit_uplift, qini_coefficient

PARAMS = UpliftParams(n_estimators=60, learning_rate=0.1)
ARMS = np.array([None, "a", "b"], dtype=object)


def _world(n: int, seed: int) -> tuple[pd.DataFrame, pd.Series, np.ndarray]:
    """Churn 0.5 without an offer; "a" cuts it by 0.3 where x1 > 0.5, "b" by 0.1 everywhere."""
    rng = np.random.default_rng(seed)
    features = pd.DataFrame(
        {"x1": rng.random(n), "x2": rng.random(n), "x3": rng.normal(size=n)},
        index=pd.RangeIndex(1000, 1000 + n),
    )
    arm = rng.choice(ARMS, size=n)
    p = np.full(n, 0.5)
    p[arm == "a"] -= 0.3 * (features["x1"].to_numpy()[arm == "a"] > 0.5)
    p[arm == "b"] -= 0.1
    churned = (rng.random(n) < p).astype(int)
    return features, pd.Series(arm, index=features.index, name="treatment"), churned


@pytest.fixture(scope="module")
def train() -> tuple[pd.DataFrame, pd.Series, np.ndarray]:
    return _world(4500, seed=0)


@pytest.fixture(scope="module")
def fresh() -> tuple[pd.DataFrame, pd.Series, np.ndarray]:
    return _world(6000, seed=1)


@pytest.fixture(scope="module", params=[(k, p) for k in LEARNERS for p in (True, False)])
def model(
    request: pytest.FixtureRequest, train: tuple[pd.DataFrame, pd.Series, np.ndarray]
) -> UpliftModel:
    learner, per_offer = request.param
    features, treatment, churned = train
    return fit_uplift(
        features, treatment, churned, learner=learner, per_offer=per_offer, params=PARAMS
    )


def test_fit_uplift_finds_where_offer_a_works(
    model: UpliftModel, fresh: tuple[pd.DataFrame, pd.Series, np.ndarray]
) -> None:
    features, _, _ = fresh
    uplift = model.predict(features, "a")
    high = features["x1"].to_numpy() > 0.5
    assert uplift[high].mean() - uplift[~high].mean() > 0.15


def test_fit_uplift_ranks_better_than_chance(
    model: UpliftModel, fresh: tuple[pd.DataFrame, pd.Series, np.ndarray]
) -> None:
    features, treatment, churned = fresh
    rows = (treatment.isna() | (treatment == "a")).to_numpy()
    treated = (treatment[rows] == "a").to_numpy()
    score = model.predict(features[rows], "a")
    chance = np.random.default_rng(7).random(int(rows.sum()))
    learned = qini_coefficient(score, churned[rows], treated)
    assert learned > qini_coefficient(chance, churned[rows], treated) + 0.01


def test_fit_uplift_offer_b_near_its_planted_uplift(
    model: UpliftModel, fresh: tuple[pd.DataFrame, pd.Series, np.ndarray]
) -> None:
    assert model.predict(fresh[0], "b").mean() == pytest.approx(0.1, abs=0.05)


def test_predict_all_one_column_per_offer(
    model: UpliftModel, fresh: tuple[pd.DataFrame, pd.Series, np.ndarray]
) -> None:
    features = fresh[0]
    table = model.predict_all(features)
    assert list(table.columns) == ["a", "b"]
    assert table.index.equals(features.index)
    assert (table.dtypes == np.float64).all()
    np.testing.assert_array_equal(table["b"], model.predict(features, "b"))


def test_predict_columns_in_another_order_same_uplift(
    model: UpliftModel, fresh: tuple[pd.DataFrame, pd.Series, np.ndarray]
) -> None:
    features = fresh[0].head(200)
    shuffled = features[["x3", "x1", "x2"]].assign(extra="ignored")
    np.testing.assert_array_equal(model.predict(shuffled, "a"), model.predict(features, "a"))


def test_to_files_round_trip_same_predictions(
    model: UpliftModel, fresh: tuple[pd.DataFrame, pd.Series, np.ndarray], tmp_path: Path
) -> None:
    written = model.to_files(tmp_path / "uplift")
    assert sorted(written) == sorted(p.name for p in (tmp_path / "uplift").iterdir())
    assert "uplift.json" in written
    assert all(name.endswith(".txt") for name in written if name != "uplift.json")
    for name in written:  # text only: LightGBM's model format and JSON, no pickle
        (tmp_path / "uplift" / name).read_bytes().decode("utf-8")
    loaded = UpliftModel.from_files(tmp_path / "uplift")
    assert (loaded.learner, loaded.per_offer) == (model.learner, model.per_offer)
    assert (loaded.offers, loaded.features, loaded.g) == (model.offers, model.features, model.g)
    np.testing.assert_allclose(
        loaded.predict_all(fresh[0]), model.predict_all(fresh[0]), rtol=1e-12
    )


@pytest.mark.parametrize("learner", LEARNERS)
def test_fit_uplift_same_seed_same_predictions(
    learner: str, train: tuple[pd.DataFrame, pd.Series, np.ndarray]
) -> None:
    features, treatment, churned = train
    runs = [
        fit_uplift(features, treatment, churned, learner=learner, params=PARAMS, seed=3)
        for _ in range(2)
    ]
    np.testing.assert_array_equal(runs[0].predict(features, "a"), runs[1].predict(features, "a"))


def test_fit_uplift_x_learner_g_is_treated_share(
    train: tuple[pd.DataFrame, pd.Series, np.ndarray],
) -> None:
    features, treatment, churned = train
    weights = np.where(treatment.isna(), 2.0, 1.0)
    model = fit_uplift(features, treatment, churned, weights=weights, learner="x", params=PARAMS)
    n_a, n_control = (treatment == "a").sum(), treatment.isna().sum()
    assert model.g["a"] == pytest.approx(n_a / (n_a + 2 * n_control))


def test_fit_uplift_too_few_treated_rows_skips_offer(
    train: tuple[pd.DataFrame, pd.Series, np.ndarray],
    caplog: pytest.LogCaptureFixture,
) -> None:
    features, treatment, churned = train
    rare = treatment.copy()
    rare.iloc[:12] = "rare"
    with caplog.at_level("WARNING", logger="churn.uplift.learners"):
        model = fit_uplift(features, rare, churned, learner="x", params=PARAMS)
    assert model.offers == ("a", "b")
    assert model.skipped == {"rare": "12 treated rows, fewer than min_rows=50"}
    assert "skipping offer 'rare'" in caplog.text
    with pytest.raises(DataError, match=r"fitted offers \['a', 'b'\]; got 'rare' \(skipped"):
        model.predict(features, "rare")
    with pytest.raises(DataError, match="got 'unknown'"):
        model.predict(features, "unknown")


def test_fit_uplift_pooled_model_leaves_skipped_rows_out(
    train: tuple[pd.DataFrame, pd.Series, np.ndarray],
    fresh: tuple[pd.DataFrame, pd.Series, np.ndarray],
) -> None:
    features, treatment, churned = train
    rare = treatment.copy()
    rare.iloc[:12] = "rare"
    model = fit_uplift(features, rare, churned, per_offer=False, params=PARAMS)
    kept = (rare != "rare").to_numpy()
    without = fit_uplift(features[kept], rare[kept], churned[kept], per_offer=False, params=PARAMS)
    assert model.skipped.keys() == {"rare"}
    np.testing.assert_array_equal(model.predict(fresh[0], "b"), without.predict(fresh[0], "b"))


def test_fit_uplift_no_offer_left_raises(
    train: tuple[pd.DataFrame, pd.Series, np.ndarray],
) -> None:
    features, _, churned = train
    few = pd.Series(None, index=features.index, dtype=object)
    few.iloc[:20] = "a"
    with pytest.raises(DataError, match=r"expected an offer with at least min_rows=50 .*'a': '20"):
        fit_uplift(features, few, churned, params=PARAMS)


def test_fit_uplift_no_control_rows_raises(
    train: tuple[pd.DataFrame, pd.Series, np.ndarray],
) -> None:
    features, treatment, churned = train
    with pytest.raises(DataError, match="fit_uplift: no control rows: "):
        fit_uplift(features, treatment.fillna("a"), churned, params=PARAMS)


def test_fit_uplift_too_few_control_rows_raises(
    train: tuple[pd.DataFrame, pd.Series, np.ndarray],
) -> None:
    features, treatment, churned = train
    few = treatment.where(treatment.notna() | (np.arange(len(treatment)) < 30), "a")
    with pytest.raises(DataError, match=r"fit_uplift: [0-9]+ control rows: expected at least"):
        fit_uplift(features, few, churned, params=PARAMS)


def test_fit_uplift_int_bool_and_missing_values_fit(
    train: tuple[pd.DataFrame, pd.Series, np.ndarray],
) -> None:
    features, treatment, churned = train
    mixed = features.assign(
        x2=features["x2"].mask(features["x2"] < 0.2),
        count=(features["x3"] * 3).round().astype("int64"),
        flag=features["x3"] > 0,
    )
    model = fit_uplift(mixed, treatment, churned, learner="x", params=PARAMS)
    assert model.features == ("x1", "x2", "x3", "count", "flag")
    assert np.isfinite(model.predict_all(mixed).to_numpy()).all()


def test_fit_uplift_non_numeric_column_raises(
    train: tuple[pd.DataFrame, pd.Series, np.ndarray],
) -> None:
    features, treatment, churned = train
    with pytest.raises(DataError, match="column 'segment' is"):
        fit_uplift(features.assign(segment="gold"), treatment, churned, params=PARAMS)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("churned", [0, 1], "expected churned of length 4500"),
        ("churned", np.full(4500, 2), r"expected churned in \{0, 1\}"),
        ("weights", np.full(4500, -1.0), "expected finite weights >= 0"),
        ("weights", np.full(4500, np.nan), "expected finite weights >= 0"),
        ("treatment", pd.Series(["a"] * 4500), "expected treatment to have the features' index"),
        ("treatment", np.arange(4500.0), "expected treatment to hold offer names"),
    ],
)
def test_fit_uplift_bad_input_raises(
    train: tuple[pd.DataFrame, pd.Series, np.ndarray], name: str, value: object, message: str
) -> None:
    features, treatment, churned = train
    inputs: dict[str, object] = {"treatment": treatment, "churned": churned, "weights": None}
    inputs[name] = value
    with pytest.raises(DataError, match=f"fit_uplift: {message}"):
        fit_uplift(features, params=PARAMS, **inputs)  # type: ignore[arg-type]


def test_fit_uplift_unknown_learner_raises(
    train: tuple[pd.DataFrame, pd.Series, np.ndarray],
) -> None:
    with pytest.raises(ConfigError, match=r"learner in \('t', 'x'\); got 's'"):
        fit_uplift(*train, learner="s")


def test_uplift_params_impossible_values_raise() -> None:
    with pytest.raises(ConfigError, match=re.escape("got {'num_leaves': 1, 'subsample': 0.0}")):
        UpliftParams(subsample=0.0, num_leaves=1)


def test_predict_missing_column_raises(
    model: UpliftModel, fresh: tuple[pd.DataFrame, pd.Series, np.ndarray]
) -> None:
    with pytest.raises(DataError, match=r"missing \['x2'\]"):
        model.predict(fresh[0].drop(columns="x2"), "a")


def test_from_files_missing_or_malformed_files_raise(model: UpliftModel, tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"uplift\.json is missing"):
        UpliftModel.from_files(tmp_path / "nothing")
    written = model.to_files(tmp_path / "m")
    (tmp_path / "m" / written[0]).unlink()
    with pytest.raises(DataError, match=f"{written[0]} is missing"):
        UpliftModel.from_files(tmp_path / "m")
    (tmp_path / "m" / "uplift.json").write_text('{"learner": "t"}', encoding="utf-8")
    with pytest.raises(DataError, match="missing or malformed fields"):
        UpliftModel.from_files(tmp_path / "m")
    (tmp_path / "m" / "uplift.json").write_text("not json", encoding="utf-8")
    with pytest.raises(DataError, match="is not JSON"):
        UpliftModel.from_files(tmp_path / "m")


@pytest.mark.parametrize(("rows", "fitted"), [(49, False), (50, True)])
def test_fit_uplift_min_rows_is_the_boundary(
    train: tuple[pd.DataFrame, pd.Series, np.ndarray], rows: int, fitted: bool
) -> None:
    features, treatment, churned = train
    rare = treatment.copy()
    rare.iloc[:rows] = "rare"
    model = fit_uplift(features, rare, churned, learner="t", params=PARAMS, min_rows=50)
    assert ("rare" in model.offers) is fitted
    assert ("rare" in model.skipped) is not fitted

"""Customer-grouped cross-fitted calibration: folds, out-of-fold scores, calibrators."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from churn import model
from churn.errors import ConfigError, DataError
from tests.model.test_model import FEATURES, SMALL, _planted


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    """Two cutoffs of the same customers, so every customer has several rows."""
    first = _planted(800, seed=5)
    second = _planted(800, seed=6).assign(
        cutoff=pd.Timestamp("2024-12-01"), customer_id=first["customer_id"]
    )
    return pd.concat([first, second], ignore_index=True).sort_values(list(model.KEY_COLUMNS))


def test_customer_folds_group_customers_whatever_the_row_order(rows: pd.DataFrame) -> None:
    folds = model.customer_folds(rows["customer_id"], n_folds=4, seed=0)
    shuffled = rows.sample(frac=1.0, random_state=1)
    again = model.customer_folds(shuffled["customer_id"], n_folds=4, seed=0)

    by_customer = pd.Series(folds, index=rows.index).groupby(rows["customer_id"]).nunique()
    assert (by_customer == 1).all()
    assert sorted(set(folds.tolist())) == [0, 1, 2, 3]
    pd.testing.assert_series_equal(
        pd.Series(folds, index=rows.index), pd.Series(again, index=shuffled.index).loc[rows.index]
    )
    with pytest.raises(ConfigError, match="calibration_folds: expected >= 2"):
        model.customer_folds(rows["customer_id"], n_folds=1, seed=0)
    with pytest.raises(DataError, match="at least 5 customers for 5 folds; got 3"):
        model.customer_folds(pd.Series(["a", "b", "c"]), n_folds=5, seed=0)


def test_cross_fit_scores_each_customer_without_its_own_rows(rows: pd.DataFrame) -> None:
    crossed = model.cross_fit(rows, FEATURES, SMALL, method="isotonic", n_folds=4, seed=0)

    # one customer's outcome changes: its own out-of-fold scores do not, as no model that
    # scores it has seen its rows
    customer = rows["customer_id"].iloc[0]
    mine = (rows["customer_id"] == customer).to_numpy()
    flipped = rows.assign(churned=np.where(mine, 1 - rows["churned"], rows["churned"]))
    changed = model.cross_fit(flipped, FEATURES, SMALL, method="isotonic", n_folds=4, seed=0)
    np.testing.assert_array_equal(changed.raw[mine], crossed.raw[mine])
    assert not np.array_equal(changed.raw[~mine], crossed.raw[~mine])
    # each fold is calibrated by a calibrator fitted on the other folds' rows only
    y = rows["churned"].to_numpy()
    for k in range(4):
        held = crossed.folds == k
        others = model.fit_calibrator(crossed.raw[~held], y[~held], method="isotonic")
        assert others is not None
        np.testing.assert_allclose(crossed.calibrated[held], others.apply(crossed.raw[held]))
    assert crossed.calibrator == model.fit_calibrator(crossed.raw, y, method="isotonic")
    assert np.isfinite(crossed.raw).all()


def test_cross_fit_is_deterministic_for_a_seed(rows: pd.DataFrame) -> None:
    one = model.cross_fit(rows, FEATURES, SMALL, method="sigmoid", n_folds=3, seed=7)
    two = model.cross_fit(rows, FEATURES, SMALL, method="sigmoid", n_folds=3, seed=7)
    other = model.cross_fit(rows, FEATURES, SMALL, method="sigmoid", n_folds=3, seed=8)

    np.testing.assert_array_equal(one.raw, two.raw)
    assert one.calibrator == two.calibrator
    assert not np.array_equal(one.folds, other.folds)


def test_cross_fit_needs_both_classes_outside_each_fold() -> None:
    rows = _planted(60, seed=1).assign(churned=0)
    rows.loc[rows.index[:1], "churned"] = 1
    with pytest.raises(DataError, match="of one class only"):
        model.cross_fit(rows, FEATURES, SMALL, method="isotonic", n_folds=3, seed=0)


def test_fit_calibrator_methods() -> None:
    rng = np.random.default_rng(0)
    scores = rng.normal(size=20_000)
    y = (rng.random(scores.size) < expit(2.0 * scores - 0.5)).astype(int)

    sigmoid = model.fit_calibrator(scores, y, method="sigmoid")
    isotonic = model.fit_calibrator(scores, y, method="isotonic")

    assert sigmoid is not None
    assert isotonic is not None
    assert sigmoid.a == pytest.approx(-2.0, abs=0.1)
    assert sigmoid.b == pytest.approx(0.5, abs=0.1)
    grid = np.linspace(-3, 3, 50)
    assert (np.diff(isotonic.apply(grid)) >= 0).all()
    assert model.fit_calibrator(scores, y, method="none") is None
    with pytest.raises(DataError, match="both classes"):
        model.fit_calibrator(scores, np.zeros_like(y), method="sigmoid")
    with pytest.raises(ConfigError, match=r"calibration\.method"):
        model.fit_calibrator(scores, y, method="beta")


def test_with_calibrator_serves_the_calibrated_log_odds(rows: pd.DataFrame, tmp_path: Path) -> None:
    fitted = model.fit_lightgbm(rows, FEATURES, SMALL, seed=0)
    plain = model.ChurnModel.from_fitted(fitted.pipeline)
    calibrator = model.Calibrator("sigmoid", a=-1.5, b=0.2)

    served = model.with_calibrator(plain, calibrator)
    served.save(tmp_path)
    loaded = model.ChurnModel.load(tmp_path)

    raw = plain.booster_output(rows, raw_score=True)
    expected = calibrator.apply(raw)
    np.testing.assert_allclose(served.predict_proba(rows[FEATURES])[:, 1], expected)
    np.testing.assert_allclose(loaded.predict_proba(rows[FEATURES])[:, 1], expected)
    assert model.with_calibrator(plain, None).calibration == "none"


def test_an_offset_moves_the_log_odds_and_survives_a_reload(
    rows: pd.DataFrame, tmp_path: Path
) -> None:
    import dataclasses
    import json

    from scipy.special import logit

    fitted = model.fit_lightgbm(rows, FEATURES, SMALL, seed=0)
    plain = model.with_calibrator(
        model.ChurnModel.from_fitted(fitted.pipeline), model.Calibrator("sigmoid", a=-1.0)
    )
    shifted = dataclasses.replace(plain, offset=-0.3)
    shifted.save(tmp_path)
    loaded = model.ChurnModel.load(tmp_path)
    before = plain.predict_proba(rows[FEATURES])[:, 1]
    np.testing.assert_allclose(
        logit(loaded.predict_proba(rows[FEATURES])[:, 1]), logit(before) - 0.3, atol=1e-9
    )
    path = tmp_path / "model.json"
    values = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps(values).replace('"offset": -0.3', '"offset": NaN'), encoding="utf-8")
    with pytest.raises(ValueError, match="offset: expected a finite log-odds"):
        model.ChurnModel.load(tmp_path)

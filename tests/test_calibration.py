"""Calibration on top of a frozen model: better probabilities, same ranking, no refit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score

from churn.calibration import METHODS, calibrate, validate_method
from churn.errors import ConfigError, DataError
from churn.evaluation import expected_calibration_error

# The squashed model's scores span only about 0.30-0.42, so the default ten bins would put
# nearly every row into one bin and hide the miscalibration; fine bins expose it.
ECE_BINS = 50


def _data(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    logit = 2.0 * x[:, 0] - 1.0 * x[:, 1] - 1.0
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(int)
    return pd.DataFrame(x, columns=["a", "b", "c"]), y


@pytest.fixture(scope="module")
def squashed() -> LogisticRegression:
    """Ranks well, but the strong penalty pulls every probability toward the base rate."""
    frame, y = _data(2000, seed=0)
    return LogisticRegression(C=1e-4).fit(frame, y)


@pytest.mark.parametrize("method", ["isotonic", "sigmoid"])
def test_calibrate_improves_probabilities_on_held_out_rows(
    squashed: LogisticRegression, method: str
) -> None:
    cal_frame, cal_y = _data(2000, seed=1)
    test_frame, test_y = _data(4000, seed=2)
    coef, intercept = squashed.coef_.copy(), squashed.intercept_.copy()
    raw = squashed.predict_proba(test_frame)[:, 1]

    calibrated = calibrate(squashed, cal_frame, cal_y, method=method)
    p = calibrated.predict_proba(test_frame)[:, 1]

    assert ((p >= 0) & (p <= 1)).all()
    assert brier_score_loss(test_y, p) < 0.75 * brier_score_loss(test_y, raw)
    raw_ece = expected_calibration_error(test_y, raw, n_bins=ECE_BINS)
    assert expected_calibration_error(test_y, p, n_bins=ECE_BINS) < 0.5 * raw_ece
    assert roc_auc_score(test_y, p) == pytest.approx(roc_auc_score(test_y, raw), abs=0.01)
    np.testing.assert_array_equal(squashed.coef_, coef)
    np.testing.assert_array_equal(squashed.intercept_, intercept)
    np.testing.assert_array_equal(squashed.predict_proba(test_frame)[:, 1], raw)


def test_calibrate_none_returns_same_model(squashed: LogisticRegression) -> None:
    frame, y = _data(50, seed=3)

    assert calibrate(squashed, frame, y, method="none") is squashed


@pytest.mark.parametrize("labels", [np.zeros(200, dtype=int), np.ones(200, dtype=int)])
def test_calibrate_rejects_single_class(squashed: LogisticRegression, labels: np.ndarray) -> None:
    frame, _ = _data(200, seed=4)

    with pytest.raises(DataError, match=r"both classes; got 200 rows"):
        calibrate(squashed, frame, labels, method="isotonic")


def test_calibrate_rejects_no_rows(squashed: LogisticRegression) -> None:
    frame, _ = _data(1, seed=5)

    with pytest.raises(DataError, match=r"got 0 rows"):
        calibrate(squashed, frame.iloc[:0], np.array([], dtype=int), method="sigmoid")


def test_calibrate_rejects_unknown_method(squashed: LogisticRegression) -> None:
    frame, y = _data(200, seed=6)

    with pytest.raises(ConfigError, match=r"calibration\.method: expected one of"):
        calibrate(squashed, frame, y, method="platt")


@pytest.mark.parametrize("method", METHODS)
def test_validate_method_accepts_known_methods(method: str) -> None:
    assert validate_method(method) == method


@pytest.mark.parametrize("method", ["", "Isotonic", "beta"])
def test_validate_method_rejects_unknown_method(method: str) -> None:
    with pytest.raises(ConfigError, match=rf"got {method!r}"):
        validate_method(method)

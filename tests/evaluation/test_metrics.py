"""Scorer metrics against hand-worked examples and scikit-learn."""

from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.calibration import calibration_curve
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    log_loss,
    roc_auc_score,
)

from churn import evaluation

KEYS = [
    "roc_auc",
    "pr_auc",
    "brier",
    "log_loss",
    "ece",
    "lift_top5",
    "capture_top5",
    "lift_top10",
    "capture_top10",
    "lift_top20",
    "capture_top20",
    "n_rows",
    "churn_rate",
    "mean_p",
]


def _scored(n: int = 600, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Labels with a planted signal: ``p`` is the true churn probability of each row."""
    rng = np.random.default_rng(seed)
    p = 1.0 / (1.0 + np.exp(-rng.normal(-1.0, 1.5, n)))
    y = (rng.random(n) < p).astype(int)
    return y, p


# --- expected_calibration_error --------------------------------------------------------------


def test_expected_calibration_error_hand_example() -> None:
    # bin [0, 0.5): mean p 0.1, churn rate 0.5 -> 0.5 * 0.4; bin [0.5, 1]: 0.75 vs 0.5 -> 0.5 * 0.25
    y = [0, 1, 0, 1]
    p = [0.05, 0.15, 0.62, 0.88]
    assert evaluation.expected_calibration_error(y, p, n_bins=2) == pytest.approx(0.325)


def test_expected_calibration_error_probability_one_in_last_bin() -> None:
    # Together in [0.9, 1]: |0.975 - 0.5| = 0.475 (a separate bin for 1.0 would give 0.525).
    ece = evaluation.expected_calibration_error([0, 1], [1.0, 0.95], n_bins=10)
    assert ece == pytest.approx(0.475)


def test_expected_calibration_error_agrees_with_sklearn_calibration_curve() -> None:
    y, p = _scored(n=2000, seed=3)
    observed, predicted = calibration_curve(y, p, n_bins=10, strategy="uniform")
    counts = np.histogram(p, bins=np.linspace(0, 1, 11))[0]
    expected = np.sum(counts[counts > 0] / y.size * np.abs(predicted - observed))
    assert evaluation.expected_calibration_error(y, p, n_bins=10) == pytest.approx(expected)


def test_expected_calibration_error_rejects_zero_bins() -> None:
    with pytest.raises(ValueError, match=r"expected_calibration_error: n_bins must be .* got 0"):
        evaluation.expected_calibration_error([0, 1], [0.2, 0.8], n_bins=0)


# --- lift_and_capture ------------------------------------------------------------------------


def test_lift_and_capture_hand_example() -> None:
    # 10 rows, 4 churners; the top 20% (2 rows) are both churners: 2 of 4 captured, and their
    # churn rate 2/2 is 2.5 times the overall rate 4/10.
    y = [1, 1, 0, 0, 1, 0, 0, 1, 0, 0]
    p = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0]
    lift, capture = evaluation.lift_and_capture(y, p, fraction=0.2)
    assert capture == pytest.approx(0.5)
    assert lift == pytest.approx((2 / 2) / (4 / 10))
    # the top half holds 3 churners: rate 3/5 over 4/10
    assert evaluation.lift_and_capture(y, p, fraction=0.5) == pytest.approx((1.5, 0.75))


def test_lift_and_capture_ties_keep_input_order() -> None:
    # All scores tie: the top 2 are the first two rows, whatever their labels.
    assert evaluation.lift_and_capture([0, 1, 0, 1], [0.5] * 4, fraction=0.5) == (1.0, 0.5)
    assert evaluation.lift_and_capture([1, 1, 0, 0], [0.5] * 4, fraction=0.5) == (2.0, 1.0)


def test_lift_and_capture_top_k_ignores_rounding_noise() -> None:
    # 0.1 * 30 is 3.0000000000000004 in floating point; the top 10% of 30 rows is 3 rows.
    y = [1, 1, 1, 1] + [0] * 26
    p = np.linspace(1, 0, 30)
    _, capture = evaluation.lift_and_capture(y, p, fraction=0.1)
    assert capture == pytest.approx(3 / 4)


def test_lift_and_capture_at_least_one_row() -> None:
    lift, capture = evaluation.lift_and_capture([1, 0, 0, 0], [0.9, 0.1, 0.2, 0.3], fraction=0.01)
    assert (lift, capture) == (4.0, 1.0)


def test_lift_and_capture_nan_without_churners() -> None:
    lift, capture = evaluation.lift_and_capture([0, 0, 0], [0.1, 0.5, 0.9], fraction=0.5)
    assert math.isnan(lift)
    assert math.isnan(capture)


@pytest.mark.parametrize("fraction", [0.0, -0.1, 1.5, math.nan])
def test_lift_and_capture_rejects_bad_fraction(fraction: float) -> None:
    with pytest.raises(ValueError, match=r"lift_and_capture: fraction must lie in \(0, 1\]"):
        evaluation.lift_and_capture([0, 1], [0.2, 0.8], fraction=fraction)


# --- classification_metrics ------------------------------------------------------------------


def test_classification_metrics_keys_and_counts() -> None:
    y, p = _scored()
    metrics = evaluation.classification_metrics(pd.Series(y), list(p))
    assert list(metrics) == KEYS
    assert metrics["n_rows"] == 600
    assert metrics["churn_rate"] == pytest.approx(y.mean())
    assert metrics["mean_p"] == pytest.approx(p.mean())


def test_classification_metrics_agree_with_sklearn() -> None:
    y, p = _scored(n=1000, seed=2)
    metrics = evaluation.classification_metrics(y, p)
    assert metrics["roc_auc"] == pytest.approx(roc_auc_score(y, p))
    assert metrics["pr_auc"] == pytest.approx(average_precision_score(y, p))
    assert metrics["brier"] == pytest.approx(brier_score_loss(y, p))
    assert metrics["log_loss"] == pytest.approx(log_loss(y, p))
    assert metrics["ece"] == pytest.approx(evaluation.expected_calibration_error(y, p))
    lift, capture = evaluation.lift_and_capture(y, p, fraction=0.1)
    assert (metrics["lift_top10"], metrics["capture_top10"]) == (lift, capture)


def test_classification_metrics_perfect_scorer() -> None:
    rng = np.random.default_rng(4)
    y = (rng.random(1000) < 0.2).astype(int)
    metrics = evaluation.classification_metrics(y, np.where(y == 1, 0.95, 0.05))
    assert metrics["roc_auc"] == 1.0
    assert metrics["pr_auc"] == 1.0
    # the top 5% are all churners: lift = 1 / churn rate, capture = 5% of rows / churners
    assert metrics["lift_top5"] == pytest.approx(1 / y.mean())
    assert metrics["capture_top5"] == pytest.approx(50 / y.sum())


def test_classification_metrics_random_scorer_near_chance() -> None:
    rng = np.random.default_rng(5)
    y = (rng.random(5000) < 0.3).astype(int)
    metrics = evaluation.classification_metrics(y, rng.random(5000))
    assert metrics["roc_auc"] == pytest.approx(0.5, abs=0.03)
    assert metrics["pr_auc"] == pytest.approx(y.mean(), abs=0.03)
    assert metrics["lift_top20"] == pytest.approx(1.0, abs=0.15)


def test_classification_metrics_log_loss_clips_certain_mistakes() -> None:
    metrics = evaluation.classification_metrics([1, 0], [0.0, 0.0])
    assert metrics["log_loss"] == pytest.approx(-math.log(1e-15) / 2)


def test_classification_metrics_single_class(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="churn.evaluation"):
        metrics = evaluation.classification_metrics([0, 0, 0, 0], [0.1, 0.2, 0.3, 0.4])
    assert math.isnan(metrics["roc_auc"])
    assert math.isnan(metrics["pr_auc"])
    assert math.isnan(metrics["lift_top10"])
    assert metrics["brier"] == pytest.approx(np.mean([0.01, 0.04, 0.09, 0.16]))
    assert metrics["ece"] == pytest.approx(0.25)
    assert "roc_auc and pr_auc are undefined" in caplog.text


def test_classification_metrics_all_churned_still_has_lift() -> None:
    metrics = evaluation.classification_metrics([1, 1, 1, 1], [0.1, 0.2, 0.3, 0.4])
    assert math.isnan(metrics["roc_auc"])
    assert metrics["lift_top20"] == 1.0
    assert metrics["capture_top20"] == 0.25


def test_classification_metrics_custom_fractions_name_keys() -> None:
    metrics = evaluation.classification_metrics([0, 1, 1], [0.1, 0.9, 0.4], top_fractions=[0.25])
    assert "lift_top25" in metrics
    assert "lift_top10" not in metrics


@pytest.mark.parametrize(
    ("y", "p", "message"),
    [
        (
            [0, 1, 0, 1, 0],
            [0.1, 1.7, -0.2, np.nan, 0.5],
            r"classification_metrics: p must be finite probabilities in \[0, 1\]; "
            r"got 3 values outside \(first: 1.7\)",
        ),
        ([0, 1, 2], [0.1, 0.2, 0.3], r"y must hold only 0/1 labels .* got 1 other values"),
        ([0, 1], [0.1, 0.2, 0.3], r"same length; got 2 and 3"),
        ([], [], r"expected at least one row; got none"),
        (["no", "yes"], [0.1, 0.2], r"y must be numeric"),
        ([[0, 1]], [[0.1, 0.2]], r"y must be one-dimensional; got shape \(1, 2\)"),
    ],
)
def test_classification_metrics_rejects_invalid_input(y: object, p: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        evaluation.classification_metrics(y, p)  # type: ignore[arg-type]


@pytest.mark.parametrize("fractions", [(0.0,), (1.5,), (True,), (0.05, 0.051), (0.001,), 0.1])
def test_classification_metrics_rejects_bad_top_fractions(fractions: object) -> None:
    with pytest.raises(ValueError, match=r"classification_metrics: top_fractions must"):
        evaluation.classification_metrics([0, 1], [0.2, 0.8], top_fractions=fractions)  # type: ignore[arg-type]


@settings(max_examples=40, deadline=None)
@given(
    rows=st.lists(
        st.tuples(st.integers(0, 1), st.floats(0, 1, allow_nan=False)), min_size=2, max_size=40
    ),
    seed=st.integers(0, 2**32 - 1),
)
def test_classification_metrics_ignores_row_order(rows: list[tuple[int, float]], seed: int) -> None:
    y, p = (np.array(column) for column in zip(*rows, strict=True))
    shuffled = np.random.default_rng(seed).permutation(len(rows))
    before = evaluation.classification_metrics(y, p)
    after = evaluation.classification_metrics(y[shuffled], p[shuffled])
    for key in ("roc_auc", "pr_auc", "brier", "log_loss", "ece", "churn_rate", "mean_p"):
        assert after[key] == pytest.approx(before[key], nan_ok=True), key
    assert 0.0 <= before["ece"] <= 1.0


# --- METRIC_DIRECTIONS and is_better ---------------------------------------------------------


def test_metric_directions_cover_default_metrics() -> None:
    directional = [k for k in KEYS if k not in {"n_rows", "churn_rate", "mean_p"}]
    assert sorted(evaluation.METRIC_DIRECTIONS) == sorted(directional)
    assert {evaluation.METRIC_DIRECTIONS[k] for k in ("brier", "log_loss", "ece")} == {"lower"}


def test_is_better_higher_is_better() -> None:
    assert evaluation.is_better("roc_auc", 0.82, 0.81)
    assert evaluation.is_better("roc_auc", 0.81, 0.81)
    assert not evaluation.is_better("roc_auc", 0.80, 0.81)
    assert evaluation.is_better("roc_auc", 0.80, 0.81, tolerance=0.02)
    assert not evaluation.is_better("lift_top10", 2.0, 2.5, tolerance=0.1)


def test_is_better_lower_is_better() -> None:
    assert evaluation.is_better("brier", 0.10, 0.11)
    assert not evaluation.is_better("brier", 0.12, 0.11)
    assert evaluation.is_better("brier", 0.12, 0.11, tolerance=0.02)
    assert not evaluation.is_better("ece", 0.05, 0.01, tolerance=0.02)


def test_is_better_accepts_split_prefix_and_any_top_percent() -> None:
    assert evaluation.is_better("test/log_loss", 0.3, 0.4)
    assert evaluation.is_better("capture_top30", 0.6, 0.5)


@pytest.mark.parametrize(
    ("metric", "new", "old", "tolerance", "message"),
    [
        ("accuracy", 0.9, 0.8, 0.0, r"is_better: unknown metric 'accuracy'"),
        ("roc_auc", 0.9, 0.8, -0.1, r"tolerance must be finite and >= 0; got -0.1"),
        ("roc_auc", math.nan, 0.8, 0.0, r"roc_auc must be defined in both runs"),
    ],
)
def test_is_better_rejects_invalid_arguments(
    metric: str, new: float, old: float, tolerance: float, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        evaluation.is_better(metric, new, old, tolerance=tolerance)


# --- compare_scorers -------------------------------------------------------------------------


def test_compare_scorers_one_row_per_scorer() -> None:
    y, p = _scored()
    scores = {"model": p, "flat": np.full(y.size, y.mean())}
    table = evaluation.compare_scorers(y, scores, n_bins=5)
    assert list(table.index) == ["model", "flat"]
    assert table.index.name == "scorer"
    assert list(table.columns) == KEYS
    assert table.loc["model"].to_dict() == evaluation.classification_metrics(y, p, n_bins=5)
    auc = table["roc_auc"].to_numpy()
    assert auc[0] > 0.75
    assert auc[1] == 0.5


def test_compare_scorers_names_the_bad_scorer() -> None:
    with pytest.raises(ValueError, match=r"compare_scorers\['recency'\]: y and p must have"):
        evaluation.compare_scorers([0, 1], {"model": [0.1, 0.9], "recency": [0.5]})


def test_compare_scorers_rejects_no_scorers() -> None:
    with pytest.raises(ValueError, match=r"compare_scorers: expected at least one scorer"):
        evaluation.compare_scorers([0, 1], {})

"""Qini and uplift curves on hand-made cases with known answers, and their input checks."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from churn.errors import DataError
from churn.uplift import auuc, qini_coefficient, qini_curve, uplift_at_top, uplift_summary

# Six rows ranked by score; retained y = 1 - churned = [1, 0, 1, 1, 0, 1].
SCORE = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
TREATED = np.array([True, False, True, False, True, False])
CHURNED = np.array([0, 1, 0, 0, 1, 0])
# By hand: Q = Y_T - Y_C * N_T / N_C at each cut (0 while no control row), over N = 6.
HAND_QINI = np.array([0, 0, 1, 2, 1, 0.5, 0]) / 6


def _planted(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows where the offer cuts churn from 0.6 to 0.2 for half the customers (effect > 0)."""
    rng = np.random.default_rng(seed)
    effect = np.where(rng.random(n) < 0.5, 0.4, 0.0)
    treated = rng.random(n) < 0.5
    churned = (rng.random(n) < 0.6 - effect * treated).astype(int)
    return effect, churned, treated


def test_qini_curve_hand_case() -> None:
    curve = qini_curve(SCORE, CHURNED, TREATED)
    assert list(curve.columns) == ["share", "qini"]
    np.testing.assert_allclose(curve["share"], np.arange(7) / 6)
    np.testing.assert_allclose(curve["qini"], HAND_QINI, atol=1e-15)


def test_qini_curve_row_order_does_not_matter() -> None:
    order = np.array([3, 0, 5, 1, 4, 2])
    curve = qini_curve(SCORE[order], CHURNED[order], TREATED[order])
    np.testing.assert_allclose(curve["qini"], HAND_QINI, atol=1e-15)


def test_qini_curve_groups_ties() -> None:
    score = np.array([2.0, 1.0, 1.0, 0.0])
    curve = qini_curve(score, [0, 1, 0, 0], [True, False, True, False])
    # cuts after the 2.0 row, after both 1.0 rows, at the end
    np.testing.assert_allclose(curve["share"], [0, 0.25, 0.75, 1])
    # after three rows: Y_T = 2, N_T = 2, Y_C = 0, N_C = 1 -> Q = 2; at the end 2 - 1 * 2 / 2 = 1
    np.testing.assert_allclose(curve["qini"], [0, 0, 0.5, 0.25])


def test_qini_coefficient_hand_case() -> None:
    # trapezoids of width 1/6 over HAND_QINI; the random line ends at Q(1) = 0
    assert qini_coefficient(SCORE, CHURNED, TREATED) == pytest.approx(4.5 / 36, abs=1e-15)


def test_qini_coefficient_constant_score_is_zero() -> None:
    _, churned, treated = _planted(500, seed=1)
    assert qini_coefficient(np.ones(500), churned, treated) == 0.0


def test_qini_coefficient_perfect_ranking_beats_reversed() -> None:
    effect, churned, treated = _planted(4000, seed=2)
    noise = np.random.default_rng(3).random(4000) * 1e-3
    best = qini_coefficient(effect + noise, churned, treated)
    worst = qini_coefficient(-effect + noise, churned, treated)
    chance = qini_coefficient(noise, churned, treated)
    assert best > 0.02 > abs(chance)
    assert worst < -0.02


def test_qini_curve_weights_of_two_equal_weights_of_one() -> None:
    once = qini_curve(SCORE, CHURNED, TREATED)
    twice = qini_curve(SCORE, CHURNED, TREATED, weights=np.full(6, 2.0))
    pd.testing.assert_frame_equal(once, twice)


def test_qini_curve_weight_two_equals_row_twice() -> None:
    weights = np.array([1.0, 1, 2, 1, 1, 1])
    weighted = qini_curve(SCORE, CHURNED, TREATED, weights=weights)
    twice = np.array([0, 1, 2, 2, 3, 4, 5])
    duplicated = qini_curve(SCORE[twice], CHURNED[twice], TREATED[twice])
    pd.testing.assert_frame_equal(weighted, duplicated)
    assert auuc(SCORE, CHURNED, TREATED, weights=weights) == pytest.approx(
        auuc(SCORE[twice], CHURNED[twice], TREATED[twice])
    )


def test_auuc_hand_case() -> None:
    # U = (mean_T - mean_C) * k / 6: 0 (no control yet), 2/6, 3/6, 2/6, 5/36, 0
    assert auuc(SCORE, CHURNED, TREATED) == pytest.approx(47 / 216, abs=1e-15)


def test_auuc_perfect_ranking_beats_reversed() -> None:
    effect, churned, treated = _planted(4000, seed=4)
    assert auuc(effect, churned, treated) > auuc(-effect, churned, treated) + 0.05


def test_uplift_at_top_hand_case() -> None:
    # top 3 rows: control churn 1/1, treated churn 0/2
    assert uplift_at_top(SCORE, CHURNED, TREATED, share=0.5) == 1.0
    # everyone: control churn 1/3, treated churn 1/3
    assert uplift_at_top(SCORE, CHURNED, TREATED, share=1.0) == pytest.approx(0.0)
    # top 5: control 1/2, treated 1/3
    assert uplift_at_top(SCORE, CHURNED, TREATED, share=5 / 6) == pytest.approx(1 / 6)


def test_uplift_at_top_empty_arm_is_nan() -> None:
    assert math.isnan(uplift_at_top(SCORE, CHURNED, TREATED, share=0.1))


def test_uplift_at_top_share_outside_unit_interval_raises() -> None:
    with pytest.raises(DataError, match=r"share in \(0, 1\]; got 0"):
        uplift_at_top(SCORE, CHURNED, TREATED, share=0)
    with pytest.raises(DataError, match="share"):
        uplift_at_top(SCORE, CHURNED, TREATED, share=1.5)


def test_uplift_summary_keys_and_values() -> None:
    summary = uplift_summary(SCORE, CHURNED, TREATED, shares=(0.5, 1.0))
    assert list(summary) == [
        "qini",
        "auuc",
        "uplift_top_50",
        "uplift_top_100",
        "treated",
        "control",
    ]
    assert summary["qini"] == pytest.approx(4.5 / 36)
    assert summary["uplift_top_50"] == 1.0
    assert (summary["treated"], summary["control"]) == (3.0, 3.0)


def test_uplift_summary_default_shares() -> None:
    effect, churned, treated = _planted(1000, seed=5)
    summary = uplift_summary(effect, churned, treated)
    assert {"uplift_top_10", "uplift_top_20", "uplift_top_30"} <= set(summary)
    assert summary["uplift_top_10"] > 0.2


@pytest.mark.parametrize(
    ("score", "churned", "treated", "weights", "message"),
    [
        ([1.0, 2.0], [0, 1, 0], [True, False, True], None, "inputs of one length"),
        ([1.0, np.nan, 3.0], [0, 1, 0], [True, False, True], None, "finite scores"),
        ([1.0, 2.0, 3.0], [0, 2, 0], [True, False, True], None, r"churned in \{0, 1\}"),
        ([1.0, 2.0, 3.0], [0, 1, 0], ["yes", "no", "yes"], None, "treated to be booleans"),
        ([1.0, 2.0, 3.0], [0, 1, 0], [True, False, True], [1, -1, 1], "finite weights >= 0"),
        ([1.0, 2.0, 3.0], [0, 1, 0], [True, False, True], [1, np.inf, 1], "finite weights >= 0"),
        ([1.0, 2.0, 3.0], [0, 1, 0], [True, True, True], None, "at least one control row"),
        (["a", "b", "c"], [0, 1, 0], [True, False, True], None, "numbers in score"),
    ],
)
def test_qini_curve_bad_input_raises(
    score: list[Any],
    churned: list[Any],
    treated: list[Any],
    weights: list[float] | None,
    message: str,
) -> None:
    with pytest.raises(DataError, match=f"qini_curve: expected {message}"):
        qini_curve(score, churned, treated, weights=weights)

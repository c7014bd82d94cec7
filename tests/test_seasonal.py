"""Seasonal recalibration: the shift follows last year's move of the scorer's bias."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit, logit

from churn import seasonal

SETTINGS = seasonal.SeasonalSettings()
BIAS = {1: 0.0, 4: 0.0, 7: -0.4, 10: -0.1}  # log-odds the scorer is off by, by calendar month


def _table(n: int = 4_000, *, tenure: float = 400.0, seed: int = 0) -> pd.DataFrame:
    """Monthly cutoffs over two years; the label's log-odds are the score's plus a bias of the
    cutoff's month (the scorer over-predicts in July)."""
    rng = np.random.default_rng(seed)
    parts = []
    for cutoff in pd.date_range("2024-01-05", "2025-12-05", freq="MS") + pd.Timedelta(days=4):
        score = rng.uniform(-2, 2, n)
        truth = expit(score + BIAS.get(cutoff.month, 0.0))
        parts.append(
            pd.DataFrame(
                {
                    "customer_id": [f"c{i}" for i in range(n)],
                    "cutoff": cutoff,
                    "score": score,
                    "tenure_days": rng.exponential(tenure, n),
                    "churned": (rng.random(n) < truth).astype(int),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def _predict(rows: pd.DataFrame) -> np.ndarray:
    return np.asarray(expit(rows["score"].to_numpy()), dtype=float)


def _shift(
    frame: pd.DataFrame, target: str, calibration: str, **kw: object
) -> seasonal.SeasonalShift:
    settings = seasonal.SeasonalSettings(**kw)  # type: ignore[arg-type]
    return seasonal.year_ago_shift(
        frame,
        _predict,
        target=pd.Timestamp(target),
        calibration=pd.Timestamp(calibration),
        horizon_days=90,
        settings=settings,
    )


def test_residual_matches_the_rate() -> None:
    p = np.linspace(0.05, 0.95, 101)
    s = seasonal.residual(p, 0.4)
    assert seasonal.shift_probabilities(p, s).mean() == pytest.approx(0.4, abs=1e-9)
    assert seasonal.shift_probabilities(p, 0.0) is p


def test_year_ago_shift_moves_as_the_bias_moved() -> None:
    """Calibrated in April (no bias), applied in July (bias -0.4): the shift is about -0.4."""
    shift = _shift(_table(), "2025-07-05", "2025-04-05")
    assert shift.reason == "applied"
    assert shift.references == {"target": "2024-07-05", "calibration": "2024-04-05"}
    assert shift.shift == pytest.approx(-0.4, abs=0.08)
    assert 0 <= shift.shrinkage < 0.1


def test_year_ago_shift_is_small_without_a_season() -> None:
    shift = _shift(_table(), "2025-05-05", "2025-02-05")
    assert abs(shift.shift) < 0.06


def test_year_ago_shift_never_uses_a_window_past_the_target() -> None:
    """With a horizon over a year, no reference's window ends by the target."""
    frame = _table(n=500)
    result = seasonal.year_ago_shift(
        frame,
        _predict,
        target=pd.Timestamp("2025-07-05"),
        calibration=pd.Timestamp("2024-04-05"),
        horizon_days=400,
        settings=SETTINGS,
    )
    assert result.shift == 0.0
    assert result.reason.startswith("no labelled cutoff about a year before the target")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("young", "median tenure"),
        ("small", "fewer than 25%"),
    ],
)
def test_year_ago_shift_refuses_an_incomparable_reference(change: str, reason: str) -> None:
    frame = _table()
    year_ago = frame["cutoff"] == pd.Timestamp("2024-07-05")
    if change == "young":
        frame.loc[year_ago, "tenure_days"] = 10.0
    else:
        frame = frame[~year_ago | (frame["customer_id"].str.len() < 3)]  # keep c0..c99
    result = _shift(frame, "2025-07-05", "2025-04-05")
    assert result.shift == 0.0
    assert reason in result.reason


def test_year_ago_shift_off() -> None:
    assert _shift(_table(n=300), "2025-07-05", "2025-04-05", enabled=False).shift == 0.0


def test_year_ago_shift_is_shrunk_when_noisy() -> None:
    """On 300 customers a small true move is mostly noise: it is shrunk towards zero."""
    shifts = [
        _shift(_table(n=300, seed=s), "2025-05-05", "2025-02-05", min_rows=100) for s in range(5)
    ]
    assert all(abs(s.shift) <= abs(s.raw_shift) for s in shifts)
    assert any(s.shrinkage > 0.3 for s in shifts)


def test_shift_probabilities_stay_probabilities() -> None:
    p = np.array([0.0, 1e-9, 0.5, 1.0])
    moved = seasonal.shift_probabilities(p, 2.0)
    assert ((moved > 0) & (moved < 1)).all()
    assert moved[2] == pytest.approx(expit(logit(0.5) + 2.0))


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"tolerance_days": -1}, "expected tolerance_days >= 0"),
        ({"min_tenure_share": 1.5}, r"shares in \[0, 1\]"),
        ({"tolerence_days": 20}, "tolerence_days"),
    ],
)
def test_seasonal_settings_reject_bad_values(values: dict[str, object], message: str) -> None:
    from churn.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        seasonal.SeasonalSettings.from_mapping(values)

"""As-of dates and the cutoffs one feature query must cover."""

from __future__ import annotations

import pandas as pd
import pytest

from churn import backtest, labels
from churn.errors import ConfigError

END = pd.Timestamp("2026-01-01")
START = pd.Timestamp("2023-01-01")


def test_plan_backtest_dates_have_observed_windows() -> None:
    label = labels.LabelConfig(horizon_days=90, step_days=30, n_cutoffs=4)
    plan = backtest.plan_backtest(END, label, backtest.BacktestConfig(dates=4), start=START)
    assert [str(d.date()) for d in plan.dates] == [
        "2025-10-03",
        "2025-09-03",
        "2025-08-04",
        "2025-07-05",
    ]
    assert all(d + pd.Timedelta(days=90) <= END for d in plan.dates)
    # a horizon of whole steps: every recipe cutoff lies on the dates' grid
    assert len(plan.cutoffs) == 10  # steps 0 .. 9 back from the latest date


def test_plan_backtest_each_date_sees_what_train_would() -> None:
    label = labels.LabelConfig(horizon_days=91, step_days=28, n_cutoffs=5)
    plan = backtest.plan_backtest(
        END, label, backtest.BacktestConfig(dates=3, step_days=28), start=START
    )
    for date in plan.dates:
        expected = [date - pd.Timedelta(days=91 + 28 * k) for k in range(5)]
        assert set(expected) <= set(plan.cutoffs)
        assert plan.recipe_cutoffs(date) == expected


def test_plan_backtest_rejects_dates_before_the_data() -> None:
    label = labels.LabelConfig(horizon_days=90, step_days=30)
    config = backtest.BacktestConfig(dates=40)
    with pytest.raises(ConfigError, match=r"use fewer backtest\.dates"):
        backtest.plan_backtest(END, label, config, start=START)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"dates": 0}, "backtest.dates: expected a whole number >= 1; got 0"),
        ({"bootstrap": 0}, "backtest.bootstrap"),
        ({"confidence": 1.0}, r"backtest.confidence: expected a level in \[0.5, 1\)"),
    ],
)
def test_backtest_config_rejects_bad_values(values: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        backtest.BacktestConfig.from_mapping(values)

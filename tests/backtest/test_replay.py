"""The backtest's recipe at a date never sees rows at or after that date."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from churn import backtest, engine, labels, training, training_table
from churn.features import FeatureConfig
from churn.model import ModelConfig

LABEL = labels.LabelConfig(horizon_days=90, step_days=30, n_cutoffs=6)
MODEL = ModelConfig(n_estimators=60, early_stopping_rounds=10, n_jobs=1)
SETTINGS = training.TrainConfig(horizon_days=90, step_days=30)


@pytest.fixture(scope="module")
def history(small_demo_dir: Path) -> pd.DataFrame:
    return pq.read_table(small_demo_dir / "transactions.parquet").to_pandas()


@pytest.fixture(scope="module")
def plan(history: pd.DataFrame) -> backtest.BacktestPlan:
    end = pd.Timestamp(history["timestamp"].max()).normalize() + pd.Timedelta(days=1)
    config = backtest.BacktestConfig(dates=2, step_days=30, bootstrap=10)
    return backtest.plan_backtest(end, LABEL, config, start=history["timestamp"].min())


def _scored(tx: pd.DataFrame, plan: backtest.BacktestPlan, date: pd.Timestamp) -> pd.DataFrame:
    tables = engine.register(
        engine.connect({"name": "duckdb", "threads": 1}),
        pa.Table.from_pandas(tx, preserve_index=False),
    )
    end = plan.dates[0] + pd.Timedelta(days=plan.horizon_days)
    table = training_table.build(
        tables.transactions, list(plan.cutoffs), FeatureConfig(), LABEL, end=end
    ).to_pandas()
    one_date = backtest.BacktestPlan((date,), plan.cutoffs, 90, 30, LABEL.n_cutoffs)
    replayed = backtest.replay(table, one_date, MODEL, SETTINGS, seed=3)
    return replayed.predictions.sort_values("customer_id").reset_index(drop=True)


@st.composite
def perturbations(draw: st.DrawFn) -> tuple[int, int, float, float]:
    """Which date, a seed, the share of later rows dropped and the share moved to others."""
    return (
        draw(st.integers(0, 1)),
        draw(st.integers(0, 2**16)),
        draw(st.sampled_from([0.0, 0.3, 1.0])),
        draw(st.sampled_from([0.0, 0.5])),
    )


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(perturbations())
def test_replay_ignores_rows_at_or_after_the_date(
    history: pd.DataFrame,
    plan: backtest.BacktestPlan,
    perturbation: tuple[int, int, float, float],
) -> None:
    """Dropping or reassigning every kind of row at or after A changes no score at A."""
    which, seed, dropped, moved = perturbation
    date = plan.dates[which]
    rng = np.random.default_rng(seed)
    later = history["timestamp"] >= date
    changed = history.copy()
    reassign = later & (rng.random(len(history)) < moved)
    changed.loc[reassign, "customer_id"] = rng.permutation(
        changed.loc[reassign, "customer_id"].to_numpy()
    )
    changed.loc[later, "amount"] = changed.loc[later, "amount"] * 3.0
    changed = changed[~(later & (rng.random(len(history)) < dropped))]
    before = _scored(history, plan, date)
    after = _scored(changed, plan, date)
    scorers = [c for c in before.columns if c not in ("date", "customer_id", "cutoff", "churned")]
    assert scorers == ["model", "recency", "rfm_logistic", "bgnbd"]
    pd.testing.assert_frame_equal(
        before[["customer_id", *scorers]], after[["customer_id", *scorers]]
    )

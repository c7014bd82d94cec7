"""``python -m pipelines.backtest``: tables, plots and MLflow runs; models/ is never touched."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest
from mlflow import MlflowClient

from pipelines import backtest
from tests.conftest import compose_config, run_pipeline

FAST = [
    "model.n_jobs=1",
    "model.early_stopping_rounds=20",
    "engine.threads=1",
    "backtest.bootstrap=100",
]


@pytest.fixture(scope="module")
def replayed(
    small_demo_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[backtest.BacktestResult, Path]:
    work = tmp_path_factory.mktemp("backtest")
    cfg = compose_config(
        "backtest",
        [
            f"data.generate.output_dir={small_demo_dir}",
            f"output_dir={work}/out",
            f"tracking.uri=sqlite:///{work}/mlflow.db",
            *FAST,
        ],
    )
    cwd = Path.cwd()
    os.chdir(work)
    try:
        return backtest.run(cfg), work
    finally:
        os.chdir(cwd)


def test_backtest_writes_tables_and_plots(
    replayed: tuple[backtest.BacktestResult, Path],
) -> None:
    result, work = replayed
    assert result.folder == work / "out" / "backtest"
    per_date = pd.read_csv(result.folder / "per_date.csv")
    assert per_date["date"].nunique() == 4
    assert set(per_date["scorer"]) == {"model", "recency", "rfm_logistic", "bgnbd", "oracle"}
    expected = {"roc_auc", "pr_auc", "brier", "log_loss", "ece", "calibration_in_the_large"}
    assert expected | {"lift_top10", "capture_top10"} <= set(per_date.columns)
    # the model ranks far better than chance at every date, and the oracle better still
    model = per_date[per_date["scorer"] == "model"].set_index("date")
    oracle = per_date[per_date["scorer"] == "oracle"].set_index("date")
    assert (model["roc_auc"] > 0.8).all()
    assert (oracle["roc_auc"] >= model["roc_auc"] - 0.02).all()
    differences = pd.read_csv(result.folder / "differences.csv")
    assert len(differences) == 5 * 3  # 4 dates and pooled, 3 compared metrics
    assert {d["metric"] for d in result.differences} == {"roc_auc", "brier", "ece"}
    payload = json.loads((result.folder / "backtest.json").read_text(encoding="utf-8"))
    assert len(payload["plan"]["dates"]) == 4
    assert set(payload["recipes"]) == set(payload["plan"]["dates"])
    for date, recipe in payload["recipes"].items():
        assert recipe["target"] == date
        assert max(recipe["training"]) < recipe["calibration"] < date
    plots = {p.name for p in (result.folder / "plots").iterdir()}
    assert {"roc_auc.png", "brier.png", "ece.png", "calibration_in_the_large.png"} <= plots
    assert "customer_id" not in per_date.columns
    assert not (work / "models").exists()


def test_backtest_is_tracked_as_a_parent_with_a_child_per_date(
    replayed: tuple[backtest.BacktestResult, Path],
) -> None:
    result, work = replayed
    client = MlflowClient(tracking_uri=f"sqlite:///{work}/mlflow.db")
    assert result.run_id is not None
    parent = client.get_run(result.run_id)
    assert "pooled/model/roc_auc" in parent.data.metrics
    assert "pooled/difference/roc_auc_high" in parent.data.metrics
    experiment = parent.info.experiment_id
    children = client.search_runs(
        [experiment], filter_string=f"tags.mlflow.parentRunId = '{result.run_id}'"
    )
    assert len(children) == 4
    assert all("model/brier" in child.data.metrics for child in children)
    artifacts = {a.path for a in client.list_artifacts(result.run_id, "backtest")}
    assert "backtest/per_date.csv" in artifacts
    assert not client.search_registered_models()


def test_backtest_cli_refuses_a_bad_schedule(small_demo_dir: Path, tmp_path: Path) -> None:
    proc = run_pipeline(
        "backtest",
        f"data.generate.output_dir={small_demo_dir}",
        f"hydra.run.dir={tmp_path}/run",
        "tracking=none",
        "backtest.dates=60",
        cwd=tmp_path,
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "use fewer backtest.dates" in proc.stderr.strip().splitlines()[-1]


def test_backtest_measures_the_cost_of_not_retraining(
    replayed: tuple[backtest.BacktestResult, Path],
) -> None:
    """Each date's model also scores the later dates: metrics by how late it is served."""
    result, _ = replayed
    staleness = pd.read_csv(result.folder / "staleness.csv")
    assert list(staleness["age_days"]) == [0, 30, 60, 90]
    assert (staleness["roc_auc"] > 0.7).all()
    # age 0 pools the four dates, age 90 only the latest date scored by the earliest model
    per_date = pd.read_csv(result.folder / "per_date.csv")
    fresh = per_date[per_date["scorer"] == "model"]["n_rows"].sum()
    assert staleness.loc[0, "n_rows"] == fresh
    latest = per_date[(per_date["scorer"] == "model")].sort_values("date")["n_rows"].iloc[-1]
    assert staleness.loc[3, "n_rows"] == latest
    assert staleness.loc[0, ["roc_auc_vs_retrained", "brier_vs_retrained"]].tolist() == [0, 0]

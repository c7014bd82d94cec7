"""Shared fixtures: composed configs and small generated data sets."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf

from churn import synthetic

# No network here: keep MLflow from trying to send telemetry.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"


def compose_config(config_name: str, overrides: list[str] | None = None) -> DictConfig:
    """Compose a primary config the way ``python -m pipelines.<name>`` would."""
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose(config_name=config_name, overrides=overrides or [])


@pytest.fixture(scope="session")
def world() -> synthetic.WorldConfig:
    """The demo world's reference parameters, as configured."""
    cfg = compose_config("generate")
    values = OmegaConf.to_container(cfg.generate.world, resolve=True)
    return synthetic.WorldConfig.from_mapping(values)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def demo(world: synthetic.WorldConfig) -> synthetic.DemoData:
    """The default-size demo world (20k customers, about 0.5 s), seed 0."""
    return synthetic.generate(world, n_customers=20_000, seed=0)


@pytest.fixture(scope="session")
def small_demo_dir(tmp_path_factory: pytest.TempPathFactory, world: synthetic.WorldConfig) -> Path:
    """A small demo data folder on disk (2k customers)."""
    out = tmp_path_factory.mktemp("demo") / "demo"
    synthetic.save(synthetic.generate(world, n_customers=2_000, seed=1), out, seed=1)
    return out


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run the test from an empty working directory."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="session")
def small_training_table(small_demo_dir: Path) -> pd.DataFrame:
    """The labelled table of the small demo folder (default label and feature configs)."""
    from churn import engine, labels, training_table
    from churn.features import FeatureConfig

    con = engine.connect({"name": "duckdb"})
    tx = con.read_parquet(small_demo_dir / "transactions.parquet")
    events = con.read_parquet(small_demo_dir / "events.parquet")
    end = labels.data_end(tx)
    label_config = labels.LabelConfig()
    table = training_table.build(
        tx,
        labels.cutoff_schedule(end, label_config),
        FeatureConfig(),
        label_config,
        end=end,
        events=events,
    )
    return table.to_pandas()


def run_pipeline(
    module: str, *args: str, cwd: Path, env: dict[str, str | None] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m pipelines.<module> <args>`` from ``cwd``, as a user or scheduler would.

    ``env`` adds variables to the environment (None removes one).
    """
    environment = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    for name, value in (env or {}).items():
        if value is None:
            environment.pop(name, None)
        else:
            environment[name] = value
    return subprocess.run(
        [sys.executable, "-m", f"pipelines.{module}", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=environment,
        check=False,
    )

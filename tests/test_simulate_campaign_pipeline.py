"""``python -m pipelines.simulate_campaign`` through ``run(cfg)``, composed as Hydra does."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from omegaconf import DictConfig
from pipelines.common import container

from churn import synthetic
from churn.errors import DataError
from churn.synthetic.effects import CampaignConfig
from pipelines import simulate_campaign
from tests.conftest import compose_config, run_pipeline
from tests.synthetic.helpers import WORLDS, write_export


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory: pytest.TempPathFactory, world: synthetic.WorldConfig) -> Path:
    out = tmp_path_factory.mktemp("simulate") / "demo"
    synthetic.save(synthetic.generate(world, n_customers=2_000, seed=2), out, seed=2)
    return out


def _cfg(data_dir: Path, export_dir: Path, *extra: str) -> DictConfig:
    return compose_config(
        "simulate_campaign", [f"data_dir={data_dir}", f"export_dir={export_dir}", *extra]
    )


def test_simulate_campaign_defaults_follow_the_world() -> None:
    cfg = compose_config("simulate_campaign")
    assert cfg.days == 30
    assert cfg.data_dir == "data/demo"
    assert cfg.export_dir == "exports"
    cohort = compose_config("simulate_campaign", ["world=cohort"])
    assert cohort.data_dir == "data/cohort"
    assert cohort.export_dir == "exports/cohort"


@pytest.mark.parametrize("name", WORLDS)
def test_every_world_configures_every_offer(name: str) -> None:
    cfg = compose_config("simulate_campaign", [f"world={name}"])
    config = CampaignConfig.from_mapping(container(cfg.campaign))
    offers = compose_config("score").offers.catalog
    assert set(offers) | {"default"} == set(config.effects)


def test_run_applies_an_export_and_moves_the_world(world_dir: Path, tmp_path: Path) -> None:
    data = Path(shutil.copytree(world_dir, tmp_path / "demo"))
    truth = pd.read_parquet(data / "ground_truth.parquet")
    ids = truth.loc[~truth["never_purchased"], "customer_id"].astype(str)
    status = np.where(np.arange(len(ids)) % 5 == 0, "control", "offer")
    plan = pd.DataFrame({"customer_id": ids, "contact_status": status, "offer": "personal_call"})
    write_export(tmp_path / "exports", "2026-01-01", plan)
    result = simulate_campaign.run(_cfg(data, tmp_path / "exports", "days=15"))
    assert result.applied == ("2026-01-01",)
    assert str(result.data_end.date()) == "2026-01-16"
    world = json.loads((data / "world.json").read_text())
    assert world["data_end"] == "2026-01-16"
    assert [c["as_of"] for c in world["campaigns"]] == ["2026-01-01"]
    oracle = pd.read_parquet(data / "campaigns" / "2026-01-01" / "oracle.parquet")
    assert set(oracle["arm"]) == {"offer", "control"}
    again = simulate_campaign.run(_cfg(data, tmp_path / "exports", "days=15"))
    assert again.applied == ()
    assert str(again.data_end.date()) == "2026-01-31"
    events = pd.read_parquet(data / "events.parquet")
    surveys = events[events["type"] == "exit_survey"]
    assert len(surveys) == result.exit_surveys + again.exit_surveys > 0
    assert surveys["timestamp"].min() >= pd.Timestamp("2026-01-01")


def test_run_refuses_a_folder_that_was_not_generated(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="expected a generated world folder"):
        simulate_campaign.run(_cfg(tmp_path / "missing", tmp_path / "exports"))


def test_cli_refuses_days_out_of_range_with_a_one_line_reason(
    world_dir: Path, tmp_path: Path
) -> None:
    repo = Path(__file__).resolve().parents[1]
    proc = run_pipeline(
        "simulate_campaign",
        f"data_dir={world_dir}",
        f"export_dir={tmp_path}/exports",
        "days=0",
        f"hydra.run.dir={tmp_path}/run",
        cwd=repo,
    )
    assert proc.returncode == 2
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("ConfigError: simulate_campaign.days: expected a whole number")


def test_run_reads_the_plan_from_the_at_risk_list(world_dir: Path, tmp_path: Path) -> None:
    data = Path(shutil.copytree(world_dir, tmp_path / "demo"))
    truth = pd.read_parquet(data / "ground_truth.parquet")
    ids = truth.loc[~truth["never_purchased"], "customer_id"].astype(str).head(300)
    status = np.where(np.arange(len(ids)) % 3 == 0, "control", "offer")
    plan = pd.DataFrame({"customer_id": ids, "contact_status": status, "offer": "win_back"})
    folder = write_export(tmp_path / "exports", "2026-01-01", plan)
    scores = pd.read_parquet(folder / "scores.parquet")
    scores.drop(columns=["control_offer"]).to_parquet(folder / "at_risk.parquet", index=False)
    scores[["customer_id", "status"]].to_parquet(folder / "scores.parquet", index=False)
    simulate_campaign.run(_cfg(data, tmp_path / "exports"))
    oracle = pd.read_parquet(data / "campaigns" / "2026-01-01" / "oracle.parquet")
    assert len(oracle) == 300
    assert set(oracle.loc[oracle["arm"] == "control", "offer"]) == {"default"}
    assert set(oracle.loc[oracle["arm"] == "offer", "offer"]) == {"win_back"}

"""Exit surveys in the demo worlds: who answers, when, with which reason; nothing else changes."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from churn import synthetic
from churn.errors import ConfigError
from churn.synthetic.campaign import simulate_campaigns
from churn.synthetic.effects import CampaignConfig
from churn.synthetic.state import load_world
from churn.synthetic.surveys import ExitSurveyConfig, drivers
from tests.conftest import compose_config

REASONS = ("price", "service", "product_fit", "competitor", "no_longer_needed", "other")
END = pd.Timestamp("2026-01-01")


def _config(**survey: object) -> CampaignConfig:
    cfg = compose_config("simulate_campaign")
    effects = {"default": dict(cfg.campaign.effects.default)}
    node = {**{k: v for k, v in cfg.campaign.exit_survey.items()}, **survey}
    node["weights"] = dict(node["weights"])
    node["boosts"] = {k: dict(v) for k, v in node["boosts"].items()}
    return CampaignConfig.from_mapping({"effects": effects, "exit_survey": node})


@pytest.fixture(scope="module")
def survey_world(tmp_path_factory: pytest.TempPathFactory, world: synthetic.WorldConfig) -> Path:
    """A generated world of 20,000 customers, written once."""
    out = tmp_path_factory.mktemp("surveys") / "demo"
    synthetic.save(synthetic.generate(world, n_customers=20_000, seed=5), out, seed=5)
    return out


def _copy(base: Path, tmp_path: Path, name: str = "demo") -> Path:
    return Path(shutil.copytree(base, tmp_path / name))


def _events(folder: Path) -> pd.DataFrame:
    return pa.concat_tables(
        [pq.read_table(folder / "events.parquet"), pq.read_table(folder / "future/events.parquet")]
    ).to_pandas()


def _surveys(folder: Path) -> pd.DataFrame:
    events = pq.read_table(folder / "events.parquet").to_pandas()
    return events[events["type"] == "exit_survey"].reset_index(drop=True)


@pytest.fixture(scope="module")
def moved(survey_world: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The world moved 150 days forward with surveys at the configured 0.3 response rate."""
    folder = _copy(survey_world, tmp_path_factory.mktemp("moved"))
    simulate_campaigns(folder, folder / "no-exports", _config(), days=150, exit_reasons=REASONS)
    return folder


def test_surveys_only_for_customers_gone_within_the_window(moved: Path) -> None:
    surveys = _surveys(moved)
    truth = pd.read_parquet(moved / "ground_truth.parquet").set_index("customer_id")
    assert len(surveys) > 300
    assert surveys["customer_id"].is_unique
    dropout = truth.loc[surveys["customer_id"], "dropout_date"].to_numpy()
    assert (dropout >= END.to_datetime64()).all()
    assert (surveys["timestamp"].to_numpy() >= dropout).all()
    assert surveys["timestamp"].min() >= END
    assert surveys["timestamp"].max() < END + pd.Timedelta(days=150)
    assert set(surveys["value"]) <= set(map(float, range(len(REASONS))))
    future = pq.read_table(moved / "future/events.parquet").to_pandas()
    assert not (future["type"] == "exit_survey").any()


def test_surveys_answer_at_about_the_response_rate(moved: Path) -> None:
    truth = pd.read_parquet(moved / "ground_truth.parquet")
    # gone early enough in the window that an answer has had time to arrive
    gone = truth[
        (truth["dropout_date"] >= END) & (truth["dropout_date"] < END + pd.Timedelta(days=120))
    ]
    assert len(gone) > 1_000
    answered = gone["customer_id"].isin(set(_surveys(moved)["customer_id"])).mean()
    assert answered == pytest.approx(0.3, abs=0.04)


def test_complaint_prone_customers_answer_service_more_often(moved: Path) -> None:
    surveys = _surveys(moved)
    state = load_world(moved)
    truth = state.truth.set_index(state.truth["customer_id"].astype(str), drop=False)
    rows = truth.loc[surveys["customer_id"]]
    has = drivers(state, rows, _config().exit_survey)
    service = surveys["value"].to_numpy() == REASONS.index("service")
    complaint = has["complaint"].to_numpy()
    assert complaint.sum() > 30
    assert (~complaint).sum() > 30
    assert service[complaint].mean() > service[~complaint].mean() + 0.2
    young = has["young"].to_numpy()
    fit = surveys["value"].to_numpy() == REASONS.index("product_fit")
    if young.sum() > 30:
        assert fit[young].mean() > fit[~young].mean()


def test_surveys_are_deterministic_and_leave_the_history_alone(
    survey_world: Path, moved: Path, tmp_path: Path
) -> None:
    again = _copy(survey_world, tmp_path)
    simulate_campaigns(again, tmp_path / "none", _config(), days=150, exit_reasons=REASONS)
    for name in ("events.parquet", "future/events.parquet", "transactions.parquet"):
        assert pq.read_table(again / name).equals(pq.read_table(moved / name)), name
    before = _events(survey_world)
    after = _events(moved)
    pd.testing.assert_frame_equal(
        before.reset_index(drop=True),
        after[after["type"] != "exit_survey"].reset_index(drop=True),
    )
    old = pq.read_table(survey_world / "events.parquet").to_pandas()
    new = pq.read_table(moved / "events.parquet").to_pandas()
    pd.testing.assert_frame_equal(old, new[new["timestamp"] < END].reset_index(drop=True))


def test_surveys_of_two_short_runs_equal_one_long_run(
    survey_world: Path, moved: Path, tmp_path: Path
) -> None:
    steps = _copy(survey_world, tmp_path)
    for days in (40, 60, 50):
        simulate_campaigns(steps, tmp_path / "none", _config(), days=days, exit_reasons=REASONS)
    pd.testing.assert_frame_equal(
        _surveys(steps).sort_values("customer_id", ignore_index=True),
        _surveys(moved).sort_values("customer_id", ignore_index=True),
    )


def test_no_response_rate_keeps_the_base_future_bit_for_bit(
    survey_world: Path, tmp_path: Path
) -> None:
    folder = _copy(survey_world, tmp_path)
    before = {n: pq.read_table(survey_world / n) for n in ("events.parquet",)}
    result = simulate_campaigns(
        folder, tmp_path / "none", _config(response_rate=0.0), days=30, exit_reasons=REASONS
    )
    assert result.exit_surveys == 0
    timeline = pa.concat_tables(
        [pq.read_table(folder / "events.parquet"), pq.read_table(folder / "future/events.parquet")]
    )
    base = pa.concat_tables(
        [before["events.parquet"], pq.read_table(survey_world / "future/events.parquet")]
    )
    assert timeline.equals(base)


def test_surveys_refuse_reasons_outside_the_data_contract(
    survey_world: Path, tmp_path: Path
) -> None:
    folder = _copy(survey_world, tmp_path)
    with pytest.raises(
        ConfigError,
        match=r"'product_fit'\] are not among data.exit_reasons; expected some of \['service'",
    ):
        simulate_campaigns(
            folder, tmp_path / "none", _config(), days=30, exit_reasons=("service", "other")
        )


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"response_rate": 1.5}, "response_rate: expected a probability"),
        ({"delay_days_mean": 0}, "delay_days_mean: expected a finite number of days > 0"),
        ({"weights": {"price": -1}}, r"weights.price: expected a finite number >= 0"),
        ({"response_rate": 0.3, "weights": {}}, "expected a positive weight"),
        ({"boosts": {"angry": {"service": 2}}}, "boosts: expected a mapping of drivers"),
        ({"young_days": -1}, "young_days: expected a whole number >= 0"),
        ({"colour": 1}, r"campaign.exit_survey: unknown keys \['colour'\]"),
    ],
)
def test_exit_survey_config_refuses_bad_values(values: dict[str, object], message: str) -> None:
    node = {"response_rate": 0.3, "weights": {"price": 1.0}, **values}
    with pytest.raises(ConfigError, match=message):
        ExitSurveyConfig.from_mapping(node)


def test_campaign_config_without_exit_survey_asks_nobody() -> None:
    config = CampaignConfig.from_mapping({"effects": {"default": {}}})
    assert config.exit_survey.response_rate == 0
    assert CampaignConfig.from_mapping(config.to_dict()) == config
    full = _config()
    assert full.exit_survey.response_rate == 0.3
    assert CampaignConfig.from_mapping(full.to_dict()) == full
    assert np.isclose(sum(full.exit_survey.weights.values()), 1.0)

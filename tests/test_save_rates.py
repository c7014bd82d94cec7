"""Measured save rates: campaigns pooled with the configured rate as a Beta prior."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churn.errors import ConfigError
from churn.offers import OfferConfig
from churn.save_rates import CampaignArms, planned_rates, pooled_save_rate, read_campaigns

TIERS = ["low", "medium", "high", "very_high"]


def _arms(as_of: str, offer: str, n_t: int, k_t: int, n_c: int, k_c: int) -> CampaignArms:
    return CampaignArms(as_of, offer, n_t, k_t, n_c, k_c)


def test_no_campaign_keeps_the_configured_rate() -> None:
    got = pooled_save_rate(0.15, 50.0, [])
    assert (got.rate, got.source, got.campaigns) == (0.15, "configured", ())
    # a campaign without control churn says nothing about the save rate
    empty = pooled_save_rate(0.15, 50.0, [_arms("2024-01-01", "x", 100, 10, 20, 0)])
    assert empty.source == "configured"


def test_a_large_campaign_outweighs_the_prior() -> None:
    # control churn 0.5, contacted 0.35: save rate 0.3
    got = pooled_save_rate(0.1, 50.0, [_arms("2024-01-01", "x", 20000, 7000, 20000, 10000)])
    assert got.source == "measured"
    assert got.rate == pytest.approx(0.3, abs=0.01)
    assert got.lower is not None
    assert got.upper is not None
    assert got.lower < got.rate < got.upper
    assert got.campaigns == ("2024-01-01",)


def test_a_small_campaign_moves_the_rate_a_little() -> None:
    got = pooled_save_rate(0.1, 50.0, [_arms("2024-01-01", "x", 200, 70, 20, 10)])
    assert 0.1 < got.rate < 0.2


def test_pooled_error_shrinks_as_campaigns_accumulate() -> None:
    rng = np.random.default_rng(0)
    truth, churn, prior = 0.3, 0.5, 0.1
    errors: dict[int, list[float]] = {1: [], 3: [], 6: []}
    for _ in range(300):
        arms = []
        for j in range(6):
            k_c = int(rng.binomial(150, churn))
            k_t = int(rng.binomial(1500, churn * (1 - truth)))
            arms.append(_arms(f"2024-0{j + 1}-01", "x", 1500, k_t, 150, k_c))
            if j + 1 in errors:
                errors[j + 1].append(abs(pooled_save_rate(prior, 50.0, arms).rate - truth))
    mean = {k: float(np.mean(v)) for k, v in errors.items()}
    assert mean[1] > mean[3] > mean[6]
    assert mean[6] < 0.06


def _outcomes(root: Path, day: str, rows: list[dict[str, object]]) -> None:
    (root / day).mkdir(parents=True)
    (root / day / "outcomes.json").write_text(json.dumps({"by_offer": rows}), encoding="utf-8")


def test_read_campaigns_takes_measured_campaigns_before_the_date(tmp_path: Path) -> None:
    row = {"offer": "x", "contacted": 100, "churned_contacted": 40, "control": 50}
    _outcomes(tmp_path, "2024-01-01", [row | {"churned_control": 25}])
    _outcomes(tmp_path, "2024-02-01", [row | {"churned_control": 30}, {"offer": "broken"}])
    _outcomes(tmp_path, "2024-03-01", [row | {"churned_control": 35}])  # not before
    (tmp_path / "notes").mkdir()
    got = read_campaigns(tmp_path, before=pd.Timestamp("2024-03-01"))
    assert [(a.as_of, a.control_churned) for a in got] == [("2024-01-01", 25), ("2024-02-01", 30)]
    assert read_campaigns(tmp_path / "none", before=pd.Timestamp("2024-03-01")) == []


def _config(**policy: object) -> OfferConfig:
    values = {
        "budget": 100.0,
        "catalog": {"x": {"cost": 1.0, "save_rate": 0.1}, "y": {"cost": 2.0, "save_rate": 0.2}},
    }
    return OfferConfig.from_mapping(values | policy, tiers=TIERS)


def test_planned_rates_measured_and_configured(tmp_path: Path) -> None:
    big = {"contacted": 20000, "churned_contacted": 7000, "control": 20000}
    _outcomes(tmp_path, "2024-01-01", [{"offer": "x", **big, "churned_control": 10000}])
    config = _config(save_rates="measured", outcomes_dir=str(tmp_path))
    planned, records = planned_rates(config, as_of=pd.Timestamp("2024-06-01"))
    rates = {o.name: o.save_rate for o in planned.catalog}
    assert rates["x"] == pytest.approx(0.3, abs=0.01)
    assert rates["y"] == 0.2  # never measured: its configured rate
    assert records["x"]["source"] == "measured"
    assert records["x"]["campaigns"] == ["2024-01-01"]
    assert records["y"] == {
        "rate": 0.2, "source": "configured", "prior": 0.2, "interval": None, "campaigns": []
    }  # fmt: skip
    same, configured = planned_rates(_config(), as_of=pd.Timestamp("2024-06-01"))
    assert same == _config()
    assert configured["x"]["source"] == "configured"


def test_measured_rates_need_their_folder() -> None:
    with pytest.raises(ConfigError, match=r"offers\.outcomes_dir"):
        _config(save_rates="measured")
    with pytest.raises(ConfigError, match=r"offers\.save_rates"):
        _config(save_rates="guessed")
    with pytest.raises(ConfigError, match=r"offers\.prior_strength"):
        _config(prior_strength=0)


def test_a_campaign_where_everyone_churned_does_not_pin_the_rate() -> None:
    # no save measured, but 20 control customers are not certainty: the prior keeps weight
    got = pooled_save_rate(0.06, 50.0, [_arms("2024-01-01", "win_back", 270, 270, 20, 20)])
    assert got.source == "measured"
    assert 0.005 < got.rate < 0.06

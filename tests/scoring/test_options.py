"""Scoring options and the as-of rules, checked in the library before any work starts."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest
from omegaconf import OmegaConf

from churn import scoring
from churn.errors import ConfigError, DataError
from tests.conftest import compose_config


def _options(**score: Any) -> dict[str, Any]:
    cfg = compose_config("score")

    def node(name: str) -> Any:
        return OmegaConf.to_container(cfg[name], resolve=True)

    return {
        "tiers": node("tiers"),
        "offer_values": node("offers"),
        "drift": {"warn": cfg.drift.warn, "flag": cfg.drift.flag},
        "score": {**node("score"), **score},
        "targets": list(cfg.export.targets),
        "postgres": OmegaConf.to_container(cfg.export.postgres, resolve=True),
        "engine_name": "duckdb",
    }


def test_score_options_from_the_default_config() -> None:
    options = scoring.ScoreOptions.from_mappings(**_options())

    assert options.reasons_for == "at_risk"
    assert options.targets == ("files",)
    assert not options.distributed


@pytest.mark.parametrize(
    ("score", "message"),
    [
        ({"reasons_for": "some"}, r"score\.reasons_for: expected at_risk, offered, all or none"),
        ({"batch_size": 0}, r"score\.batch_size: expected >= 1; got 0"),
        ({"batch_size": "abc"}, r"score\.batch_size: expected a whole number; got 'abc'"),
        ({"distributed": True}, r"score\.distributed=true .* needs engine=spark; got duckdb"),
    ],
)
def test_score_options_refuse_bad_values(score: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        scoring.ScoreOptions.from_mappings(**_options(**score))


def test_score_options_refuse_targets_without_files() -> None:
    with pytest.raises(ConfigError, match=r"export\.targets: expected files"):
        scoring.ScoreOptions.from_mappings(**{**_options(), "targets": ["postgres"]})


def _transactions(*days: int) -> pa.Table:
    stamps = [dt.datetime(2024, 1, 1) + dt.timedelta(days=d) for d in days]
    return pa.table({"timestamp": pa.array(stamps, pa.timestamp("us"))})


def test_resolve_as_of_defaults_to_the_data_end() -> None:
    end = pd.Timestamp("2024-02-01")

    assert scoring.resolve_as_of(None, end, _transactions(0, 10)) == end
    assert scoring.resolve_as_of("2024-01-05", end, _transactions(0, 10)) == pd.Timestamp(
        "2024-01-05"
    )


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        ("soon", ConfigError, r"as_of: expected a date YYYY-MM-DD; got 'soon'"),
        ("2024-01-05 10:00", ConfigError, r"as_of: expected a date without a time"),
        ("2024-01-01", DataError, r"as_of 2024-01-01 is before the data"),
    ],
)
def test_resolve_as_of_refuses(value: str, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        scoring.resolve_as_of(value, pd.Timestamp("2024-02-01"), _transactions(0, 10))


def test_warn_if_old_warns_past_the_limit(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="churn.scoring"):
        scoring.warn_if_old("2024-01-01", pd.Timestamp("2024-06-01"), 90)
        scoring.warn_if_old("2024-05-01", pd.Timestamp("2024-06-01"), 90)

    assert len(caplog.records) == 1
    assert "retrain it" in caplog.records[0].getMessage()

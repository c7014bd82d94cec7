"""World parameters from config: unknown keys, bad values, defaults."""

from __future__ import annotations

import dataclasses

import pytest

from churn import synthetic
from churn.errors import ConfigError


def test_world_params_from_mapping_unknown_key() -> None:
    with pytest.raises(ConfigError, match=r"unknown keys \['purchase_rte'\]"):
        synthetic.WorldConfig.from_mapping({"purchase_rte": 0.1})


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("fade_fraction", 1.5, r"fade_fraction: expected a probability in \[0, 1\); got 1.5"),
        ("purchase_rate_mean", 0.0, r"purchase_rate_mean: expected > 0; got 0.0"),
        ("weekly_factors", [1.0, 1.0], r"weekly_factors: wrong length 2"),
        ("end_date", "2023-03-01", "at least a year after start_date"),
    ],
)
def test_world_params_from_mapping_invalid_value(key: str, value: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        synthetic.WorldConfig.from_mapping({key: value})


def test_world_params_defaults_equal_demo_config(world: synthetic.WorldConfig) -> None:
    """conf/world/demo.yaml is the reference; the code's defaults must not drift from it."""
    assert dataclasses.asdict(world) == dataclasses.asdict(synthetic.WorldConfig())

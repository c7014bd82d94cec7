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
        ("acquisition_days", 0, r"acquisition_days: expected null or a whole number of days"),
        ("acquisition_days", 2000, r"in \[1, 1096\] \(the observed period\); got 2000"),
        ("acquisition_days", 12.5, r"acquisition_days: .*; got 12.5"),
        ("acquisition_growth_kind", "cubic", r"expected one of \['linear', 'exponential'\]"),
        ("acquisition_growth", -1.0, r"acquisition_growth: expected > -1"),
        ("shock_date", "soon", r"shock_date: expected null or a date; got 'soon'"),
        ("shock_date", "2022-06-01", r"shock_date: expected a date after start_date 2023-01-01"),
        ("shock_date", "2030-01-01", r"before the simulated end 2026-06-30"),
        ("shock_fraction", 1.5, r"shock_fraction: expected a probability in \[0, 1\]; got 1.5"),
        ("shock_rate_factor", 1.2, r"shock_rate_factor: expected a factor in \(0, 1\]"),
        ("shock_rate_factor", 0.0, r"shock_rate_factor: .*; got 0.0"),
        ("shock_hazard_factor", 0.5, r"shock_hazard_factor: expected >= 1 .*; got 0.5"),
        ("holiday_boost", -0.1, r"holiday_boost must be >= 0 and holiday_width_days > 0"),
        ("holiday_width_days", 0.0, r"holiday_width_days > 0; got 0.0, 0.0"),
        ("holiday_peak_day", 400, r"holiday_peak_day: expected a day of the year in \[1, 366\]"),
        ("purchase_process", "weibull", r"purchase_process: expected one of \['poisson'"),
        ("erlang_shape", 0, r"erlang_shape: expected a whole number in \[1, 20\]; got 0"),
        ("erlang_shape", True, r"erlang_shape: .*; got True"),
    ],
)
def test_world_params_from_mapping_invalid_value(key: str, value: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        synthetic.WorldConfig.from_mapping({key: value})


def test_world_params_defaults_equal_demo_config(world: synthetic.WorldConfig) -> None:
    """conf/world/demo.yaml is the reference; the code's defaults must not drift from it."""
    assert dataclasses.asdict(world) == dataclasses.asdict(synthetic.WorldConfig())

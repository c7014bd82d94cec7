"""The ``uplift`` config node."""

from __future__ import annotations

import pytest

from churn.errors import ConfigError
from churn.uplift.settings import UpliftConfig


def test_uplift_config_defaults_round_trip() -> None:
    config = UpliftConfig.from_mapping({})
    assert UpliftConfig.from_mapping(config.to_dict()) == config


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"learner": "s"}, r"uplift.learner: expected one of \['t', 'x'\]"),
        ({"min_campaigns": 1}, "uplift.min_campaigns: expected a whole number >= 2"),
        ({"min_rows_per_offer": 0}, "uplift.min_rows_per_offer: expected a whole number >= 1"),
        ({"features": []}, "uplift.features: expected a non-empty list"),
        ({"features": ["a", "a"]}, "uplift.features: names repeat"),
        ({"gate_margin": -0.1}, "uplift.gate_margin: expected a finite number >= 0"),
        ({"per_offer": "yes"}, "uplift.per_offer: expected true or false"),
        ({"params": {"num_leaves": "many"}}, "uplift.params"),
        ({"paramz": {}}, r"uplift: unknown keys \['paramz'\]"),
    ],
)
def test_uplift_config_bad_values_are_refused(values: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        UpliftConfig.from_mapping(values)

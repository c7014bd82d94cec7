"""The shared settings builder: unknown keys, lossless conversion, clear refusals."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pytest

from churn.config import Config, build, check_keys, convert
from churn.errors import ConfigError
from churn.offers import OfferConfig
from churn.scoring import TierConfig


@dataclass(frozen=True)
class _Example(Config):
    section: ClassVar[str] = "example"

    rate: float = 0.5
    count: int = 3
    edges: tuple[float, ...] = (0.0, 1.0)
    limit: float | None = None

    def validate(self) -> None:
        if self.rate > 1:
            raise ConfigError(f"example.rate: expected at most 1; got {self.rate}")


def test_from_mapping_converts_losslessly() -> None:
    got = _Example.from_mapping({"rate": 1, "edges": [0, "0.5", 1], "limit": None, "count": 4})

    assert got == _Example(rate=1.0, count=4, edges=(0.0, 0.5, 1.0), limit=None)
    assert isinstance(got.rate, float)
    assert isinstance(got.edges, tuple)


def test_from_mapping_unknown_key_names_section_and_known_keys() -> None:
    with pytest.raises(ConfigError, match=r"example: unknown keys \['rat'\]; expected some of"):
        _Example.from_mapping({"rat": 0.1})


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"rate": "abc"}, r"example\.rate: expected a finite number; got 'abc'"),
        ({"rate": True}, r"example\.rate: expected a finite number; got True"),
        ({"rate": ""}, r"example\.rate: expected a finite number; got ''"),
        ({"edges": [0.0, "abc"]}, r"example\.edges: expected a finite number; got 'abc'"),
        ({"edges": "0,1"}, r"example\.edges: expected a list; got '0,1'"),
        ({"limit": "x"}, r"example\.limit: expected a finite number; got 'x'"),
    ],
)
def test_from_mapping_refuses_values_of_another_type(
    values: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        _Example.from_mapping(values)


def test_from_mapping_runs_validate() -> None:
    with pytest.raises(ConfigError, match=r"example\.rate: expected at most 1; got 2\.0"):
        _Example.from_mapping({"rate": 2})


def test_build_does_not_validate_and_passes_other_types_on() -> None:
    got = build(_Example, {"rate": 5, "count": "seven"}, where="example")

    assert got.rate == 5.0
    assert got.count == "seven"  # whole numbers are the class's validate's to check


def test_convert_leaves_unannotated_kinds_alone() -> None:
    assert convert("x", {"a": 1}, dict) == {"a": 1}


def test_check_keys_accepts_known_keys() -> None:
    check_keys("where", ["a"], ["a", "b"])
    with pytest.raises(ConfigError, match=r"where: unknown keys \['c'\]"):
        check_keys("where", ["a", "c"], ["a", "b"])


def test_offer_budget_not_a_number_is_a_config_error() -> None:
    catalog = {"call": {"cost": 1.0, "save_rate": 0.1, "tiers": ["high"]}}

    with pytest.raises(ConfigError, match=r"offers\.budget: expected a finite number; got 'abc'"):
        OfferConfig.from_mapping({"budget": "abc", "catalog": catalog}, tiers=["high"])


def test_tier_edges_not_numbers_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"tiers\.edges: expected a finite number; got 'abc'"):
        TierConfig.from_mapping({"edges": [0.0, "abc", 1.0], "names": ["low", "high"]})

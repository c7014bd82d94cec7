"""Risk tiers, the feature schema check and accounting for every customer of the input."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from churn import scoring
from churn.bundle import FeatureSpec
from churn.errors import BundleError, ConfigError

TIERS = scoring.TierConfig()


def test_assign_tiers_thresholds_cover_zero_to_one() -> None:
    p = np.array([0.0, 0.29, 0.3, 0.59, 0.6, 0.849, 0.85, 1.0])
    tiers = scoring.assign_tiers(p, TIERS)
    assert tiers.tolist() == [
        "low",
        "low",
        "medium",
        "medium",
        "high",
        "high",
        "very_high",
        "very_high",
    ]


def test_assign_tiers_quantiles_split_the_ranked_population() -> None:
    config = scoring.TierConfig(method="quantiles", edges=(0.0, 0.5, 0.8, 0.95, 1.0))
    p = np.random.default_rng(0).random(10_000)

    tiers = scoring.assign_tiers(p, config)

    shares = tiers.value_counts(normalize=True)
    assert shares["low"] == pytest.approx(0.5, abs=0.01)
    assert shares["medium"] == pytest.approx(0.3, abs=0.01)
    assert shares["high"] == pytest.approx(0.15, abs=0.01)
    assert shares["very_high"] == pytest.approx(0.05, abs=0.01)
    # a higher probability never gets a lower tier
    order = {name: i for i, name in enumerate(config.names)}
    ranks = tiers.map(order).to_numpy()[np.argsort(p)]
    assert (np.diff(ranks) >= 0).all()


def test_assign_tiers_rejects_bad_probabilities() -> None:
    with pytest.raises(ValueError, match="probabilities in"):
        scoring.assign_tiers(np.array([0.2, 1.5]), TIERS)
    assert scoring.assign_tiers(np.array([]), TIERS).empty


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"edges": [0.0, 0.6, 0.3, 1.0], "names": ["a", "b", "c"]}, "strictly ascending"),
        ({"edges": [0.1, 0.5, 1.0], "names": ["a", "b"]}, "from 0 to 1"),
        ({"edges": [0.0, 0.5, 0.9], "names": ["a", "b"]}, "from 0 to 1"),
        ({"edges": [0.0, 0.5, 1.0], "names": ["a"]}, "2 distinct names"),
        ({"edges": [0.0, 0.5, 1.0], "names": ["a", "a"]}, "distinct names"),
        ({"edges": [0.0, 0.5, 1.0], "names": ["a", "b"], "at_risk": ["c"]}, "not tiers"),
        ({"method": "deciles"}, "tiers.method"),
        ({"colour": "red"}, "unknown keys"),
    ],
)
def test_tier_config_invalid(values: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        scoring.TierConfig.from_mapping(values)


SCHEMA = (
    FeatureSpec("recency_days", "float64"),
    FeatureSpec("frequency", "int64"),
    FeatureSpec("lifecycle_stage", "str"),
)


def test_check_schema_accepts_same_kinds() -> None:
    frame = pd.DataFrame(
        {
            "customer_id": ["a"],
            "recency_days": [1.0],
            "frequency": np.array([2], dtype=np.int64),
            "lifecycle_stage": pd.Series(["new"], dtype="string"),
            "extra": [0.0],
        }
    )
    assert scoring.check_schema(frame, SCHEMA) == ["recency_days", "frequency", "lifecycle_stage"]


def test_check_schema_mismatch() -> None:
    frame = pd.DataFrame({"recency_days": [1.0], "frequency": [2.0], "lifecycle_stage": ["new"]})
    with pytest.raises(BundleError, match="frequency: trained int64, now float64"):
        scoring.check_schema(frame, SCHEMA)
    with pytest.raises(BundleError, match=r"expects \['lifecycle_stage'\]"):
        scoring.check_schema(frame.drop(columns="lifecycle_stage"), SCHEMA)
    with pytest.raises(BundleError, match="lists no features"):
        scoring.check_schema(frame, ())


def test_account_for_customers_every_id_once() -> None:
    as_of = pd.Timestamp("2024-06-01")
    ts = [
        dt.datetime(2024, 1, 1),  # a: buyer
        dt.datetime(2024, 2, 1),  # b: only a refund before as_of
        dt.datetime(2024, 7, 1),  # c: first seen after as_of
    ]
    tx = pa.table(
        {
            "customer_id": ["a", "b", "c"],
            "timestamp": pa.array(ts, pa.timestamp("us")),
            "amount": [10.0, -5.0, 3.0],
        }
    )
    customers = pa.table(
        {
            "customer_id": ["a", "d", "e", "f"],
            "signup_date": pa.array(
                [dt.date(2023, 12, 1), dt.date(2024, 3, 1), dt.date(2024, 9, 1), None],
                pa.date32(),
            ),
        }
    )

    no_purchase, rejects = scoring.account_for_customers(
        tx, as_of=as_of, buyers=["a"], customers=customers, rejected_ids=["g", "a"]
    )

    assert no_purchase == ["b", "d", "f"]
    assert dict(zip(rejects["customer_id"], rejects["reason"], strict=True)) == {
        "c": "not yet a customer on 2024-06-01: first seen at or after the as-of date",
        "e": "not yet a customer on 2024-06-01: first seen at or after the as-of date",
        "g": (
            "every row of this customer was rejected at load (the rows: the file named "
            "input.rejected_rows_file in manifest.json)"
        ),
    }
    everyone = {"a", *no_purchase, *rejects["customer_id"]}
    assert everyone == {"a", "b", "c", "d", "e", "f", "g"}

"""Which customers of an export were randomised, and their arm and weight."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churn.errors import DataError
from churn.uplift.history import COLUMNS, feature_columns, randomised_rows


def _scores() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d", "e", "f", "g"],
            "status": ["scored"] * 5 + ["lapsed", "scored"],
            "churn_probability": [0.5, 0.6, 0.7, 0.2, 0.9, np.nan, 0.4],
            "risk_tier": ["high"] * 7,
            "lifecycle_stage": ["established"] * 7,
            "value": [10.0] * 7,
            "offer": ["call", None, "voucher", None, None, "win_back", None],
            "contact_status": ["offer", "control", "explore", "no_offer", "no_offer", "offer", "x"],
            "assignment_probability": [0.855, 0.045, 0.05, 0.9, 1.0, 0.9, 1.0],
        }
    )


def test_randomised_rows_keeps_arms_and_inverse_probability_weights() -> None:
    rows, skipped = randomised_rows(_scores(), where="test")
    assert rows["customer_id"].tolist() == ["a", "b", "c", "d"]
    assert rows["treatment"].tolist()[0] == "call"
    assert pd.isna(rows["treatment"].iloc[1])  # the control group: untreated
    assert rows["treatment"].iloc[2] == "voucher"  # an explorer: treated
    assert pd.isna(rows["treatment"].iloc[3])  # randomised by exploration, got nothing
    np.testing.assert_allclose(rows["weight"], 1 / np.array([0.855, 0.045, 0.05, 0.9]))
    # e and g followed from their scores (probability 1); f has no probability
    assert skipped == {"not scored": 1, "not randomised": 2}


def test_randomised_rows_without_contact_columns_says_which() -> None:
    with pytest.raises(DataError, match=r"missing \['assignment_probability'\]"):
        randomised_rows(_scores().drop(columns="assignment_probability"), where="test")


@pytest.mark.parametrize("bad", [0.0, -0.1, 1.5])
def test_randomised_rows_probability_outside_the_unit_interval_is_refused(bad: float) -> None:
    scores = _scores()
    scores.loc[0, "assignment_probability"] = bad
    with pytest.raises(DataError, match=r"must lie in \(0, 1\]"):
        randomised_rows(scores, where="test")


def test_randomised_rows_columns_are_the_contract() -> None:
    assert set(COLUMNS) <= set(_scores().columns)


def test_feature_columns_missing_feature_names_it_and_the_alternatives() -> None:
    table = pd.DataFrame({"customer_id": ["a"], "recency_days": [3]})
    with pytest.raises(DataError, match=r"\['frequency'\] are not computed.*recency_days"):
        feature_columns(table, ["recency_days", "frequency"], where="test")
    out = feature_columns(table, ["recency_days"], where="test")
    assert out["recency_days"].dtype == np.float64

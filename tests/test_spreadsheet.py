"""CSV files for people: no live formulas in text cells, numbers rounded, the input untouched."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churn import spreadsheet


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ('=HYPERLINK("http://x","y")', '\'=HYPERLINK("http://x","y")'),
        ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("c-=1", "c-=1"),
        ("no purchase for 74 days", "no purchase for 74 days"),
        ("", ""),
        ("-12.50", "-12.50"),  # a plain number is no formula
        ("+3", "+3"),
        ("-1e3", "-1e3"),
    ],
)
def test_neutralise_prefixes_formula_text_only(cell: str, expected: str) -> None:
    assert spreadsheet.neutralise(cell) == expected


@pytest.mark.parametrize("cell", [None, np.nan, pd.NA, -5.25, 3, True])
def test_neutralise_leaves_non_text_alone(cell: object) -> None:
    assert spreadsheet.neutralise(cell) is cell


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": pd.Series(["=1+1", "@x", None], dtype="string"),
            "reason_1": ["-cheap", "ok", np.nan],
            "risk_tier": pd.Categorical(["high", "=evil", "low"]),
            "churn_probability": [0.123456, 0.9999, np.nan],
            "value": [12.3456, -7.891, 0.0],
            "value_at_risk": pd.Series([1.006, None, 2.0], dtype="Float64"),
            "offer_cost": [0.2, 2.0, 25.0],
            "expected_net_benefit": [-1.23456, 0.0, 3.14159],
            "amount": [-12.346, 4.0, 1.0],
            "n_purchases": [3, 1, 2],
            "recency_days": [12.3456, 1.0, 2.0],  # not money, not a probability: as it is
        }
    )


def test_for_people_neutralises_text_and_rounds_by_column_name() -> None:
    frame = _frame()
    before = frame.copy()
    out = spreadsheet.for_people(frame)
    pd.testing.assert_frame_equal(frame, before)  # the input is not changed
    assert out["customer_id"].tolist()[:2] == ["'=1+1", "'@x"]
    assert pd.isna(out["customer_id"].iloc[2])
    assert out["reason_1"].tolist()[:2] == ["'-cheap", "ok"]
    assert out["risk_tier"].tolist() == ["high", "'=evil", "low"]
    assert out["churn_probability"].tolist()[:2] == [0.123, 1.0]
    assert out["value"].tolist() == [12.35, -7.89, 0.0]
    assert out["offer_cost"].tolist() == [0.2, 2.0, 25.0]
    assert out["expected_net_benefit"].tolist() == [-1.23, 0.0, 3.14]
    assert out["amount"].tolist() == [-12.35, 4.0, 1.0]
    assert out["n_purchases"].tolist() == [3, 1, 2]
    assert out["recency_days"].tolist() == [12.3456, 1.0, 2.0]


def test_write_csv_keeps_negative_numbers_as_numbers(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    spreadsheet.write_csv(_frame(), target)
    text = target.read_text(encoding="utf-8")
    header, first, *_ = text.splitlines()
    assert header.startswith("customer_id,reason_1,risk_tier,churn_probability,value,")
    assert first == "'=1+1,'-cheap,high,0.123,12.35,1.01,0.2,-1.23,-12.35,3,12.3456"
    back = pd.read_csv(target)
    assert back["value"].tolist() == [12.35, -7.89, 0.0]


def test_write_csv_empty_frame_has_the_header(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    spreadsheet.write_csv(pd.DataFrame(columns=["customer_id", "churn_probability"]), target)
    assert target.read_text(encoding="utf-8") == "customer_id,churn_probability\n"


def test_every_csv_the_library_writes_goes_through_for_people() -> None:
    src = Path(__file__).resolve().parents[1] / "src" / "churn"
    raw = [
        f"{path.relative_to(src)}:{number}"
        for path in sorted(src.rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if ".to_csv(" in line and "for_people(" not in line
    ]
    assert raw == []

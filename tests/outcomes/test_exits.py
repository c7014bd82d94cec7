"""Exit reasons of a hand-made campaign: counts by tier, arm and the model's top reason."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from churn import outcomes
from churn.data import Dataset
from churn.errors import ConfigError, DataError
from tests.outcomes.campaign_data import AS_OF, campaign, write_export

REASONS = ("price", "service", "product_fit", "competitor", "no_longer_needed", "other")
EVENTS = pa.schema(
    [
        ("customer_id", pa.string()),
        ("timestamp", pa.timestamp("us")),
        ("type", pa.string()),
        ("value", pa.float64()),
    ]
)
# (customer, date, type, value): the window with 30 days' grace is [2025-01-01, 2025-05-01)
ROWS = [
    ("t000", "2025-01-20", "exit_survey", 1.0),  # contacted, high: service
    ("t000", "2025-02-20", "exit_survey", 0.0),  # a second answer: only the first counts
    ("t001", "2025-03-01", "exit_survey", 1.0),  # contacted, high: service
    ("t002", "2025-04-20", "exit_survey", 0.0),  # contacted, high: price (in the grace days)
    ("c000", "2025-02-01", "exit_survey", 3.0),  # control, high: competitor
    ("n000", "2025-02-01", "exit_survey", 2.0),  # no offer, low: product_fit
    ("n001", "2025-05-01", "exit_survey", 0.0),  # after the grace days: not counted
    ("n002", "2024-12-20", "exit_survey", 0.0),  # before the as-of date: not counted
    ("late", "2025-02-01", "exit_survey", 5.0),  # not in the export: not counted
    ("t003", "2025-02-01", "nps", 3.0),  # another event type
]
TOP_REASONS = {
    "t000": "2 complaints in the last 90 days",
    "t001": "no purchase for 74 days, usually every 21",
    "t002": "spending less: 10.00 in the last 90 days vs 40.00 in the 90 days before",
    "c000": "2 complaints in the last 90 days",
}


def _events(rows: list[tuple[str, str, str, float]]) -> pa.Table:
    frame = pd.DataFrame(rows, columns=["customer_id", "timestamp", "type", "value"])
    frame["timestamp"] = pd.to_datetime(frame["timestamp"])
    return pa.Table.from_pandas(frame, preserve_index=False).cast(EVENTS)


def _measure(
    tmp_path: Path, rows: list[tuple[str, str, str, float]], **settings: object
) -> outcomes.CampaignOutcome:
    scores, tx = campaign()
    folder = write_export(tmp_path / "exports", scores)
    at_risk = scores[scores["customer_id"].isin(TOP_REASONS)].copy()
    at_risk["reason_1"] = at_risk["customer_id"].map(TOP_REASONS)
    at_risk.to_parquet(folder / "at_risk.parquet", index=False)
    table = pa.Table.from_pandas(tx, preserve_index=False).cast(
        pa.schema(
            [("customer_id", pa.string()), ("timestamp", pa.timestamp("us")), ("amount", "f8")]
        )
    )
    events = _events(rows)
    dataset = Dataset(table, None, events, pd.DataFrame(), {}, dt.datetime(2030, 1, 1))
    observed = outcomes.observe(dataset, {"name": "duckdb", "threads": 1})
    (past,) = outcomes.due_exports(tmp_path / "exports", observed.end, as_of=AS_OF)
    return outcomes.measure_campaign(
        past,
        observed,
        outcomes.OutcomeConfig.from_mapping(settings),
        margin=0.3,
        save_rates={"voucher": 0.15},
        answers=outcomes.survey_answers(dataset.events, REASONS),
    )


def _by(records: list[dict[str, object]], key: str) -> dict[object, dict[str, object]]:
    return {r[key]: r for r in records}


def test_exit_reasons_known_counts(tmp_path: Path) -> None:
    summary = _measure(tmp_path, ROWS).summary["exit_reasons"]
    assert summary["answered"] == 5
    assert summary["window"] == {"start": "2025-01-01", "end": "2025-05-01"}
    assert summary["grace_days"] == 30
    assert summary["complete"] is False  # the data end is 2025-04-11
    tiers = _by(summary["by_tier"], "risk_tier")
    assert sorted(tiers) == ["high", "low"]
    assert tiers["high"] | {"model_reasons": None} == {
        "risk_tier": "high",
        "answered": 4,
        "price": 1,
        "service": 2,
        "product_fit": 0,
        "competitor": 1,
        "no_longer_needed": 0,
        "other": 0,
        "model_reasons": None,
    }
    assert tiers["high"]["model_reasons"] == {"complaints": 2, "inactivity": 1, "trend": 1}
    assert tiers["low"]["product_fit"] == 1
    assert tiers["low"]["model_reasons"] == {"not_listed": 1}
    arms = _by(summary["by_arm"], "arm")
    assert [r["arm"] for r in summary["by_arm"]] == ["contacted", "control", "none"]
    assert (arms["contacted"]["answered"], arms["contacted"]["service"]) == (3, 2)
    assert (arms["control"]["answered"], arms["control"]["competitor"]) == (1, 1)
    assert (arms["none"]["answered"], arms["none"]["product_fit"]) == (1, 1)
    model = _by(summary["by_model_reason"], "model_reason")
    assert sorted(model) == ["complaints", "inactivity", "not_listed", "trend"]
    assert (model["complaints"]["service"], model["complaints"]["competitor"]) == (1, 1)
    assert model["inactivity"]["service"] == 1
    assert model["trend"]["price"] == 1


def test_exit_reasons_grace_days_are_a_setting(tmp_path: Path) -> None:
    summary = _measure(tmp_path, ROWS, survey_grace_days=0).summary["exit_reasons"]
    assert summary["answered"] == 4  # t002's answer of 2025-04-20 is now outside
    assert summary["window"]["end"] == "2025-04-01"
    assert summary["complete"] is True


def test_exit_reasons_absent_without_answers(tmp_path: Path) -> None:
    measured = _measure(tmp_path, [r for r in ROWS if r[2] != "exit_survey"])
    assert "exit_reasons" not in measured.summary
    assert measured.exit_reasons is None
    folder = outcomes.write_outcomes(tmp_path / "out" / AS_OF, measured)
    assert not (folder / outcomes.EXIT_REASONS).exists()


def test_exit_reasons_csv_and_byte_identical_reruns(tmp_path: Path) -> None:
    folder = outcomes.write_outcomes(tmp_path / "out" / AS_OF, _measure(tmp_path, ROWS))
    first = {p.name: p.read_bytes() for p in sorted(folder.iterdir())}
    outcomes.write_outcomes(folder, _measure(tmp_path, ROWS))
    assert {p.name: p.read_bytes() for p in sorted(folder.iterdir())} == first
    table = pd.read_csv(folder / outcomes.EXIT_REASONS)
    assert list(table.columns) == ["breakdown", "group", "exit_reason", "customers"]
    assert set(table["breakdown"]) == {"risk_tier", "arm", "model_reason"}
    for breakdown in ("risk_tier", "arm", "model_reason"):
        assert table.loc[table["breakdown"] == breakdown, "customers"].sum() == 5
    row = table[(table["group"] == "contacted") & (table["exit_reason"] == "service")]
    assert row["customers"].tolist() == [2]
    summary = json.loads(first["outcomes.json"])
    assert summary["exit_reasons"]["answered"] == 5


@pytest.mark.parametrize(
    ("phrase", "family"),
    [
        ("no purchase for 74 days, usually every 21", "inactivity"),
        ("2.5 times their usual gap since the last purchase (50 days vs every 20)", "inactivity"),
        ("1 complaint in the last 90 days", "complaints"),
        ("3 support tickets in the last 90 days", "tickets"),
        ("a detractor: last NPS answer 3 of 10", "nps"),
        ("spending less: 1.00 in the last 90 days vs 9.00 in the 90 days before", "trend"),
        ("small baskets: 4.20 on average", "spend"),
        ("buys in only 1 category", "categories"),
        ("a new customer, still forming a habit", "lifecycle"),
        ("bought on 2 days in all", "frequency"),
        (None, "not_listed"),
        (pd.NA, "not_listed"),
        ("something new", "other"),
    ],
)
def test_reason_family_of_the_models_phrases(phrase: object, family: str) -> None:
    assert outcomes.reason_family(phrase) == family


def test_outcome_config_refuses_negative_grace() -> None:
    with pytest.raises(ConfigError, match=r"outcomes.survey_grace_days: expected a whole number"):
        outcomes.OutcomeConfig.from_mapping({"survey_grace_days": -1})


def test_survey_answers_refuse_values_that_index_no_reason() -> None:
    events = _events([("t000", "2025-01-20", "exit_survey", 6.0)])
    with pytest.raises(DataError, match=r"exit_survey events: expected values that index"):
        outcomes.survey_answers(events, REASONS)
    assert outcomes.survey_answers(None, REASONS).rows.empty

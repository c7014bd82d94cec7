"""A hand-made campaign measured end to end in the library, and its files."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from churn import outcomes
from churn.data import Dataset
from churn.errors import ConfigError
from tests.outcomes.campaign_data import AS_OF, campaign, write_export

SAVE_RATES = {"voucher": 0.15}


def _observed(transactions: pd.DataFrame) -> outcomes.Observed:
    table = pa.Table.from_pandas(transactions, preserve_index=False).cast(
        pa.schema(
            [
                ("customer_id", pa.string()),
                ("timestamp", pa.timestamp("us")),
                ("amount", pa.float64()),
            ]
        )
    )
    dataset = Dataset(table, None, None, pd.DataFrame(), {}, dt.datetime(2030, 1, 1))
    return outcomes.observe(dataset, {"name": "duckdb", "threads": 1})


def _measure(
    tmp_path: Path, scores: pd.DataFrame, tx: pd.DataFrame, **settings: object
) -> outcomes.CampaignOutcome:
    write_export(tmp_path / "exports", scores)
    observed = _observed(tx)
    (past,) = outcomes.due_exports(tmp_path / "exports", observed.end, as_of=AS_OF)
    return outcomes.measure_campaign(
        past,
        observed,
        outcomes.OutcomeConfig.from_mapping(settings),
        margin=0.3,
        save_rates=SAVE_RATES,
    )


def test_observe_data_end_is_the_day_after_the_last_purchase() -> None:
    assert _observed(campaign()[1]).end == pd.Timestamp("2025-04-11")


def test_window_outcomes_refunds_never_count_as_a_purchase() -> None:
    tx = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b", "b", "c"],
            "timestamp": pd.to_datetime(
                ["2025-01-05", "2025-01-20", "2025-02-01", "2025-03-31", "2025-04-05"]
            ),
            "amount": [30.0, -10.0, -5.0, 0.0, 8.0],
        }
    )
    window = outcomes.window_outcomes(_observed(tx), pd.Timestamp(AS_OF), 90).set_index(
        "customer_id"
    )
    assert window.loc["a"].tolist() == [True, 20.0]  # a purchase, spend net of the refund
    assert window.loc["b"].tolist() == [False, -5.0]  # a refund and a zero-value row only
    assert "c" not in window.index  # after the window


def test_measure_campaign_known_answer(tmp_path: Path) -> None:
    scores, tx = campaign()
    measured = _measure(tmp_path, scores, tx)
    row = measured.by_offer.set_index("offer").loc["voucher"]
    assert (row["contacted"], row["control"]) == (100, 50)
    assert (row["churned_contacted"], row["churned_control"]) == (20, 20)
    assert row["save_rate"] == pytest.approx(0.5)
    assert row["customers_saved"] == pytest.approx(20.0)
    assert row["margin_per_customer_contacted"] == pytest.approx(2.4)
    assert row["margin_per_customer_control"] == pytest.approx(1.8)
    assert row["incremental_value"] == pytest.approx(60.0)
    assert row["cost"] == pytest.approx(200.0)
    assert row["roi"] == pytest.approx(-0.7)
    total = measured.summary["total"]
    assert total["offer"] == "all"
    assert total["save_rate"] == pytest.approx(0.5)
    assert measured.summary["plan"] == {
        "expected": pytest.approx(150.0),
        "realised": pytest.approx(-140.0),
        "by_offer": [
            {
                "offer": "voucher",
                "expected_net_benefit": pytest.approx(150.0),
                "realised_net_benefit": pytest.approx(-140.0),
            }
        ],
    }


def test_measure_campaign_customers_who_left_the_data(tmp_path: Path) -> None:
    scores, tx = campaign()
    counts = _measure(tmp_path, scores, tx).summary["counts"]
    assert counts["customers"] == 195
    assert counts["not_in_data"] == 5
    assert (counts["contacted"], counts["control"]) == (103, 52)
    assert (counts["left_data"], counts["left_data_contacted"], counts["left_data_control"]) == (
        5,
        3,
        2,
    )


def test_measure_campaign_realised_performance(tmp_path: Path) -> None:
    scores, tx = campaign()
    performance = _measure(tmp_path, scores, tx).performance
    assert performance.metrics["n_rows"] == 90  # 50 control + 40 without an offer
    assert performance.metrics["roc_auc"] == pytest.approx(1.0)
    assert performance.metrics["brier"] == pytest.approx(8.5 / 90)
    assert not performance.warnings
    tiers = performance.by_tier.set_index("risk_tier")
    assert tiers.loc["high", "predicted_churn"] == pytest.approx(0.52)
    assert tiers.loc["high", "realised_churn"] == pytest.approx(0.4)
    assert tiers.loc["low", "predicted_churn"] == pytest.approx(0.225)
    assert tiers.loc["low", "realised_churn"] == pytest.approx(0.25)


def test_measure_campaign_warns_below_test_metrics(tmp_path: Path) -> None:
    scores, tx = campaign()
    write_export(tmp_path / "exports", scores, test_metrics={"roc_auc": 0.9, "brier": 0.02})
    observed = _observed(tx)
    (past,) = outcomes.due_exports(tmp_path / "exports", observed.end)
    measured = outcomes.measure_campaign(
        past, observed, outcomes.OutcomeConfig(), margin=0.3, save_rates=SAVE_RATES
    )
    assert len(measured.warnings) == 2  # brier above the test value; customers left the data
    assert "realised brier 0.094 is above the bundle's test brier 0.020" in measured.warnings[0]


def test_measure_campaign_overlap_exclude(tmp_path: Path) -> None:
    scores, tx = campaign()
    flagged = scores["customer_id"].isin(["t000", "t050", "c000", "c030", "n000"])
    scores["earlier_campaign"] = pd.array(
        ["2024-11-01" if f else None for f in flagged], dtype="string"
    )
    attributed = _measure(tmp_path / "a", scores, tx)
    assert attributed.summary["counts"]["earlier_campaign"] == 4
    assert attributed.by_offer.set_index("offer").loc["voucher", "contacted"] == 100
    excluded = _measure(tmp_path / "e", scores, tx, overlap="exclude")
    row = excluded.by_offer.set_index("offer").loc["voucher"]
    assert (row["contacted"], row["control"]) == (98, 48)
    assert (row["churned_contacted"], row["churned_control"]) == (19, 19)
    assert excluded.summary["counts"]["excluded_overlap"] == 4
    assert excluded.performance.metrics["n_rows"] == 87


def test_measure_campaign_without_control_offer_measures_the_total(tmp_path: Path) -> None:
    scores, tx = campaign()
    scores["control_offer"] = pd.array([None] * len(scores), dtype="string")
    measured = _measure(tmp_path, scores, tx)
    assert measured.by_offer.set_index("offer").loc["voucher", "control"] == 0
    assert measured.summary["total"]["control"] == 50
    assert measured.summary["total"]["save_rate"] == pytest.approx(0.5)


def test_measure_campaign_empty_control_group(tmp_path: Path) -> None:
    scores, tx = campaign()
    scores = scores[~scores["control_group"]]
    measured = _measure(tmp_path, scores, tx)
    row = measured.by_offer.set_index("offer").loc["voucher"]
    assert row["control"] == 0
    assert not row["measurable"]
    assert row["reason"] == "empty control group"
    assert pd.isna(row["save_rate"])
    json.dumps(measured.summary, allow_nan=False)  # no NaN in the JSON


def test_write_outcomes_is_byte_identical(tmp_path: Path) -> None:
    scores, tx = campaign()
    folder = outcomes.write_outcomes(tmp_path / "out" / AS_OF, _measure(tmp_path, scores, tx))
    first = {p.name: p.read_bytes() for p in sorted(folder.iterdir())}
    outcomes.write_outcomes(folder, _measure(tmp_path, scores, tx))
    assert sorted(first) == [
        "by_offer.csv",
        "by_offer_tier.csv",
        "outcomes.json",
        "performance_by_tier.csv",
    ]
    assert {p.name: p.read_bytes() for p in sorted(folder.iterdir())} == first
    summary = json.loads(first["outcomes.json"])
    assert summary["as_of"] == AS_OF
    assert summary["window"]["end"] == "2025-04-01"


def test_outcome_config_refuses_unknown_overlap() -> None:
    with pytest.raises(ConfigError, match=r"outcomes\.overlap: expected one of"):
        outcomes.OutcomeConfig.from_mapping({"overlap": "ignore"})


def test_outcome_config_refuses_unknown_keys() -> None:
    with pytest.raises(ConfigError, match=r"outcomes: unknown keys \['min_controls'\]"):
        outcomes.OutcomeConfig.from_mapping({"min_controls": 3})

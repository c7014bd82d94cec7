"""Past exports read back: columns, the earlier_campaign column, which exports are due."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from churn import outcomes
from churn.errors import ConfigError, DataError, InsufficientHistoryError
from tests.outcomes.campaign_data import AS_OF, campaign, write_export


def test_read_scores_earlier_campaign_all_null_when_absent(tmp_path: Path) -> None:
    folder = write_export(tmp_path, campaign()[0])
    scores, notes = outcomes.read_scores(folder)
    assert notes == ()
    assert scores[outcomes.EARLIER].isna().all()
    assert scores["control_group"].dtype == bool


def test_read_scores_keeps_earlier_campaign(tmp_path: Path) -> None:
    scores = campaign()[0]
    scores["earlier_campaign"] = pd.array(["2024-11-01"] + [None] * (len(scores) - 1))
    read, _ = outcomes.read_scores(write_export(tmp_path, scores))
    assert read[outcomes.EARLIER].notna().sum() == 1


def test_read_scores_refuses_missing_columns(tmp_path: Path) -> None:
    folder = write_export(tmp_path, campaign()[0].drop(columns=["control_offer"]))
    with pytest.raises(DataError, match=r"missing \['control_offer'\]"):
        outcomes.read_scores(folder)


def test_read_scores_takes_offer_columns_from_the_at_risk_list(tmp_path: Path) -> None:
    scores = campaign()[0]
    offer_columns = ["offer", "offer_cost", "expected_net_benefit", "control_group"]
    folder = write_export(tmp_path, scores.drop(columns=[*offer_columns, "control_offer"]))
    planned = scores[scores["offer"].notna() | scores["control_group"]]
    planned[["customer_id", *offer_columns]].to_parquet(folder / "at_risk.parquet")
    read, notes = outcomes.read_scores(folder)
    assert read["offer"].notna().sum() == 103
    assert read["control_group"].sum() == 52
    assert read["control_offer"].isna().all()
    assert "only the total (all offers) is measured" in notes[1]


def test_due_exports_refuses_a_window_not_yet_passed(tmp_path: Path) -> None:
    write_export(tmp_path, campaign()[0])
    with pytest.raises(InsufficientHistoryError, match="can be measured from 2025-04-01"):
        outcomes.due_exports(tmp_path, pd.Timestamp("2025-03-31"), as_of=AS_OF)


def test_due_exports_window_ending_at_the_data_end_is_due(tmp_path: Path) -> None:
    write_export(tmp_path, campaign()[0])
    (past,) = outcomes.due_exports(tmp_path, pd.Timestamp("2025-04-01"), as_of=AS_OF)
    assert past.window_end == pd.Timestamp("2025-04-01")
    assert past.horizon_days == 90


def test_due_exports_all_skips_those_not_due(tmp_path: Path) -> None:
    write_export(tmp_path, campaign()[0])
    write_export(tmp_path, campaign()[0], as_of="2025-02-01")
    (tmp_path / "notes").mkdir()
    due = outcomes.due_exports(tmp_path, pd.Timestamp("2025-04-15"))
    assert [str(p.as_of.date()) for p in due] == [AS_OF]


def test_due_exports_missing_folder_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=f"export folder {tmp_path / '2025-06-01'} not found"):
        outcomes.due_exports(tmp_path, pd.Timestamp("2026-01-01"), as_of="2025-06-01")


def test_named_folder_refuses_a_non_date(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="expected a date YYYY-MM-DD"):
        outcomes.named_folder(tmp_path, "last-week")

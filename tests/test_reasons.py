"""Plain-words reasons: a phrase for every feature, and the top reasons per customer."""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pandas as pd
import pytest

from churn import reasons
from churn.features import FeatureConfig, feature_docs

FEATURES = list(feature_docs(FeatureConfig()))
# Only a missing value would print: "nan", "None", "<NA>", "unknown".
MISSING_WORDS = re.compile(r"\bnan\b|\bnone\b|<na>|\bunknown\b", re.IGNORECASE)
MISSING_ROWS = ({n: math.nan for n in FEATURES}, dict.fromkeys(FEATURES), {})
ONE_PURCHASE = "only one purchase so far"

REALISTIC: dict[str, Any] = {
    "recency_days": 74.0,
    "tenure_days": 400.0,
    "frequency": 12.0,
    "n_purchases": 14.0,
    "monetary_sum": 1234.5,
    "monetary_mean": 88.18,
    "monetary_std": 20.5,
    "monetary_max": 150.0,
    "last_amount": 45.0,
    "purchases_30d": 0.0,
    "spend_30d": 0.0,
    "purchases_90d": 1.0,
    "spend_90d": 40.0,
    "purchases_180d": 4.0,
    "spend_180d": 300.0,
    "purchases_365d": 9.0,
    "spend_365d": 800.0,
    "purchase_trend_90d": -1.1,
    "spend_trend_90d": -1.5,
    "gap_mean_days": 21.0,
    "gap_std_days": 6.0,
    "gap_max_days": 60.0,
    "gap_last_days": 25.0,
    "recency_gap_ratio": 74.0 / 21.0,
    "active_months": 7.0,
    "refund_share": 0.05,
    "category_count": 2.0,
    "top_category_share": 0.8,
    "lifecycle_stage": "lapsing",
    "complaints_90d": 1.0,
    "tickets_90d": 2.0,
    "last_nps": 4.0,
    "nps_detractor": 1.0,
    "btyd_p_alive": 0.31,
    "btyd_expected_purchases": 0.4,
    "btyd_p_no_purchase": 0.62,
}


def test_has_phrase_every_documented_feature() -> None:
    assert set(REALISTIC) == set(FEATURES)
    assert [name for name in FEATURES if not reasons.has_phrase(name)] == []
    other = FeatureConfig(windows=(7, 14), trend_days=30, event_days=60)
    assert all(reasons.has_phrase(name) for name in feature_docs(other))


def test_has_phrase_unknown_feature_falls_back() -> None:
    assert not reasons.has_phrase("shoe_size")
    assert not reasons.has_phrase("purchases_30d_extra")
    assert reasons.phrase("shoe_size", {"shoe_size": 42}) == "shoe size is 42"


@pytest.mark.parametrize("name", FEATURES)
def test_phrase_realistic_row_reads_plainly(name: str) -> None:
    text = reasons.phrase(name, REALISTIC)
    assert isinstance(text, str)
    assert text.strip()
    assert not MISSING_WORDS.search(text)
    assert "_" not in text  # no feature names in a reason


@pytest.mark.parametrize("name", FEATURES)
def test_phrase_missing_values_do_not_raise(name: str) -> None:
    for row in MISSING_ROWS:
        text = reasons.phrase(name, row)
        assert text is None or text.strip()


@pytest.mark.parametrize("name", FEATURES)
def test_phrase_missing_values_print_no_nan_or_unknown(name: str) -> None:
    for row in MISSING_ROWS:
        assert not MISSING_WORDS.search(reasons.phrase(name, row) or ""), row


@pytest.mark.parametrize("name", FEATURES)
def test_phrase_one_purchase_customer_reads_plainly(name: str) -> None:
    row = REALISTIC | {
        "frequency": 1.0,
        "n_purchases": 1.0,
        "monetary_std": math.nan,
        "gap_mean_days": math.nan,
        "gap_std_days": math.nan,
        "gap_max_days": math.nan,
        "gap_last_days": math.nan,
        "recency_gap_ratio": math.nan,
        "btyd_p_alive": math.nan,
        "btyd_expected_purchases": math.nan,
    }
    text = reasons.phrase(name, row)
    assert text is None or not MISSING_WORDS.search(text)


def test_phrase_missing_gap_says_one_purchase_so_far() -> None:
    row = {"recency_days": 74.0, "n_purchases": 1.0, "frequency": 1.0}
    assert reasons.phrase("recency_days", row) == f"no purchase for 74 days, {ONE_PURCHASE}"
    assert reasons.phrase("recency_gap_ratio", row) == f"no purchase for 74 days, {ONE_PURCHASE}"
    for name in ("gap_mean_days", "gap_max_days", "gap_last_days", "monetary_std"):
        assert reasons.phrase(name, row) == ONE_PURCHASE
    same_day = row | {"n_purchases": 3.0}  # three purchases, all on one day
    assert reasons.phrase("gap_mean_days", same_day) == "bought on one day only so far"


@pytest.mark.parametrize(
    "name",
    [
        "recency_days",
        "tenure_days",
        "n_purchases",
        "monetary_sum",
        "spend_30d",
        "purchases_90d",
        "spend_trend_90d",
        "gap_std_days",  # missing with two purchase days: says nothing, so no reason
        "refund_share",
        "top_category_share",
        "lifecycle_stage",
        "complaints_90d",
        "nps_detractor",
        "btyd_p_alive",
        "btyd_expected_purchases",
        "shoe_size",
    ],
)
def test_phrase_missing_value_without_meaning_gives_no_reason(name: str) -> None:
    assert reasons.phrase(name, {n: math.nan for n in [*FEATURES, "shoe_size"]}) is None


def test_phrase_recency_against_usual_gap() -> None:
    row = {"recency_days": 74, "gap_mean_days": 21}
    assert reasons.phrase("recency_days", row) == "no purchase for 74 days, usually every 21"
    assert reasons.phrase("recency_days", {"recency_days": 74.0, "gap_mean_days": math.nan}) == (
        f"no purchase for 74 days, {ONE_PURCHASE}"
    )
    assert reasons.phrase("recency_days", {"recency_days": 74.4, "gap_mean_days": 20.6}) == (
        "no purchase for 74 days, usually every 21"
    )


def test_phrase_window_counts_and_events() -> None:
    assert reasons.phrase("purchases_30d", {"purchases_30d": 0}) == (
        "no purchase in the last 30 days"
    )
    assert reasons.phrase("purchases_90d", {"purchases_90d": 2.0}) == (
        "only 2 purchases in the last 90 days"
    )
    assert reasons.phrase("spend_30d", {"spend_30d": 0.0}) == "no spend in the last 30 days"
    assert reasons.phrase("complaints_90d", {"complaints_90d": 1}) == (
        "1 complaint in the last 90 days"
    )
    assert reasons.phrase("complaints_90d", {"complaints_90d": 3.0}) == (
        "3 complaints in the last 90 days"
    )
    assert reasons.phrase("tickets_90d", {"tickets_90d": 1.0}) == (
        "1 support ticket in the last 90 days"
    )


def test_phrase_trend_compares_with_window_before() -> None:
    row = {"purchases_90d": 1.0, "purchases_180d": 4.0, "spend_90d": 40.0, "spend_180d": 300.0}
    assert reasons.phrase("purchase_trend_90d", row) == (
        "buying less: 1 purchase in the last 90 days vs 3 purchases in the 90 days before"
    )
    assert reasons.phrase("spend_trend_90d", row) == (
        "spending less: 40.00 in the last 90 days vs 260.00 in the 90 days before"
    )


def test_phrase_nps() -> None:
    assert reasons.phrase("last_nps", {"last_nps": math.nan}) == "never answered the NPS survey"
    assert reasons.phrase("last_nps", {"last_nps": None}) == "never answered the NPS survey"
    assert reasons.phrase("last_nps", {"last_nps": 4.0}) == "last NPS answer 4 of 10"
    assert reasons.phrase("nps_detractor", {"nps_detractor": 1, "last_nps": 3}) == (
        "a detractor: last NPS answer 3 of 10"
    )
    assert reasons.phrase("nps_detractor", {"nps_detractor": 1}) == (
        "a detractor in the last NPS answer"
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("recency_days", "inactivity"),
        ("btyd_p_alive", "inactivity"),
        ("recency_gap_ratio", "inactivity"),
        ("purchase_trend_90d", "trend"),
        ("spend_trend_30d", "trend"),
        ("purchases_30d", "frequency"),
        ("gap_mean_days", "frequency"),
        ("spend_365d", "spend"),
        ("monetary_mean", "spend"),
        ("complaints_90d", "complaints"),
        ("tickets_90d", "tickets"),
        ("nps_detractor", "nps"),
        ("top_category_share", "categories"),
        ("lifecycle_stage", "lifecycle_stage"),
        ("shoe_size", "shoe_size"),
    ],
)
def test_family_groups_features_telling_one_story(name: str, expected: str) -> None:
    assert reasons.family(name) == expected


def _frames(
    contributions: dict[str, list[float]], index: list[str] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    n = len(next(iter(contributions.values())))
    idx = pd.Index(index or [f"c{i}" for i in range(n)])
    values = pd.DataFrame([REALISTIC] * n, index=idx)
    return pd.DataFrame(contributions, index=idx), values


def _row(out: pd.DataFrame, i: int) -> list[str | None]:
    """Row ``i`` of the reasons, a missing reason as None."""
    return [None if pd.isna(v) else str(v) for v in out.iloc[i]]


RECENCY = "no purchase for 74 days, usually every 21"
COMPLAINT = "1 complaint in the last 90 days"
NPS = "last NPS answer 4 of 10"


def test_top_reasons_none_when_nothing_pushes_up() -> None:
    contributions, values = _frames(
        {"recency_days": [-0.5, 0.0], "complaints_90d": [-0.1, 0.0], "last_nps": [0.0, -2.0]}
    )
    out = reasons.top_reasons(contributions, values)
    assert list(out.columns) == ["reason_1", "reason_2", "reason_3"]
    assert out.isna().all().all()
    assert out.index.equals(contributions.index)


def test_top_reasons_one_reason_per_family_phrased_by_recency() -> None:
    contributions, values = _frames(
        {
            "recency_days": [0.2],
            "btyd_p_alive": [0.9],  # larger, same family: still phrased by recency
            "complaints_90d": [0.5],
        }
    )
    out = reasons.top_reasons(contributions, values)
    assert _row(out, 0) == [RECENCY, COMPLAINT, None]


def test_top_reasons_orders_by_family_total() -> None:
    contributions, values = _frames(
        {
            "recency_days": [0.3, 0.3, 0.4],
            "gap_last_days": [0.3, 0.3, -0.5],  # the family sums: 0.6, 0.6, -0.1
            "complaints_90d": [0.5, 0.7, 0.2],
            "last_nps": [0.1, 0.05, 0.3],
            "n_purchases": [-0.2, 0.01, 0.0],
        }
    )
    out = reasons.top_reasons(contributions, values)
    assert _row(out, 0) == [RECENCY, COMPLAINT, NPS]
    assert _row(out, 1) == [COMPLAINT, RECENCY, NPS]
    assert _row(out, 2) == [NPS, COMPLAINT, None]


def test_top_reasons_phrases_family_by_largest_member() -> None:
    contributions, values = _frames(
        {"purchases_30d": [0.1, 0.6], "n_purchases": [0.4, 0.2], "monetary_sum": [-1.0, -1.0]}
    )
    out = reasons.top_reasons(contributions, values, n=1)
    assert out["reason_1"].tolist() == [
        "14 purchases in all",
        "no purchase in the last 30 days",
    ]


def test_top_reasons_respects_n() -> None:
    contributions, values = _frames(
        {
            "recency_days": [0.5],
            "complaints_90d": [0.4],
            "last_nps": [0.3],
            "tickets_90d": [0.2],
            "category_count": [0.1],
        }
    )
    one = reasons.top_reasons(contributions, values, n=1)
    assert list(one.columns) == ["reason_1"]
    assert _row(one, 0) == [RECENCY]
    five = reasons.top_reasons(contributions, values, n=5)
    assert list(five.columns) == [f"reason_{k}" for k in range(1, 6)]
    assert five.iloc[0].notna().all()
    six = reasons.top_reasons(contributions, values, n=6)
    assert _row(six, 0)[-1] is None
    assert (five.dtypes == "string").all()


def test_top_reasons_row_by_row_on_a_random_matrix() -> None:
    rng = np.random.default_rng(0)
    names = ["recency_days", "btyd_p_alive", "complaints_90d", "last_nps", "spend_30d"]
    matrix = rng.normal(size=(200, len(names)))
    contributions = pd.DataFrame(matrix, columns=names, index=rng.permutation(200))
    values = pd.DataFrame([REALISTIC] * 200, index=contributions.index)
    out = reasons.top_reasons(contributions, values)
    totals = np.column_stack(
        [matrix[:, 0] + matrix[:, 1], matrix[:, 2], matrix[:, 3], matrix[:, 4]]
    )
    spend = reasons.phrase("spend_30d", REALISTIC)
    phrases = np.array([RECENCY, COMPLAINT, NPS, spend], dtype=object)
    for i in range(len(out)):
        positive = totals[i] > 0
        order = np.argsort(-totals[i])[: min(3, int(positive.sum()))]
        expected = list(phrases[order]) + [None] * (3 - len(order))
        assert _row(out, i) == expected, totals[i]


def test_top_reasons_skips_a_reason_without_its_value() -> None:
    contributions, values = _frames(
        {
            "refund_share": [0.9, 0.9],
            "complaints_90d": [0.5, 0.5],
            "last_nps": [0.3, 0.3],
            "tickets_90d": [0.2, 0.2],
        }
    )
    values.loc["c1", "refund_share"] = math.nan
    out = reasons.top_reasons(contributions, values)
    returned = "returned 5% of what they bought"
    tickets = "2 support tickets in the last 90 days"
    assert _row(out, 0) == [returned, COMPLAINT, NPS]
    assert _row(out, 1) == [COMPLAINT, NPS, tickets]


def test_top_reasons_one_purchase_customer_never_unknown() -> None:
    contributions, values = _frames(
        {"recency_days": [0.8], "gap_mean_days": [0.6], "btyd_p_alive": [0.4]}
    )
    gaps = ["gap_mean_days", "gap_std_days", "gap_max_days", "gap_last_days", "recency_gap_ratio"]
    values.loc[:, gaps] = math.nan
    values.loc[:, ["n_purchases", "frequency"]] = 1.0
    out = reasons.top_reasons(contributions, values)
    assert _row(out, 0) == [f"no purchase for 74 days, {ONE_PURCHASE}", ONE_PURCHASE, None]


def test_top_reasons_rejects_mismatched_index() -> None:
    contributions, values = _frames({"recency_days": [0.5, 0.1]})
    with pytest.raises(ValueError, match=r"same row index"):
        reasons.top_reasons(contributions, values.iloc[::-1])
    with pytest.raises(ValueError, match=r"same row index"):
        reasons.top_reasons(contributions, values.reset_index(drop=True))

"""Retention KPIs on small hand-built tables; every expected number is worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from churn import kpis
from churn.errors import ConfigError, DataError

Row = tuple[str, str, float]


def _tx(rows: list[Row]) -> pd.DataFrame:
    customer, ts, amount = zip(*rows, strict=True)
    return pd.DataFrame(
        {
            "customer_id": list(customer),
            "timestamp": pd.to_datetime(list(ts)),
            "amount": list(amount),
        }
    )


def _events(rows: list[tuple[str, str, str, float]]) -> pd.DataFrame:
    customer, ts, kind, value = zip(*rows, strict=True)
    return pd.DataFrame(
        {
            "customer_id": list(customer),
            "timestamp": pd.to_datetime(list(ts)),
            "type": list(kind),
            "value": list(value),
        }
    )


def _year_of_200() -> pd.DataFrame:
    """200 customers acquired in December 2023; 20 buy once in January 2024, never again."""
    rows: list[Row] = []
    for i in range(200):
        rows.append((f"c{i:03d}", "2023-12-15", 10.0))
        if i < 20:
            rows.append((f"c{i:03d}", "2024-01-10", 10.0))
        else:
            rows += [(f"c{i:03d}", "2024-02-10", 10.0), (f"c{i:03d}", "2024-06-20", 10.0)]
    rows.append(("c000", "2024-08-01", 10.0))  # after end: outside the data
    return _tx(rows)


def _crr_example() -> pd.DataFrame:
    """February 2024: S = 100 (acquired in January), N = 30, 20 of the 100 leave in February."""
    rows: list[Row] = []
    for i in range(100):
        rows.append((f"old{i:03d}", "2024-01-05", 10.0))
        if i < 20:
            rows.append((f"old{i:03d}", "2024-02-03", 10.0))  # last purchase ever
        else:
            rows += [(f"old{i:03d}", "2024-02-20", 10.0), (f"old{i:03d}", "2024-06-01", 10.0)]
    for i in range(30):
        rows += [(f"new{i:03d}", "2024-02-10", 10.0), (f"new{i:03d}", "2024-06-01", 10.0)]
    return _tx(rows)


# One month of orders: a buys twice, b once, c once then refunds it, d only refunds.
# Active 3 (a, b, c), orders 4, revenue 10 + 30 + 20 + 40 = 100.
TINY = [
    ("a", "2024-01-03", 10.0),
    ("a", "2024-01-20", 30.0),
    ("b", "2024-01-05", 20.0),
    ("c", "2024-01-07", 40.0),
    ("c", "2024-01-09", -40.0),
    ("d", "2024-01-11", -5.0),
]

# Cohorts, monthly: the default end is 2024-04-11 (day after the last row), so April is partial.
COHORT_ROWS = [
    ("a", "2024-01-05", 1.0),
    ("a", "2024-02-05", 1.0),
    ("a", "2024-03-05", 1.0),
    ("a", "2024-04-03", 1.0),  # April is cut by end: not counted
    ("b", "2024-01-20", 1.0),
    ("b", "2024-03-01", 1.0),
    ("c", "2024-01-25", 1.0),
    ("c", "2024-02-10", -1.0),  # a refund is not activity
    ("d", "2024-02-03", 1.0),
    ("d", "2024-02-20", 1.0),
    ("d", "2024-03-10", 1.0),
    ("e", "2024-02-14", 1.0),
    ("g", "2024-03-15", 1.0),
    ("f", "2024-04-10", 1.0),  # cohort April is cut by end: left out
]


def test_period_kpis_churn_of_200_with_20_lost_quarterly() -> None:
    table = kpis.period_kpis(_year_of_200(), freq="Q", end="2024-07-01")

    assert list(table.index) == list(pd.period_range("2023Q4", "2024Q2", freq="Q"))
    q4 = table.loc[pd.Period("2023Q4", "Q")]
    assert (q4["customers_start"], q4["new_customers"], q4["customers_end"]) == (0, 200, 200)
    assert math.isnan(q4["churn_rate"])  # S = 0
    q1 = table.loc[pd.Period("2024Q1", "Q")]
    assert q1["customers_start"] == 200
    assert q1["new_customers"] == 0
    assert q1["lost_customers"] == 20
    assert q1["customers_end"] == 180
    assert q1["churn_rate"] == pytest.approx(0.10)  # 20 / 200
    assert q1["retention_rate"] == pytest.approx(0.90)  # (180 - 0) / 200
    # The 180 bought on 2024-06-20, 11 days before end (< 90): not lost yet.
    q2 = table.loc[pd.Period("2024Q2", "Q")]
    assert (q2["customers_start"], q2["lost_customers"], q2["customers_end"]) == (180, 0, 180)
    assert q2["churn_rate"] == 0.0


@pytest.mark.parametrize("freq", ["Y", "A"])
def test_period_kpis_churn_of_200_with_20_lost_yearly(freq: str) -> None:
    rows: list[Row] = []
    for i in range(200):
        rows += [(f"c{i:03d}", "2023-06-01", 5.0), (f"c{i:03d}", "2024-03-01", 5.0)]
        if i >= 20:
            rows.append((f"c{i:03d}", "2025-02-01", 5.0))

    table = kpis.period_kpis(_tx(rows), freq=freq, end="2025-03-01")

    assert list(table.index) == [pd.Period("2023", "Y"), pd.Period("2024", "Y")]  # 2025 is cut
    year = table.loc[pd.Period("2024", "Y")]
    assert (year["customers_start"], year["lost_customers"]) == (200, 20)
    assert year["churn_rate"] == pytest.approx(0.10)


def test_period_kpis_worked_crr_example() -> None:
    table = kpis.period_kpis(_crr_example(), start="2024-02-01", end="2024-07-01")

    feb = table.loc[pd.Period("2024-02", "M")]
    assert feb["customers_start"] == 100
    assert feb["new_customers"] == 30
    assert feb["lost_customers"] == 20
    assert feb["customers_end"] == 110  # 100 + 30 - 20
    assert feb["retention_rate"] == pytest.approx(0.80)  # (110 - 30) / 100
    assert feb["churn_rate"] == pytest.approx(0.20)  # 20 / 100
    mar = table.loc[pd.Period("2024-03", "M")]
    assert mar["customers_start"] == 110  # E of February
    assert mar["retention_rate"] == 1.0
    # Nobody bought in March: the per-order rates have a zero denominator.
    assert mar["active_customers"] == 0
    assert math.isnan(mar["purchase_frequency"])
    assert math.isnan(mar["average_order_value"])
    assert math.isnan(mar["repeat_purchase_rate"])


def test_period_kpis_base_carries_over_between_periods() -> None:
    table = kpis.period_kpis(_crr_example(), start="2024-02-01", end="2024-07-01")

    assert list(table.columns) == list(kpis.PERIOD_COLUMNS)
    assert table["customers_end"].iloc[:-1].tolist() == table["customers_start"].iloc[1:].tolist()
    both = table["retention_rate"] + table["churn_rate"]
    assert both.to_numpy() == pytest.approx(np.ones(len(table)))


def test_period_kpis_orders_frequency_value_and_repeat_rate() -> None:
    table = kpis.period_kpis(_tx(TINY), end="2024-02-01")

    jan = table.loc[pd.Period("2024-01", "M")]
    assert jan["active_customers"] == 3
    assert jan["orders"] == 4
    assert jan["revenue"] == pytest.approx(100.0)
    assert jan["purchase_frequency"] == pytest.approx(4 / 3)
    assert jan["average_order_value"] == pytest.approx(25.0)  # 100 / 4
    assert jan["repeat_purchase_rate"] == pytest.approx(1 / 3)  # only a
    assert jan["new_customers"] == 3  # d only refunded: never a customer


def test_period_kpis_repeat_rate_counts_within_the_period() -> None:
    tx = _tx([("a", "2024-01-10", 5.0), ("a", "2024-02-10", 5.0)])

    table = kpis.period_kpis(tx, end="2024-03-01")

    assert table["repeat_purchase_rate"].tolist() == [0.0, 0.0]
    assert kpis.summary_kpis(tx, end="2024-03-01")["repeat_purchase_rate"] == 1.0


def test_period_kpis_refunds_are_not_activity() -> None:
    tx = _tx([("x", "2024-01-10", 50.0), ("x", "2024-04-15", -50.0)])

    table = kpis.period_kpis(tx, end="2024-07-01")

    # x's last purchase is in January (the April refund does not count): acquired and lost there.
    jan = table.loc[pd.Period("2024-01", "M")]
    assert (jan["new_customers"], jan["lost_customers"], jan["customers_end"]) == (1, 1, 0)
    assert math.isnan(jan["churn_rate"])  # S = 0
    apr = table.loc[pd.Period("2024-04", "M")]
    assert (apr["active_customers"], apr["orders"], apr["revenue"]) == (0, 0, 0.0)


def test_period_kpis_lost_after_exactly_churn_after_days() -> None:
    tx = _tx(
        [
            ("old", "2024-01-10", 5.0),
            ("gone", "2024-01-10", 5.0),
            ("gone", "2024-04-02", 5.0),  # 90 days before 2024-07-01: lost
            ("recent", "2024-01-10", 5.0),
            ("recent", "2024-04-03", 5.0),  # 89 days: not yet
            ("old", "2024-06-30", 5.0),
        ]
    )

    table = kpis.period_kpis(tx, end="2024-07-01", churn_after_days=90)

    assert table.loc[pd.Period("2024-04", "M"), "lost_customers"] == 1


def test_period_kpis_drops_period_cut_by_end() -> None:
    tx = _tx([("a", "2024-01-01", 5.0), ("a", "2024-02-15", 5.0)])

    table = kpis.period_kpis(tx)  # default end 2024-02-16 cuts February

    assert list(table.index) == [pd.Period("2024-01", "M")]


def test_period_kpis_start_drops_period_it_cuts_but_keeps_history() -> None:
    table = kpis.period_kpis(_crr_example(), start="2024-01-15", end="2024-07-01")

    # January is cut by start; February still counts the 100 customers acquired in January.
    assert table.index[0] == pd.Period("2024-02", "M")
    assert table["customers_start"].iloc[0] == 100


def test_period_kpis_does_not_change_its_input() -> None:
    tx = _crr_example()
    before = tx.copy()

    kpis.period_kpis(tx, end="2024-07-01")

    pd.testing.assert_frame_equal(tx, before)


def test_period_kpis_empty_transactions_raises() -> None:
    empty = _tx(TINY).iloc[:0]

    with pytest.raises(DataError, match="expected at least one purchase"):
        kpis.period_kpis(empty)


def test_period_kpis_only_refunds_raises() -> None:
    with pytest.raises(DataError, match=r"at least one purchase \(amount > 0\)"):
        kpis.period_kpis(_tx([("a", "2024-01-05", -5.0)]))


def test_period_kpis_no_full_period_raises() -> None:
    tx = _tx([("a", "2024-01-10", 5.0), ("a", "2024-01-20", 5.0)])

    with pytest.raises(DataError, match="full period"):
        kpis.period_kpis(tx)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"freq": "W"}, "freq: expected one of"),
        ({"churn_after_days": 0}, "churn_after_days: expected a whole number >= 1; got 0"),
        ({"start": "2024-03-01", "end": "2024-02-01"}, "expected start before end"),
        ({"end": "not a date"}, "end: expected a date"),
    ],
)
def test_period_kpis_bad_options_raise(options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        kpis.period_kpis(_tx(TINY), **options)  # type: ignore[arg-type]


def test_period_kpis_tz_aware_timestamps_raise() -> None:
    tx = _tx(TINY)
    tx["timestamp"] = tx["timestamp"].dt.tz_localize("UTC")

    with pytest.raises(DataError, match="expected naive datetime64"):
        kpis.period_kpis(tx)


@pytest.mark.parametrize(
    "call",
    [
        kpis.period_kpis,
        kpis.summary_kpis,
        kpis.cohort_retention,
        lambda tx: kpis.churn_by_nps_group(tx, _events([("a", "2024-01-01", "nps", 9.0)])),
    ],
)
def test_transaction_kpis_missing_columns_raise(call: object) -> None:
    tx = _tx(TINY).drop(columns=["amount"])

    with pytest.raises(DataError, match=r"missing columns \['amount'\]"):
        call(tx)  # type: ignore[operator]


def test_period_kpis_not_a_dataframe_raises() -> None:
    with pytest.raises(TypeError, match="expected a pandas DataFrame; got list"):
        kpis.period_kpis([("a", "2024-01-01", 5.0)])  # type: ignore[arg-type]


def test_summary_kpis_to_date() -> None:
    tx = _tx(
        [
            ("p", "2024-01-01", 10.0),
            ("p", "2024-01-31", 10.0),  # lost; lifespan 30 days
            ("q", "2024-01-15", 20.0),
            ("q", "2024-03-15", 20.0),  # lost (108 days before end); lifespan 60 days
            ("q", "2024-05-01", -20.0),  # a refund does not extend the lifespan
            ("r", "2024-01-10", 30.0),
            ("r", "2024-06-25", 30.0),  # bought 6 days before end: not lost
        ]
    )

    summary = kpis.summary_kpis(tx, end="2024-07-01", churn_after_days=90)

    # Monthly churn over the months whose losses are known (ending >= 90 days before end):
    # January S = 0 (skipped), February 0 / 2, March 1 / 2 -> mean 0.25 -> 1 / 0.25 = 4 months.
    assert summary == pytest.approx(
        {
            "customers": 3.0,
            "repeat_purchase_rate": 1.0,  # all three bought twice
            "purchase_frequency": 2.0,  # 6 purchases / 3 customers
            "average_order_value": 20.0,  # 120 / 6
            "average_lifespan_days": 45.0,  # (30 + 60) / 2
            "expected_lifespan_months": 4.0,
        }
    )


def test_summary_kpis_tiny_table() -> None:
    summary = kpis.summary_kpis(_tx(TINY), end="2024-02-01")

    assert summary["customers"] == 3.0
    assert summary["repeat_purchase_rate"] == pytest.approx(1 / 3)
    assert summary["purchase_frequency"] == pytest.approx(4 / 3)
    assert summary["average_order_value"] == pytest.approx(25.0)
    assert math.isnan(summary["average_lifespan_days"])  # nobody lost 90 days before end
    assert math.isnan(summary["expected_lifespan_months"])  # no month with known losses


def test_summary_kpis_empty_transactions_raises() -> None:
    with pytest.raises(DataError, match="summary_kpis: transactions: expected at least one"):
        kpis.summary_kpis(_tx(TINY).iloc[:0])


def test_nps_half_promoters_fifth_detractors_is_30() -> None:
    scores = [9, 10, 9, 10, 9, 7, 8, 7, 0, 6]  # 50% promoters, 30% passives, 20% detractors

    assert kpis.nps(scores) == 30.0


@pytest.mark.parametrize(
    ("scores", "expected"),
    [([10, 9], 100.0), ([0, 6], -100.0), ([7, 8], 0.0), (np.array([9.0, 6.0, 8.0, 8.0]), 0.0)],
)
def test_nps_bounds_and_passives(scores: list[int], expected: float) -> None:
    assert kpis.nps(scores) == expected


def test_nps_empty_is_nan() -> None:
    assert math.isnan(kpis.nps([]))


@pytest.mark.parametrize("bad", [[9, 11], [-1], [7.5], [float("nan")], ["high"]])
def test_nps_values_outside_0_to_10_raise(bad: list[object]) -> None:
    with pytest.raises(ValueError, match="nps: expected NPS answers"):
        kpis.nps(bad)  # type: ignore[arg-type]


def test_nps_by_period_monthly() -> None:
    events = _events(
        [
            ("a", "2024-01-05", "nps", 10.0),
            ("b", "2024-01-06", "nps", 0.0),  # January: (1 - 1) / 2 -> 0
            ("a", "2024-02-07", "support_ticket", float("nan")),  # not an answer
            ("a", "2024-03-01", "nps", 9.0),
            ("b", "2024-03-02", "nps", 9.0),
            ("c", "2024-03-03", "nps", 7.0),
            ("d", "2024-03-04", "nps", 3.0),  # March: (2 - 1) / 4 -> 25
        ]
    )

    series = kpis.nps_by_period(events)

    assert list(series.index) == list(pd.period_range("2024-01", "2024-03", freq="M"))
    assert series.iloc[0] == 0.0
    assert math.isnan(series.iloc[1])  # no answers in February
    assert series.iloc[2] == 25.0


def test_nps_by_period_no_answers_is_empty() -> None:
    events = _events([("a", "2024-01-05", "complaint", 1.0)])

    assert kpis.nps_by_period(events, freq="Q").empty


def test_nps_by_period_bad_value_raises() -> None:
    events = _events([("a", "2024-01-05", "nps", 12.0)])

    with pytest.raises(ValueError, match=r"events.value \(type 'nps'\).*\[12.0\]"):
        kpis.nps_by_period(events)


def test_nps_by_period_missing_columns_raise() -> None:
    events = _events([("a", "2024-01-05", "nps", 9.0)]).drop(columns=["type", "value"])

    with pytest.raises(DataError, match=r"events: missing columns \['type', 'value'\]"):
        kpis.nps_by_period(events)


def test_churn_by_nps_group_uses_latest_answer() -> None:
    tx = _tx(
        [
            ("a", "2024-01-10", 5.0),  # lost
            ("b", "2024-01-10", 5.0),
            ("b", "2024-06-20", 5.0),  # stays
            ("c", "2024-01-10", 5.0),  # lost
            ("d", "2024-06-20", 5.0),  # stays
        ]
    )
    events = _events(
        [
            ("a", "2024-01-15", "nps", 3.0),
            ("a", "2024-02-15", "nps", 9.0),  # a's latest: promoter
            ("b", "2024-02-01", "nps", 10.0),  # promoter
            ("c", "2024-02-01", "nps", 7.0),  # passive
            ("d", "2024-06-21", "nps", 5.0),  # detractor
            ("e", "2024-02-01", "nps", 10.0),  # never bought: left out
            ("b", "2024-07-05", "nps", 0.0),  # after end: ignored
        ]
    )

    table = kpis.churn_by_nps_group(tx, events, end="2024-07-01")

    assert list(table.index) == ["promoter", "passive", "detractor"]
    assert table["customers"].tolist() == [2, 1, 1]
    assert table["lost_customers"].tolist() == [1, 1, 0]
    assert table["churn_rate"].tolist() == [0.5, 1.0, 0.0]


def test_churn_by_nps_group_missing_event_columns_raise() -> None:
    events = _events([("a", "2024-01-05", "nps", 9.0)]).drop(columns=["timestamp"])

    with pytest.raises(DataError, match=r"events: missing columns \['timestamp'\]"):
        kpis.churn_by_nps_group(_tx(TINY), events)


def test_cohort_retention_small_table() -> None:
    table = kpis.cohort_retention(_tx(COHORT_ROWS))

    expected = pd.DataFrame(
        {
            "customers": [3, 2, 1],
            0: [1.0, 1.0, 1.0],
            1: [1 / 3, 1 / 2, np.nan],  # January: a; February: d; March's month 1 is April
            2: [2 / 3, np.nan, np.nan],  # January: a and b (in March)
        },
        index=pd.PeriodIndex(["2024-01", "2024-02", "2024-03"], freq="M", name="cohort"),
    )
    expected.columns.name = "age"
    pd.testing.assert_frame_equal(table, expected, check_dtype=False)


def test_cohort_retention_max_age_pads_with_nan() -> None:
    table = kpis.cohort_retention(_tx(COHORT_ROWS), max_age=4)

    assert list(table.columns) == ["customers", 0, 1, 2, 3, 4]
    assert table[[3, 4]].isna().all().all()
    assert list(kpis.cohort_retention(_tx(COHORT_ROWS), max_age=1).columns) == ["customers", 0, 1]


def test_cohort_retention_quarterly() -> None:
    tx = _tx(
        [
            ("a", "2024-01-05", 1.0),
            ("a", "2024-05-05", 1.0),
            ("b", "2024-02-05", 1.0),
            ("c", "2024-04-05", 1.0),
        ]
    )

    table = kpis.cohort_retention(tx, freq="Q", end="2024-07-01")

    assert table.loc[pd.Period("2024Q1", "Q"), "customers"] == 2
    assert table.loc[pd.Period("2024Q1", "Q"), 1] == 0.5  # a of a, b
    assert math.isnan(table.loc[pd.Period("2024Q2", "Q"), 1])


@pytest.mark.parametrize("max_age", [-1, 1.5, True])
def test_cohort_retention_bad_max_age_raises(max_age: object) -> None:
    with pytest.raises(ConfigError, match="max_age: expected a whole number >= 0"):
        kpis.cohort_retention(_tx(COHORT_ROWS), max_age=max_age)  # type: ignore[arg-type]


def test_cohort_retention_only_partial_period_raises() -> None:
    with pytest.raises(DataError, match="expected a full period"):
        kpis.cohort_retention(_tx([("a", "2024-01-10", 5.0)]))


def test_retention_curve_weighted_by_cohort_size() -> None:
    curve = kpis.retention_curve(kpis.cohort_retention(_tx(COHORT_ROWS), max_age=3))

    # age 1: (3 * 1/3 + 2 * 1/2) / (3 + 2) = 0.4; age 2: only January, 2/3; age 3: nobody yet.
    assert curve.index.tolist() == [0, 1, 2, 3]
    assert curve.iloc[:3].tolist() == pytest.approx([1.0, 0.4, 2 / 3])
    assert math.isnan(curve.iloc[3])


def test_retention_curve_without_sizes_raises() -> None:
    cohorts = kpis.cohort_retention(_tx(COHORT_ROWS)).drop(columns="customers")

    with pytest.raises(ValueError, match="'customers' column"):
        kpis.retention_curve(cohorts)

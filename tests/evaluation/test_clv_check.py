"""The CLV check: the table on hand cases, the point-in-time fit, a simulated world, fallback."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from churn import engine, evaluation, labels, synthetic, value
from churn.evaluation.clv_check import compare_by_bucket, predict_window, window_outcomes
from churn.features import FeatureConfig

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
HORIZON = 90


def _register(transactions: pa.Table) -> ir.Table:
    return engine.register(engine.connect({"name": "duckdb"}), transactions).transactions


def _rows(rows: list[tuple[str, str, float]]) -> pa.Table:
    ids, stamps, amounts = zip(*rows, strict=True)
    return pa.table(
        {
            "customer_id": pa.array(ids, pa.string()),
            "timestamp": pa.array(pd.to_datetime(list(stamps)), pa.timestamp("us")),
            "amount": pa.array(amounts, pa.float64()),
        }
    )


@pytest.fixture(scope="module")
def flat_world(world: synthetic.WorldConfig) -> synthetic.DemoData:
    """A demo world without the yearly swing of purchases and baskets (stationary, as BTYD)."""
    flat = dataclasses.replace(world, yearly_amplitude=0.0, basket_yearly_amplitude=0.0)
    return synthetic.generate(flat, n_customers=3_000, seed=3)


def _test_cutoff(tx: ir.Table) -> pd.Timestamp:
    return labels.data_end(tx) - pd.Timedelta(days=HORIZON)


def test_compare_by_bucket_on_a_hand_case() -> None:
    predicted = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d", "e", "f"],
            "repeat_frequency": [0, 0, 1, 3, 4, 12],
            "predicted_purchases": [0.5, 0.5, 1.0, 2.0, 2.0, 6.0],
            "predicted_spend": [10.0, 10.0, 20.0, 40.0, 40.0, 120.0],
        }
    )
    actual = pd.DataFrame(
        {
            "customer_id": ["a", "c", "d", "f", "new"],  # b and e bought nothing; new is new
            "actual_purchases": [1, 2, 1, 4, 3],
            "actual_spend": [30.0, 40.0, 10.0, 120.0, 99.0],
        }
    )
    table, totals = compare_by_bucket(predicted, actual)
    assert table["bucket"].tolist() == ["0", "1", "3-4", "10+"]  # empty buckets left out
    assert table["customers"].tolist() == [2, 1, 2, 1]
    assert table["predicted_purchases"].tolist() == [1.0, 1.0, 4.0, 6.0]
    assert table["actual_purchases"].tolist() == [1.0, 2.0, 1.0, 4.0]
    assert table["predicted_spend"].tolist() == [20.0, 20.0, 80.0, 120.0]
    assert table["actual_spend"].tolist() == [30.0, 40.0, 10.0, 120.0]
    assert totals["customers"] == 6
    assert totals["purchases_error"] == pytest.approx((12 - 8) / 8)
    assert totals["spend_error"] == pytest.approx((240 - 200) / 200)
    pred = [10, 10, 20, 40, 40, 120]
    act = [30, 0, 40, 10, 0, 120]
    assert totals["spend_pearson"] == pytest.approx(np.corrcoef(pred, act)[0, 1])
    assert -1 <= totals["spend_spearman"] <= 1


def test_compare_by_bucket_without_buyers_is_an_error() -> None:
    empty = pd.DataFrame(
        columns=["customer_id", "repeat_frequency", "predicted_purchases", "predicted_spend"]
    )
    actual = pd.DataFrame(columns=["customer_id", "actual_purchases", "actual_spend"])
    with pytest.raises(ValueError, match="at least one predicted buyer"):
        compare_by_bucket(empty, actual)
    with pytest.raises(ValueError, match=r"actual lacks columns \['actual_spend'\]"):
        compare_by_bucket(empty, actual.drop(columns="actual_spend"))


def test_compare_by_bucket_constant_spend_has_no_correlation() -> None:
    predicted = pd.DataFrame(
        {
            "customer_id": ["a", "b"],
            "repeat_frequency": [1, 2],
            "predicted_purchases": [1.0, 1.0],
            "predicted_spend": [5.0, 5.0],
        }
    )
    nothing = pd.DataFrame(columns=["customer_id", "actual_purchases", "actual_spend"])
    _, totals = compare_by_bucket(predicted, nothing)
    assert np.isnan(totals["spend_pearson"])
    assert np.isnan(totals["spend_error"])  # nothing bought: no relative error


@pytest.mark.parametrize(
    ("rule", "days", "spend"), [("positive", 2, 35.0), ("non_negative", 3, 35.0)]
)
def test_window_outcomes_counts_purchase_days_and_spend(rule: str, days: int, spend: float) -> None:
    tx = _register(
        _rows(
            [
                ("a", "2025-01-31 23:00", 100.0),  # before the cutoff
                ("a", "2025-02-01 00:00", 10.0),  # at the cutoff: in the window
                ("a", "2025-02-01 18:00", 5.0),  # same day: one purchase day, spend adds
                ("a", "2025-02-10 12:00", -8.0),  # a refund never counts
                ("a", "2025-02-20 12:00", 0.0),  # a purchase day only under non_negative
                ("a", "2025-03-01 09:00", 20.0),
                ("a", "2025-03-03 00:00", 50.0),  # at cutoff + 30 days: outside
            ]
        )
    )
    out = window_outcomes(tx, pd.Timestamp("2025-02-01"), horizon_days=30, purchase_rule=rule)
    assert out.to_dict(orient="records") == [
        {"customer_id": "a", "actual_purchases": days, "actual_spend": spend}
    ]


def test_predict_window_refuses_the_heuristic() -> None:
    model = value.heuristic_model(value.ValueConfig(), horizon_days=HORIZON)
    with pytest.raises(ValueError, match="expected a fitted clv value model; got method"):
        predict_window(pd.DataFrame(), model, horizon_days=HORIZON)


def test_clv_check_ignores_rows_at_or_after_the_cutoff(flat_world: synthetic.DemoData) -> None:
    observed = flat_world.transactions
    tx = _register(observed)
    cutoff = _test_cutoff(tx)
    before = evaluation.clv_check(tx, cutoff, horizon_days=HORIZON, features=FeatureConfig())
    # at or after the cutoff: amounts tripled, and new rows for existing and new customers
    late = pc.greater_equal(observed["timestamp"], pa.scalar(cutoff, pa.timestamp("us")))
    changed = observed.set_column(
        observed.schema.get_field_index("amount"),
        "amount",
        pc.if_else(late, pc.multiply(observed["amount"], 3.0), observed["amount"]),
    )
    first = str(observed["customer_id"][0])
    extra = _rows([(first, str(cutoff), 500.0), ("someone new", str(cutoff), 70.0)])
    extra = extra.cast(observed.select(extra.column_names).schema)
    edited = pa.concat_tables([changed, extra], promote_options="default")
    after = evaluation.clv_check(
        _register(edited), cutoff, horizon_days=HORIZON, features=FeatureConfig()
    )
    assert before is not None
    assert after is not None
    for column in ("customers", "predicted_purchases", "predicted_spend"):
        pd.testing.assert_series_equal(before.table[column], after.table[column])
    assert after.totals["actual_spend"] > 2.9 * before.totals["actual_spend"]


def test_clv_check_on_a_stationary_world_is_close(flat_world: synthetic.DemoData) -> None:
    tx = _register(flat_world.transactions)
    check = evaluation.clv_check(
        tx, _test_cutoff(tx), horizon_days=HORIZON, features=FeatureConfig()
    )
    assert check is not None
    assert abs(check.totals["spend_error"]) < 0.25
    assert abs(check.totals["purchases_error"]) < 0.25
    assert check.totals["spend_pearson"] > 0.5
    assert check.totals["spend_spearman"] > 0.5
    assert check.table["bucket"].tolist() == ["0", "1", "2", "3-4", "5-9", "10+"]
    # heavier past buyers are predicted, and seen, to buy more per head
    per_head = check.table["actual_purchases"] / check.table["customers"]
    assert per_head.iloc[-1] > 3 * per_head.iloc[0]
    metrics = check.metrics()
    assert {"test/clv_spend_error", "test/clv_purchases_error", "test/clv_spend_pearson"} <= set(
        metrics
    )
    record = check.to_dict()
    assert record["cutoff"] == str(check.cutoff.date())
    assert len(record["buckets"]) == 6


def test_clv_check_with_too_few_buyers_warns_and_returns_none(
    world: synthetic.WorldConfig, caplog: pytest.LogCaptureFixture
) -> None:
    tx = _register(synthetic.generate(world, n_customers=60, seed=5).transactions)
    with caplog.at_level(logging.WARNING, logger="churn.evaluation.clv_check"):
        check = evaluation.clv_check(
            tx, _test_cutoff(tx), horizon_days=HORIZON, features=FeatureConfig()
        )
    assert check is None
    assert "CLV check at" in caplog.text
    assert "fewer than features.btyd.min_customers" in caplog.text


def test_plot_clv_check_draws_two_panels(flat_world: synthetic.DemoData, tmp_path: Path) -> None:
    tx = _register(flat_world.transactions)
    check = evaluation.clv_check(
        tx, _test_cutoff(tx), horizon_days=HORIZON, features=FeatureConfig()
    )
    assert check is not None
    fig = evaluation.plot_clv_check(check)
    purchases, spend = fig.axes
    assert "purchases per customer" in purchases.get_title()
    assert "spend per customer" in spend.get_title()
    assert len(purchases.patches) == 2 * len(check.table)
    path = evaluation.save_figure(fig, tmp_path / "clv_check.png")
    assert path.read_bytes()[:8] == PNG_MAGIC

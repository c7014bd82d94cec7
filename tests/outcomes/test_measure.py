"""Intention-to-treat figures against numbers worked out by hand."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from churn.outcomes import (
    OutcomeConfig,
    analysed,
    itt_table,
    measure_cell,
    required_control,
    risk_ratio_interval,
)

Z = 1.959963984540054  # the 97.5% normal quantile


def _arm(n: int, churned: int, *, spend: float = 10.0, cost: float = 2.0) -> pd.DataFrame:
    """``n`` customers, the first ``churned`` of whom churned; stayers' margin ``0.3 x spend``."""
    flags = [1.0] * churned + [0.0] * (n - churned)
    return pd.DataFrame(
        {
            "churned": flags,
            "margin_value": [0.0 if f else 0.3 * spend for f in flags],
            "offer_cost": [cost] * n,
            "expected_net_benefit": [1.5] * n,
        }
    )


def test_risk_ratio_interval_katz() -> None:
    low, high = risk_ratio_interval(20, 100, 20, 50)  # type: ignore[misc]
    se = math.sqrt(1 / 20 - 1 / 100 + 1 / 20 - 1 / 50)  # sqrt(0.07)
    assert low == pytest.approx(0.5 * math.exp(-Z * se))
    assert high == pytest.approx(0.5 * math.exp(Z * se))
    assert (low, high) == pytest.approx((0.29769, 0.83980), abs=1e-4)


def test_risk_ratio_interval_zero_cell_adds_a_half() -> None:
    low, high = risk_ratio_interval(0, 10, 5, 10)  # type: ignore[misc]
    # 0.5 / 11 over 5.5 / 11: RR = 1/11; se = sqrt(1/0.5 - 1/11 + 1/5.5 - 1/11) = sqrt(2)
    rr = 1 / 11
    assert low == pytest.approx(rr * math.exp(-Z * math.sqrt(2)))
    assert high == pytest.approx(rr * math.exp(Z * math.sqrt(2)))


def test_risk_ratio_interval_empty_arm_is_none() -> None:
    assert risk_ratio_interval(0, 0, 3, 10) is None


def test_risk_ratio_interval_refuses_impossible_counts() -> None:
    with pytest.raises(ValueError, match="churners <= arm size"):
        risk_ratio_interval(11, 10, 1, 10)


def test_required_control_two_proportions() -> None:
    # p0 = 0.4, p1 = 0.4 * 0.85 = 0.34: (z + z_power)^2 (p0 q0 + p1 q1) / (p0 - p1)^2
    top = (Z + 0.8416212335729143) ** 2 * (0.24 + 0.34 * 0.66)
    assert required_control(0.4, 0.15) == math.ceil(top / 0.06**2) == 1013


def test_required_control_nothing_to_detect() -> None:
    assert required_control(None, 0.15) is None
    assert required_control(0.0, 0.15) is None
    assert required_control(0.4, 0.0) is None


def test_measure_cell_known_answer() -> None:
    cell = measure_cell(
        _arm(100, 20), _arm(50, 20), configured_save_rate=0.15, settings=OutcomeConfig()
    )
    assert cell["churn_rate_contacted"] == pytest.approx(0.2)
    assert cell["churn_rate_control"] == pytest.approx(0.4)
    assert cell["save_rate"] == pytest.approx(0.5)
    assert (cell["save_rate_low"], cell["save_rate_high"]) == pytest.approx(
        (1 - 0.83980, 1 - 0.29769), abs=1e-4
    )
    assert cell["customers_saved"] == pytest.approx(20.0)
    # margin per customer: 0.8 x 3.00 = 2.40 contacted, 0.6 x 3.00 = 1.80 control
    assert cell["incremental_value"] == pytest.approx(0.6 * 100)
    assert cell["cost"] == pytest.approx(200.0)
    assert cell["roi"] == pytest.approx((60 - 200) / 200)
    assert cell["expected_net_benefit"] == pytest.approx(150.0)
    assert cell["realised_net_benefit"] == pytest.approx(-140.0)
    assert cell["required_control"] == 1013
    # the interval is 0.54 wide: wider than the default 0.5
    assert not cell["measurable"]
    assert "interval too wide" in cell["reason"]


def test_measure_cell_measurable_with_a_narrow_interval() -> None:
    settings = OutcomeConfig(max_interval_width=0.6)
    cell = measure_cell(_arm(100, 20), _arm(50, 20), configured_save_rate=0.15, settings=settings)
    assert cell["measurable"]
    assert cell["reason"] == ""


def test_measure_cell_empty_control_is_not_measurable() -> None:
    cell = measure_cell(
        _arm(10, 2), _arm(0, 0), configured_save_rate=0.15, settings=OutcomeConfig()
    )
    assert not cell["measurable"]
    assert cell["reason"] == "empty control group"
    assert cell["save_rate"] is None
    assert cell["incremental_value"] is None
    assert cell["required_control"] is None


def test_measure_cell_small_control_cannot_tell() -> None:
    cell = measure_cell(
        _arm(40, 8), _arm(10, 4), configured_save_rate=0.15, settings=OutcomeConfig()
    )
    assert not cell["measurable"]
    assert "not enough control customers to tell (10 < outcomes.min_control 30)" in cell["reason"]


def test_measure_cell_no_control_churner() -> None:
    cell = measure_cell(
        _arm(40, 0), _arm(40, 0), configured_save_rate=0.1, settings=OutcomeConfig()
    )
    assert cell["save_rate"] is None
    assert "no churner in the control group" in cell["reason"]


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "offer": pd.array(["a", "a", None, None, "b", None], dtype="string"),
            "control_group": [False, False, True, True, False, False],
            "control_offer": pd.array([None, None, "a", "b", None, None], dtype="string"),
            "earlier_campaign": pd.array(["2024-10-01", None, "2024-10-01", None, None, None]),
            "in_data": [True, True, True, False, True, True],
            "risk_tier": ["high", "medium", "high", "high", "high", "low"],
            "churned": [0.0, 1.0, 1.0, float("nan"), 0.0, 1.0],
            "margin_value": [3.0, 0.0, 0.0, 0.0, 3.0, 0.0],
            "offer_cost": [1.0, 1.0, 0.0, 0.0, 2.0, 0.0],
            "expected_net_benefit": [0.5, 0.5, float("nan"), float("nan"), 0.7, float("nan")],
        }
    )


def test_analysed_attribute_keeps_earlier_campaign_customers() -> None:
    kept, counts = analysed(_frame(), overlap="attribute")
    assert len(kept) == 5  # the control customer who left the data is out
    assert counts == {
        "left_data": 1,
        "left_data_contacted": 0,
        "left_data_control": 1,
        "earlier_campaign": 2,
        "excluded_overlap": 0,
        "explored": 0,
    }


def test_analysed_leaves_explorers_out_of_both_arms() -> None:
    frame = _frame().assign(explored=[False, True, False, False, False, False])
    kept, counts = analysed(frame, overlap="attribute")
    assert counts["explored"] == 1
    assert len(kept) == 4
    assert not kept["explored"].any()


def test_analysed_exclude_removes_flagged_from_both_arms() -> None:
    kept, counts = analysed(_frame(), overlap="exclude")
    assert kept["earlier_campaign"].isna().all()
    assert counts["excluded_overlap"] == 2
    table = itt_table(kept, save_rates={"a": 0.1}, settings=OutcomeConfig())
    row = table.set_index("offer").loc["a"]
    assert (row["contacted"], row["control"]) == (1, 0)


def test_itt_table_by_tier_and_offer() -> None:
    kept, _ = analysed(_frame(), overlap="attribute")
    table = itt_table(kept, save_rates={"a": 0.1}, settings=OutcomeConfig(), by=("risk_tier",))
    cells = {(r.offer, r.risk_tier): (r.contacted, r.control) for r in table.itertuples()}
    assert cells == {("a", "high"): (1, 1), ("a", "medium"): (1, 0), ("b", "high"): (1, 0)}
    assert table["measurable"].eq(False).all()


def test_risk_ratio_interval_everyone_churned_is_not_certain() -> None:
    # every customer of both arms churned: without the correction a zero-width interval at 1
    low, high = risk_ratio_interval(270, 270, 20, 20)  # type: ignore[misc]
    assert low < 1.0 < high

"""Reference distributions, PSI, drift thresholds and the drift report."""

from __future__ import annotations

import json
import logging
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from churn import monitoring
from churn.monitoring import DriftConfig

EPS = monitoring.EPSILON


def _assert_plain_json(value: Any) -> None:
    """Only str, float, int, list, dict and None, recursively; no bool, no numpy types."""
    if isinstance(value, dict):
        assert all(type(k) is str for k in value)
        for item in value.values():
            _assert_plain_json(item)
    elif isinstance(value, list):
        for item in value:
            _assert_plain_json(item)
    else:
        assert value is None or type(value) in (str, float, int), repr(value)
    json.dumps(value, allow_nan=False)


def _numeric(edges: list[Any], proportions: list[Any], missing: float = 0.0) -> dict[str, Any]:
    return {"kind": "numeric", "edges": edges, "proportions": proportions, "missing": missing}


def _report_frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reference and current frames with one steady, one moved and one jumped column."""
    then = pd.DataFrame(
        {
            "steady": [0] * 50 + [1] * 50,
            "moved": [0] * 50 + [1] * 50,
            "jumped": [0] * 50 + [1] * 50,
            "plan": ["basic"] * 60 + ["plus"] * 40,
        }
    )
    now = pd.DataFrame(
        {
            "steady": [1] * 50 + [0] * 50,
            "moved": [0] * 70 + [1] * 30,  # psi 0.2 * (ln 1.4 + ln 5/3) ~ 0.17
            "jumped": [0] * 90 + [1] * 10,  # psi 0.4 * (ln 1.8 + ln 5) ~ 0.88
            "plan": ["plus"] * 40 + ["basic"] * 60,
            "unmonitored": range(100),
        }
    )
    return then, now


def test_reference_distribution_numeric_is_plain_json() -> None:
    values = np.random.default_rng(0).normal(size=1_000)
    reference = monitoring.reference_distribution(values, n_bins=10)
    _assert_plain_json(reference)
    assert reference["kind"] == "numeric"
    assert len(reference["edges"]) == 9
    assert reference["edges"] == sorted(reference["edges"])
    assert len(reference["proportions"]) == 10
    assert reference["proportions"] == pytest.approx([0.1] * 10, abs=0.01)
    assert reference["missing"] == 0.0
    assert reference["n"] == 1_000
    assert reference["mean"] == pytest.approx(float(values.mean()))
    assert reference["std"] == pytest.approx(float(values.std()))


def test_reference_distribution_few_distinct_values_one_bin_per_value() -> None:
    counts = pd.Series([0] * 40 + [1] * 30 + [2] * 25 + [3] * 5, dtype="int64")
    reference = monitoring.reference_distribution(counts, n_bins=10)
    assert reference["edges"] == [0.0, 1.0, 2.0]
    assert reference["proportions"] == pytest.approx([0.4, 0.3, 0.25, 0.05])


def test_reference_distribution_ties_deduplicate_edges() -> None:
    values = np.concatenate([np.zeros(700), np.arange(1, 301, dtype=float)])
    reference = monitoring.reference_distribution(values, n_bins=10)
    assert reference["edges"][0] == 0.0
    assert len(reference["edges"]) == len(set(reference["edges"])) < 9
    assert reference["proportions"][0] == pytest.approx(0.7)
    assert min(reference["proportions"]) > 0


def test_reference_distribution_categorical_sorted_with_missing() -> None:
    reference = monitoring.reference_distribution(pd.Series(["b", "a", "b", None]))
    _assert_plain_json(reference)
    assert reference == {
        "kind": "categorical",
        "categories": ["a", "b"],
        "proportions": [0.25, 0.5],
        "missing": 0.25,
        "n": 4,
    }


@pytest.mark.parametrize(
    "values",
    [
        pd.Series([True, False, True, True]),
        pd.Series(["True", "False", "True", "True"], dtype="category"),
    ],
)
def test_reference_distribution_bool_and_category_are_categorical(values: pd.Series) -> None:
    reference = monitoring.reference_distribution(values)
    assert reference["categories"] == ["False", "True"]
    assert reference["proportions"] == [0.25, 0.75]


def test_reference_distribution_all_missing_numeric() -> None:
    reference = monitoring.reference_distribution(pd.Series([np.nan, np.nan]))
    _assert_plain_json(reference)
    assert reference["edges"] == []
    assert reference["proportions"] == []
    assert reference["missing"] == 1.0
    assert reference["mean"] is None
    assert reference["std"] is None


@pytest.mark.parametrize("values", [[], pd.Series([], dtype=float), np.array([])])
def test_reference_distribution_empty_raises(values: Any) -> None:
    with pytest.raises(ValueError, match="reference_distribution: expected at least one value"):
        monitoring.reference_distribution(values)


@pytest.mark.parametrize("n_bins", [0, 1, 2.5, True])
def test_reference_distribution_bad_n_bins_raises(n_bins: Any) -> None:
    with pytest.raises(ValueError, match=r"n_bins as a whole number >= 2; got"):
        monitoring.reference_distribution([1.0, 2.0], n_bins=n_bins)


def test_reference_distribution_two_dimensional_raises() -> None:
    with pytest.raises(ValueError, match="one-dimensional values; got 2 dimensions"):
        monitoring.reference_distribution(np.zeros((3, 2)))


def test_reference_distribution_dates_raise() -> None:
    with pytest.raises(TypeError, match="got dtype datetime64"):
        monitoring.reference_distribution(pd.Series(pd.date_range("2024-01-01", periods=3)))


def test_psi_identical_sample_is_near_zero() -> None:
    values = np.random.default_rng(1).normal(size=5_000)
    assert monitoring.psi(monitoring.reference_distribution(values), values) < 0.01


def test_psi_new_sample_same_distribution_is_small() -> None:
    rng = np.random.default_rng(2)
    reference = monitoring.reference_distribution(rng.normal(size=5_000))
    assert monitoring.psi(reference, rng.normal(size=5_000)) < 0.02


def test_psi_shifted_normal_is_large() -> None:
    rng = np.random.default_rng(3)
    reference = monitoring.reference_distribution(rng.normal(size=5_000))
    # For normals PSI is about the squared shift in sd units: about 1 here.
    assert monitoring.psi(reference, rng.normal(loc=1.0, size=5_000)) > 0.5


def test_psi_hand_computed_two_bins() -> None:
    reference = _numeric([0.0], [0.5, 0.5])
    # a = (0.75, 0.25): 0.25 * ln(1.5) + (-0.25) * ln(0.5) = 0.25 * ln 3
    assert monitoring.psi(reference, [-1.0, -1.0, -1.0, 1.0]) == pytest.approx(0.25 * math.log(3))
    # Values on an edge belong to the bin below it: (-inf, 0], (0, inf).
    assert monitoring.psi(reference, [0.0, 0.0, 0.0, 1.0]) == pytest.approx(0.25 * math.log(3))


def test_psi_missing_values_counted_in_own_bin() -> None:
    reference = monitoring.reference_distribution([1.0, 2.0] * 50)
    assert reference["missing"] == 0.0
    # a = (0.25, 0.25, missing 0.5), e = (0.5, 0.5, missing 0 -> eps)
    expected = 2 * (-0.25 * math.log(0.5)) + (0.5 - EPS) * math.log(0.5 / EPS)
    assert monitoring.psi(reference, [1.0, 2.0, None, np.nan]) == pytest.approx(expected)

    with_missing = monitoring.reference_distribution([1.0, 2.0, np.nan, np.nan])
    assert with_missing["missing"] == 0.5
    # a = (0.25, 0.5, missing 0.25), e = (0.25, 0.25, missing 0.5)
    got = monitoring.psi(with_missing, pd.Series([1.0, 2.0, 2.0, np.nan]))
    assert got == pytest.approx(0.5 * math.log(2))


def test_psi_all_missing_reference() -> None:
    reference = monitoring.reference_distribution(pd.Series([np.nan] * 4))
    assert monitoring.psi(reference, pd.Series([None, None], dtype=object)) == 0.0
    assert monitoring.psi(reference, [1.0, 2.0]) > 1.0


def test_psi_categorical_unseen_category() -> None:
    reference = monitoring.reference_distribution(["a"] * 50 + ["b"] * 50)
    # a: same share; b: gone (0.5 -> eps); c: unseen, in "other" (eps -> 0.5)
    expected = 2 * (0.5 - EPS) * math.log(0.5 / EPS)
    assert monitoring.psi(reference, ["a"] * 50 + ["c"] * 50) == pytest.approx(expected)
    assert monitoring.psi(reference, ["b", "a"] * 10) == 0.0


@pytest.mark.parametrize(
    "values",
    [
        np.random.default_rng(4).normal(size=500),
        np.random.default_rng(5).poisson(2.0, size=500),
        np.array(["x", "y", "y", "z", None] * 20, dtype=object),
    ],
)
def test_psi_json_round_trip_gives_same_result(values: np.ndarray) -> None:
    reference = monitoring.reference_distribution(values, n_bins=8)
    stored = json.loads(json.dumps(reference, allow_nan=False))
    assert stored == reference
    now = np.concatenate([values[:300], values[:200]])
    assert monitoring.psi(stored, now) == monitoring.psi(reference, now)


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ([("kind", "numeric")], "expected a reference mapping; got list"),
        ({"kind": "histogram"}, r"expected reference kind in \['numeric', 'categorical'\]"),
        ({"kind": "numeric", "proportions": [1.0], "missing": 0.0}, r"lacks keys \['edges'\]"),
        (_numeric([0.0], [1.0]), "expected len.edges. . 1 proportions.*got 1 edges and 1"),
        (_numeric([1.0, 0.0], [0.5, 0.25, 0.25]), "finite, ascending reference edges"),
        (_numeric([0.0], [0.5, 0.6]), "add up to 1; got 1.1"),
        (_numeric([0.0], [0.5, "0.5"]), "proportions as a list of numbers"),
        (_numeric([0.0], [0.5, 0.5], missing=float("nan")), "missing share in"),
        (
            {"kind": "categorical", "categories": ["a", "b"], "proportions": [1.0], "missing": 0},
            "one proportion per category; got 2 categories and 1 proportions",
        ),
        (
            {"kind": "categorical", "categories": [1], "proportions": [1.0], "missing": 0},
            "categories as a list of strings",
        ),
    ],
)
def test_psi_invalid_reference_raises(reference: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        monitoring.psi(reference, [0.5, 1.5])


def test_psi_empty_values_raises() -> None:
    reference = _numeric([0.0], [0.5, 0.5])
    with pytest.raises(ValueError, match="psi: expected at least one value; got none"):
        monitoring.psi(reference, [])


def test_psi_string_values_for_numeric_reference_raise() -> None:
    reference = _numeric([0.0], [0.5, 0.5])
    with pytest.raises(ValueError, match="numeric values for a numeric reference; got dtype"):
        monitoring.psi(reference, ["1", "2"])


@pytest.mark.parametrize("epsilon", [0.0, -1e-4, 1.0, float("nan")])
def test_psi_bad_epsilon_raises(epsilon: float) -> None:
    with pytest.raises(ValueError, match=r"epsilon in \(0, 1\)"):
        monitoring.psi(_numeric([0.0], [0.5, 0.5]), [1.0], epsilon=epsilon)


@settings(max_examples=60, deadline=None)
@given(
    then=st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=1, max_size=60),
    now=st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=1, max_size=60),
)
def test_psi_is_zero_on_own_sample_and_never_negative(then: list[float], now: list[float]) -> None:
    reference = monitoring.reference_distribution(np.array(then), n_bins=5)
    _assert_plain_json(reference)
    assert monitoring.psi(reference, np.array(then)) == 0.0
    assert monitoring.psi(reference, np.array(then[::-1])) == 0.0
    assert monitoring.psi(reference, np.array(now)) >= 0.0


def test_drift_thresholds_from_mapping() -> None:
    assert DriftConfig.from_mapping({"warn": 0.2, "flag": 0.3}) == DriftConfig(0.2, 0.3)
    assert DriftConfig.from_mapping({}) == DriftConfig(warn=0.1, flag=0.25)


def test_drift_thresholds_classify_at_boundaries() -> None:
    thresholds = DriftConfig(warn=0.1, flag=0.25)
    assert [thresholds.classify(v) for v in (0.0, 0.0999, 0.1, 0.2499, 0.25, 3.0)] == [
        "ok",
        "ok",
        "warn",
        "warn",
        "flag",
        "flag",
    ]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"warn": 0.3, "flag": 0.2}, r"expected 0 < warn <= flag; got warn=0.3, flag=0.2"),
        ({"warn": 0.0, "flag": 0.2}, r"expected 0 < warn <= flag; got warn=0.0"),
        ({"warn": -0.1}, r"expected 0 < warn <= flag"),
        ({"flag": float("inf")}, r"thresholds.flag: expected a finite number; got inf"),
        ({"warn": True}, r"thresholds.warn: expected a finite number; got True"),
        ({"warn": 0.1, "alert": 0.5}, r"unknown keys \['alert'\]"),
    ],
)
def test_drift_thresholds_invalid_raises(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DriftConfig.from_mapping(values)


def test_drift_report_statuses_and_order(caplog: pytest.LogCaptureFixture) -> None:
    then, now = _report_frames()
    references = monitoring.reference_distributions(then)
    with caplog.at_level(logging.WARNING, logger="churn.monitoring"):
        report = monitoring.drift_report(references, now, thresholds=DriftConfig())
    assert list(report.columns) == monitoring.REPORT_COLUMNS
    assert report["column"].tolist() == ["jumped", "moved", "plan", "steady"]
    assert report["status"].tolist() == ["flag", "warn", "ok", "ok"]
    assert report["psi"].tolist() == sorted(report["psi"], reverse=True)
    assert report["psi"].iloc[0] == pytest.approx(0.4 * (math.log(1.8) + math.log(5)))
    assert report["psi"].iloc[1] == pytest.approx(0.2 * (math.log(1.4) + math.log(5 / 3)))
    assert report["psi"].iloc[2:].tolist() == [0.0, 0.0]
    assert [r.levelno for r in caplog.records] == [logging.WARNING, logging.WARNING]
    assert "flag" in caplog.records[0].getMessage()
    assert "jumped" in caplog.records[0].getMessage()
    assert "moved" in caplog.records[1].getMessage()


def test_drift_report_missing_shares() -> None:
    references = {"x": monitoring.reference_distribution([1.0, np.nan, 2.0, 3.0])}
    frame = pd.DataFrame({"x": [1.0, np.nan, np.nan, np.nan]})
    report = monitoring.drift_report(references, frame, thresholds=DriftConfig())
    assert report.loc[0, "missing_reference"] == 0.25
    assert report.loc[0, "missing_now"] == 0.75
    assert report.loc[0, "status"] == "flag"


def test_drift_report_missing_column_raises() -> None:
    then, now = _report_frames()
    references = monitoring.reference_distributions(then)
    with pytest.raises(ValueError, match=r"frame lacks reference columns \['jumped', 'plan'\]"):
        monitoring.drift_report(
            references, now.drop(columns=["plan", "jumped"]), thresholds=DriftConfig()
        )


def test_drift_report_bad_reference_names_column() -> None:
    references = {"x": {"kind": "numeric", "edges": [], "proportions": [0.5], "missing": 0.0}}
    with pytest.raises(
        ValueError, match="drift_report: column 'x': expected reference proportions"
    ):
        monitoring.drift_report(references, pd.DataFrame({"x": [1.0]}), thresholds=DriftConfig())


def test_drift_report_empty_inputs_raise() -> None:
    references = {"x": monitoring.reference_distribution([1.0, 2.0])}
    with pytest.raises(ValueError, match="expected at least one row; got an empty frame"):
        monitoring.drift_report(
            references,
            pd.DataFrame({"x": pd.Series([], dtype=float)}),
            thresholds=DriftConfig(),
        )
    with pytest.raises(ValueError, match="expected at least one reference column; got none"):
        monitoring.drift_report({}, pd.DataFrame({"x": [1.0]}), thresholds=DriftConfig())


def test_drift_report_thresholds_mapping_raises() -> None:
    references = {"x": monitoring.reference_distribution([1.0, 2.0])}
    with pytest.raises(TypeError, match=r"expected thresholds as DriftConfig.*got dict"):
        monitoring.drift_report(
            references,
            pd.DataFrame({"x": [1.0]}),
            thresholds={"warn": 0.1, "flag": 0.25},  # type: ignore[arg-type]
        )


def test_summarise_drift_counts_and_lists() -> None:
    then, now = _report_frames()
    report = monitoring.drift_report(
        monitoring.reference_distributions(then), now, thresholds=DriftConfig()
    )
    summary = monitoring.summarise_drift(report)
    _assert_plain_json(summary)
    assert summary == {
        "n_columns": 4,
        "counts": {"ok": 2, "warn": 1, "flag": 1},
        "max_psi": pytest.approx(0.4 * (math.log(1.8) + math.log(5))),
        "max_psi_column": "jumped",
        "warned": ["moved"],
        "flagged": ["jumped"],
    }


def test_summarise_drift_empty_report() -> None:
    summary = monitoring.summarise_drift(pd.DataFrame(columns=monitoring.REPORT_COLUMNS))
    assert summary == {
        "n_columns": 0,
        "counts": {"ok": 0, "warn": 0, "flag": 0},
        "max_psi": None,
        "max_psi_column": None,
        "warned": [],
        "flagged": [],
    }


@pytest.mark.parametrize(
    ("report", "message"),
    [
        (pd.DataFrame({"column": ["x"], "psi": [0.1]}), r"lacks \['status'\]"),
        (
            pd.DataFrame({"column": ["x"], "psi": [0.1], "status": ["alarm"]}),
            r"statuses among \['ok', 'warn', 'flag'\]; got \['alarm'\]",
        ),
        (
            pd.DataFrame({"column": ["x"], "psi": [np.nan], "status": ["ok"]}),
            r"finite psi values; got \[nan\]",
        ),
    ],
)
def test_summarise_drift_invalid_report_raises(report: pd.DataFrame, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        monitoring.summarise_drift(report)


def test_reference_distributions_every_column() -> None:
    frame = pd.DataFrame(
        {
            "amount": [1.5, 2.5, np.nan, 4.0],
            "n_orders": pd.Series([0, 1, 1, 2], dtype="Int64"),
            "plan": pd.Series(["a", "b", "a", "a"], dtype="category"),
            "is_member": [True, False, True, True],
        }
    )
    references = monitoring.reference_distributions(frame)
    _assert_plain_json(references)
    assert list(references) == ["amount", "n_orders", "plan", "is_member"]
    assert [r["kind"] for r in references.values()] == [
        "numeric",
        "numeric",
        "categorical",
        "categorical",
    ]
    assert references["n_orders"]["edges"] == [0.0, 1.0]
    assert references["amount"]["missing"] == 0.25


def test_reference_distributions_bad_frames_raise() -> None:
    with pytest.raises(ValueError, match=r"string column names \(JSON keys\); got \[0\]"):
        monitoring.reference_distributions(pd.DataFrame({0: [1.0]}))
    with pytest.raises(ValueError, match="expected at least one column; got none"):
        monitoring.reference_distributions(pd.DataFrame())
    with pytest.raises(ValueError, match="column 'x': expected at least one value; got none"):
        monitoring.reference_distributions(pd.DataFrame({"x": pd.Series([], dtype=float)}))

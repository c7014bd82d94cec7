"""Reasons behind a churn score, in plain words (docs/scoring-and-offers.md).

The reasons of a customer are the features with the largest positive SHAP contributions to
their score (LightGBM's own ``pred_contrib``: the log-odds a feature adds), written as phrases a
retention team reads without knowing the feature names: ``no purchase for 74 days, usually
every 21``. Every feature of :func:`churn.features.feature_docs` has a phrase.

A missing value never prints as "unknown": it has a phrase of its own where it means something
(the gap features of a customer with one purchase day: ``only one purchase so far``), otherwise
the feature gives no reason and the next one is used.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

Row = Mapping[str, Any]


class _MissingValueError(Exception):
    """A phrase needs a value the row does not have: the feature gives no reason."""


def _num(row: Row, name: str) -> float:
    value = row.get(name)
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan
    return number


def _known(row: Row, name: str) -> float:
    value = _num(row, name)
    if math.isnan(value):
        raise _MissingValueError(name)
    return value


def _days(value: float) -> str:
    if math.isnan(value):
        raise _MissingValueError
    return f"{value:.0f}"


def _money(value: float) -> str:
    if math.isnan(value):
        raise _MissingValueError
    return f"{value:,.2f}"


def _share(value: float) -> str:
    if math.isnan(value):
        raise _MissingValueError
    return f"{value:.0%}"


def _times(n: float, one: str, many: str) -> str:
    if math.isnan(n):
        raise _MissingValueError
    return f"{n:.0f} {one if round(n) == 1 else many}"


def _one_purchase_day(row: Row) -> str:
    """Why a gap is missing: fewer than two purchase days (several purchases on that one day)."""
    if _num(row, "n_purchases") > 1:
        return "bought on one day only so far"
    return "only one purchase so far"


def _gap(name: str, text: Callable[[float], str]) -> Callable[[Row], str]:
    """A gap feature's phrase; missing means one purchase day so far."""

    def phrase(row: Row) -> str:
        value = _num(row, name)
        return _one_purchase_day(row) if math.isnan(value) else text(value)

    return phrase


def _recency(row: Row) -> str:
    text = f"no purchase for {_days(_num(row, 'recency_days'))} days"
    gap = _num(row, "gap_mean_days")
    if math.isnan(gap):
        return f"{text}, {_one_purchase_day(row)}"
    return f"{text}, usually every {_days(gap)}"


def _overdue(row: Row) -> str:
    ratio = _num(row, "recency_gap_ratio")
    if math.isnan(ratio):
        return _recency(row)
    return (
        f"{ratio:.1f} times their usual gap since the last purchase "
        f"({_days(_num(row, 'recency_days'))} days vs every {_days(_num(row, 'gap_mean_days'))})"
    )


def _trend(kind: str, days: int) -> Callable[[Row], str]:
    def phrase(row: Row) -> str:
        if kind == "purchases":
            now = _num(row, f"purchases_{days}d")
            before = _num(row, f"purchases_{2 * days}d") - now
            return (
                f"buying less: {_times(now, 'purchase', 'purchases')} in the last {days} days "
                f"vs {_times(before, 'purchase', 'purchases')} in the {days} days before"
            )
        now = _num(row, f"spend_{days}d")
        before = _num(row, f"spend_{2 * days}d") - now
        return (
            f"spending less: {_money(now)} in the last {days} days vs {_money(before)} in the "
            f"{days} days before"
        )

    return phrase


_STAGES = {
    "new": "a new customer, still forming a habit",
    "lapsing": "lapsing: overdue for a purchase by their own rhythm",
    "established": "an established customer",
}


def _stage(value: object) -> str:
    if str(value) not in _STAGES:
        raise _MissingValueError("lifecycle_stage")
    return _STAGES[str(value)]


def _detractor(row: Row) -> str:
    if _known(row, "nps_detractor") != 1:
        return "not a detractor in the last NPS answer"
    nps = _num(row, "last_nps")
    if math.isnan(nps):
        return "a detractor in the last NPS answer"
    return f"a detractor: last NPS answer {nps:.0f} of 10"


_FIXED: dict[str, Callable[[Row], str]] = {
    "recency_days": _recency,
    "recency_gap_ratio": _overdue,
    "tenure_days": lambda r: f"a customer for only {_days(_num(r, 'tenure_days'))} days",
    "frequency": lambda r: f"bought on {_times(_num(r, 'frequency'), 'day', 'days')} in all",
    "n_purchases": lambda r: f"{_times(_num(r, 'n_purchases'), 'purchase', 'purchases')} in all",
    "monetary_sum": lambda r: f"spent {_money(_num(r, 'monetary_sum'))} in all",
    "monetary_mean": lambda r: f"small baskets: {_money(_num(r, 'monetary_mean'))} on average",
    "monetary_std": lambda r: (
        f"irregular basket sizes (spread {_money(_num(r, 'monetary_std'))})"
        if not math.isnan(_num(r, "monetary_std"))
        else "only one purchase so far"  # a spread needs two purchases
    ),
    "monetary_max": lambda r: f"largest purchase only {_money(_num(r, 'monetary_max'))}",
    "last_amount": lambda r: f"last purchase day's spend {_money(_num(r, 'last_amount'))}",
    "gap_mean_days": _gap("gap_mean_days", lambda v: f"buys rarely: about every {_days(v)} days"),
    # a spread of gaps needs three purchase days: missing with two says nothing, so no reason
    "gap_std_days": lambda r: (
        f"irregular buying: gaps vary by {_days(_num(r, 'gap_std_days'))} days"
    ),
    "gap_max_days": _gap(
        "gap_max_days", lambda v: f"has gone {_days(v)} days without buying before"
    ),
    "gap_last_days": _gap(
        "gap_last_days", lambda v: f"waited {_days(v)} days before their last purchase"
    ),
    "refund_share": lambda r: f"returned {_share(_num(r, 'refund_share'))} of what they bought",
    "category_count": lambda r: (
        f"buys in only {_times(_num(r, 'category_count'), 'category', 'categories')}"
    ),
    "top_category_share": lambda r: (
        f"{_share(_num(r, 'top_category_share'))} of purchases in one category"
    ),
    "lifecycle_stage": lambda r: _stage(r.get("lifecycle_stage")),
    "last_nps": lambda r: (
        "never answered the NPS survey"
        if math.isnan(_num(r, "last_nps"))
        else f"last NPS answer {_num(r, 'last_nps'):.0f} of 10"
    ),
    "nps_detractor": _detractor,
    "btyd_p_alive": lambda r: (
        f"purchase pattern says only {_share(_num(r, 'btyd_p_alive'))} likely still active"
    ),
    "btyd_expected_purchases": lambda r: (
        f"expected to buy on only {_known(r, 'btyd_expected_purchases'):.1f} days in the horizon"
    ),
    "btyd_p_no_purchase": lambda r: (
        f"purchase pattern says {_share(_num(r, 'btyd_p_no_purchase'))} likely to buy nothing "
        "in the horizon"
    ),
}


def _window_count(column: str, days: str, one: str, many: str) -> Callable[[Row], str]:
    def text(row: Row) -> str:
        n = _known(row, column)
        if n == 0:
            return f"no {one} in the last {days} days"
        return f"only {_times(n, one, many)} in the last {days} days"

    return text


def _window_spend(column: str, days: str) -> Callable[[Row], str]:
    def text(row: Row) -> str:
        amount = _known(row, column)
        if amount == 0:
            return f"no spend in the last {days} days"
        return f"spent only {_money(amount)} in the last {days} days"

    return text


def _events(column: str, days: str, one: str, many: str) -> Callable[[Row], str]:
    def text(row: Row) -> str:
        return f"{_times(_num(row, column), one, many)} in the last {days} days"

    return text


def _active_months(row: Row) -> str:
    months = _times(_num(row, "active_months"), "month", "months")
    return f"bought in only {months} of the last twelve 30-day periods"


_PATTERNS: list[tuple[re.Pattern[str], Callable[[re.Match[str]], Callable[[Row], str]]]] = [
    (
        re.compile(r"purchases_(\d+)d"),
        lambda m: _window_count(m.group(0), m.group(1), "purchase", "purchases"),
    ),
    (re.compile(r"spend_(\d+)d"), lambda m: _window_spend(m.group(0), m.group(1))),
    (re.compile(r"purchase_trend_(\d+)d"), lambda m: _trend("purchases", int(m.group(1)))),
    (re.compile(r"spend_trend_(\d+)d"), lambda m: _trend("spend", int(m.group(1)))),
    (
        re.compile(r"complaints_(\d+)d"),
        lambda m: _events(m.group(0), m.group(1), "complaint", "complaints"),
    ),
    (
        re.compile(r"tickets_(\d+)d"),
        lambda m: _events(m.group(0), m.group(1), "support ticket", "support tickets"),
    ),
    (re.compile(r"active_months"), lambda m: _active_months),
]


def phrase(feature: str, row: Row) -> str | None:
    """The plain-words reason for ``feature`` given the customer's feature values ``row``.

    None when a value the phrase needs is missing and has no phrase of its own: the feature
    then gives no reason (never "unknown").
    """
    try:
        return _written(feature)(row)
    except _MissingValueError:
        return None


def _written(feature: str) -> Callable[[Row], str]:
    if feature in _FIXED:
        return _FIXED[feature]
    for pattern, make in _PATTERNS:
        match = pattern.fullmatch(feature)
        if match:
            return make(match)
    return lambda row: _fallback(feature, row.get(feature))


def _fallback(feature: str, value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        raise _MissingValueError(feature)
    return f"{feature.replace('_', ' ')} is {value}"


def has_phrase(feature: str) -> bool:
    """Whether ``feature`` has a written phrase (not the generic fallback)."""
    return feature in _FIXED or any(p.fullmatch(feature) for p, _ in _PATTERNS)


# Features that tell the same story are one reason: their contributions add up, and the
# reason is phrased once (the inactivity family always by recency against the usual gap).
_FAMILIES: list[tuple[str, re.Pattern[str]]] = [
    (
        "inactivity",
        re.compile(
            r"recency_days|recency_gap_ratio|gap_last_days|gap_max_days|btyd_p_alive"
            r"|btyd_expected_purchases|btyd_p_no_purchase"
        ),
    ),
    ("trend", re.compile(r"(purchase|spend)_trend_\d+d")),
    (
        "frequency",
        re.compile(
            r"frequency|n_purchases|purchases_\d+d|active_months|gap_mean_days|gap_std_days"
        ),
    ),
    ("spend", re.compile(r"monetary_\w+|spend_\d+d|last_amount")),
    ("complaints", re.compile(r"complaints_\d+d")),
    ("tickets", re.compile(r"tickets_\d+d")),
    ("nps", re.compile(r"last_nps|nps_detractor")),
    ("categories", re.compile(r"category_count|top_category_share")),
]


def family(feature: str) -> str:
    """The reason family of a feature (the feature itself when it stands alone)."""
    for name, pattern in _FAMILIES:
        if pattern.fullmatch(feature):
            return name
    return feature


def top_reasons(contributions: pd.DataFrame, values: pd.DataFrame, *, n: int = 3) -> pd.DataFrame:
    """The ``n`` reasons pushing each score up the most, as phrases (``reason_1`` ...).

    Contributions are summed per reason family (:func:`family`); the families with the largest
    positive sums give the reasons, each phrased by its largest contributor (the inactivity
    family always by recency). A family whose phrase lacks its value (:func:`phrase` is None)
    is skipped for the next one.

    Args:
        contributions: SHAP contributions per row and feature (no ``bias`` column).
        values: the same rows' feature values (every column a phrase may mention).
        n: reasons per customer; fewer when fewer features push the score up (None then).
    """
    if not contributions.index.equals(values.index):
        raise ValueError("top_reasons: contributions and values must have the same row index")
    columns = [str(c) for c in contributions.columns]
    families = sorted({family(c) for c in columns})
    members = {f: [i for i, c in enumerate(columns) if family(c) == f] for f in families}
    matrix = contributions.to_numpy(dtype=float)
    totals = np.column_stack([matrix[:, members[f]].sum(axis=1) for f in families])
    order = np.argsort(-totals, axis=1, kind="stable")
    records: list[dict[str, Any]] = [
        {str(k): v for k, v in r.items()} for r in values.to_dict("records")
    ]
    out: dict[str, list[str | None]] = {f"reason_{k + 1}": [] for k in range(n)}
    for i, row in enumerate(records):
        texts: list[str] = []
        for f in order[i]:
            if len(texts) == n or totals[i, f] <= 0:
                break
            name = families[f]
            lead = max(members[name], key=lambda j: matrix[i, j])
            text = phrase("recency_days" if name == "inactivity" else columns[lead], row)
            if text is not None:  # a missing value gives no reason: the next family does
                texts.append(text)
        for k in range(n):
            out[f"reason_{k + 1}"].append(texts[k] if k < len(texts) else None)
    return pd.DataFrame(out, index=contributions.index, dtype="string")

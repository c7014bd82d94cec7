"""Why customers said they left, next to why the model thought they would (docs/outcomes.md).

An ``exit_survey`` event's value is the 0-based index of its reason in ``data.exit_reasons``
(the data contract). For one export dated ``A`` with horizon ``H`` the answers counted are those
of the export's customers in ``[A, A + H + outcomes.survey_grace_days)``: answers come some days
after leaving, so the window runs on past the outcome window. A customer who answered more than
once counts with their first answer (the earliest; the lowest index on a tie).

The counts are by risk tier, by arm (``contacted``: assigned an offer, ``control``: the control
group, ``none``: neither) and by the model's top reason (``reason_1`` of the export's
``at_risk.parquet``) grouped into its family (:data:`FAMILIES`, the families of
:mod:`churn.reasons`; ``not_listed`` for customers off the at-risk list).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import pandas as pd
import pyarrow as pa

from churn.data.contract import EXIT_SURVEY_TYPE
from churn.errors import DataError

log = logging.getLogger(__name__)

ARMS: Final = ("contacted", "control", "none")
NOT_LISTED: Final = "not_listed"
CSV_COLUMNS: Final = ("breakdown", "group", "exit_reason", "customers")
# The model's reason phrases (churn.reasons) by family, tried in order; the first match wins.
FAMILIES: Final[tuple[tuple[str, re.Pattern[str]], ...]] = (
    ("complaints", re.compile(r"\bcomplaints?\b")),
    ("tickets", re.compile(r"support tickets?")),
    ("nps", re.compile(r"NPS|detractor")),
    ("trend", re.compile(r"^(buying|spending) less")),
    (
        "inactivity",
        re.compile(
            r"^no purchase for|usual gap|^waited|^has gone|likely still active|likely to buy "
            r"nothing|expected to buy|^lapsing"
        ),
    ),
    ("categories", re.compile(r"categor")),
    ("spend", re.compile(r"spen[dt]|basket|largest purchase")),
    ("lifecycle", re.compile(r"new customer|established customer|a customer for only")),
    ("returns", re.compile(r"^returned")),
    ("frequency", re.compile(r"purchase|bought|buys|buying")),
)


@dataclass(frozen=True)
class Answers:
    """The data's exit survey answers and the reasons they index.

    Attributes:
        rows: ``customer_id, timestamp, exit_reason`` per answer, in time order.
        reasons: ``data.exit_reasons``, the order of the counts.
    """

    rows: pd.DataFrame
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class ExitReasons:
    """The exit reasons of one export's customers.

    Attributes:
        summary: the JSON-ready record (``outcomes.json``: ``exit_reasons``).
        table: the same counts, long (:data:`CSV_COLUMNS`), for ``exit_reasons.csv``.
    """

    summary: dict[str, Any]
    table: pd.DataFrame


def survey_answers(events: pa.Table | None, reasons: Sequence[str]) -> Answers:
    """Every ``exit_survey`` event as ``customer_id, timestamp, exit_reason``, in time order.

    The events are validated (``bad_exit_reason`` rejected every value that is no index into
    ``reasons``), so each value names a reason.

    Raises:
        DataError: a value that is no index into ``reasons`` (events not validated with them).
    """
    columns = ["customer_id", "timestamp", "exit_reason"]
    if events is None or "type" not in events.column_names:
        return Answers(pd.DataFrame(columns=columns), tuple(reasons))
    frame = events.select(["customer_id", "timestamp", "type", "value"]).to_pandas()
    frame = frame[frame["type"] == EXIT_SURVEY_TYPE]
    value = frame["value"]
    bad = value.isna() | (value != value.round()) | ~value.between(0, len(reasons) - 1)
    if bad.any():
        raise DataError(
            f"outcomes: exit_survey events: expected values that index data.exit_reasons "
            f"{list(reasons)} (whole numbers from 0 to {len(reasons) - 1}); got "
            f"{int(bad.sum())} others, e.g. {value[bad].iloc[0]!r}"
        )
    names = pd.Series(list(reasons), dtype="string")
    out = pd.DataFrame(
        {
            "customer_id": frame["customer_id"].astype("string").to_numpy(),
            "timestamp": pd.to_datetime(frame["timestamp"]).to_numpy(),
            "index": frame["value"].astype("int64").to_numpy(),
        }
    )
    out["exit_reason"] = names.reindex(out["index"]).to_numpy()
    out = out.sort_values(["timestamp", "customer_id", "index"], kind="stable")
    return Answers(out[columns].reset_index(drop=True), tuple(reasons))


def reason_family(phrase: Any) -> str:
    """The family of one of the model's reason phrases; ``not_listed`` when there is none."""
    if not isinstance(phrase, str) or not phrase.strip():
        return NOT_LISTED
    for name, pattern in FAMILIES:
        if pattern.search(phrase):
            return name
    return "other"


def exit_reasons(
    joined: pd.DataFrame,
    answers: Answers,
    *,
    start: pd.Timestamp,
    end: pd.Timestamp,
    grace_days: int,
    data_end: pd.Timestamp,
    top_reasons: pd.Series,
) -> ExitReasons | None:
    """Count the export's customers' exit reasons in ``[start, end + grace_days)``.

    Args:
        joined: the export's rows (``customer_id, risk_tier, offer, control_group``), tiers
            filled as the measurement fills them.
        answers: :func:`survey_answers` of the data.
        start: the export's as-of date.
        end: the end of its outcome window, ``as_of + H``.
        grace_days: ``outcomes.survey_grace_days``.
        data_end: the data end (the counts are complete when the grace window lies before it).
        top_reasons: the model's ``reason_1`` by customer id (:attr:`PastExport.top_reasons`).

    Returns:
        The counts, or None when none of the export's customers answered in the window.
    """
    until = pd.Timestamp(end) + pd.Timedelta(days=grace_days)
    reasons, given = answers.reasons, answers.rows
    ids = joined["customer_id"].astype(str)
    inside = given[
        (given["timestamp"] >= pd.Timestamp(start))
        & (given["timestamp"] < until)
        & given["customer_id"].astype(str).isin(set(ids))
    ]
    first = inside.drop_duplicates("customer_id", keep="first")
    if first.empty:
        return None
    rows = joined.assign(customer_id=ids).merge(
        first.assign(customer_id=first["customer_id"].astype(str)), on="customer_id"
    )
    rows["arm"] = [
        "contacted" if pd.notna(o) else "control" if c else "none"
        for o, c in zip(rows["offer"], rows["control_group"], strict=True)
    ]
    listed = top_reasons.copy()
    listed.index = listed.index.astype(str)
    rows["model_reason"] = [reason_family(p) for p in listed.reindex(rows["customer_id"])]
    rows["risk_tier"] = rows["risk_tier"].astype(str)
    by_tier = _counts(rows, "risk_tier", reasons, sorted(set(rows["risk_tier"])))
    for record in by_tier:
        tier = rows[rows["risk_tier"] == record["risk_tier"]]
        record["model_reasons"] = tier["model_reason"].value_counts().sort_index().to_dict()
    summary = {
        "reasons": list(reasons),
        "window": {"start": str(pd.Timestamp(start).date()), "end": str(until.date())},
        "grace_days": grace_days,
        "complete": bool(until <= pd.Timestamp(data_end)),
        "answered": len(rows),
        "by_tier": by_tier,
        "by_arm": _counts(rows, "arm", reasons, list(ARMS)),
        "by_model_reason": _counts(
            rows, "model_reason", reasons, sorted(set(rows["model_reason"]))
        ),
    }
    log.info("outcomes %s: %d exit survey answers by %s", start, len(rows), until.date())
    return ExitReasons(summary, _long(summary, reasons))


def _counts(
    rows: pd.DataFrame, by: str, reasons: Sequence[str], groups: list[str]
) -> list[dict[str, Any]]:
    """Per group: ``answered`` and the count of every reason (zeros included)."""
    out = []
    for group in groups:
        mine = rows.loc[rows[by] == group, "exit_reason"]
        counts = mine.value_counts()
        out.append(
            {
                by: group,
                "answered": len(mine),
                **{str(r): int(counts.get(r, 0)) for r in reasons},
            }
        )
    return out


def _long(summary: dict[str, Any], reasons: Sequence[str]) -> pd.DataFrame:
    """The counts as one row per breakdown, group and reason."""
    records = [
        {"breakdown": by, "group": row[by], "exit_reason": str(r), "customers": row[str(r)]}
        for key, by in (
            ("by_tier", "risk_tier"),
            ("by_arm", "arm"),
            ("by_model_reason", "model_reason"),
        )
        for row in summary[key]
        for r in reasons
    ]
    return pd.DataFrame(records, columns=list(CSV_COLUMNS)).astype({"customers": "int64"})

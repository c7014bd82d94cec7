"""Net promoter score overall, per period, and churn by NPS group."""

from __future__ import annotations

import logging
import math

import numpy as np
import numpy.typing as npt
import pandas as pd

from churn.kpis.inputs import (
    _PASSIVE_MIN,
    _PROMOTER_MIN,
    NPS_GROUPS,
    _check_churn_after_days,
    _check_events,
    _check_freq,
    _check_scores,
    _check_transactions,
    _data_end,
    _is_lost,
    _nonzero,
    _purchases,
    _spans,
)

log = logging.getLogger(__name__)


def nps(scores: npt.ArrayLike) -> float:
    """Net Promoter Score: % promoters (9-10) minus % detractors (0-6), from -100 to 100.

    Example: 50% promoters, 30% passives and 20% detractors give 30.0.

    Args:
        scores: Answers to "how likely are you to recommend us?", whole numbers 0-10.

    Returns:
        The score in points; NaN when there are no answers.

    Raises:
        ValueError: when a value is not a whole number from 0 to 10 (NaN included).
    """
    values = _check_scores(scores, "nps")
    if values.size == 0:
        return math.nan
    promoters = int((values >= _PROMOTER_MIN).sum())
    detractors = int((values < _PASSIVE_MIN).sum())
    return 100.0 * (promoters - detractors) / values.size


def nps_by_period(events: pd.DataFrame, *, freq: str = "M") -> pd.Series:
    """NPS of the answers given in each period (every answer counts, ``type == "nps"``).

    Args:
        events: ``customer_id``, ``timestamp`` (naive datetime64), ``type``, ``value``.
        freq: ``"M"``, ``"Q"`` or ``"Y"`` (``"A"`` is an alias of ``"Y"``).

    Returns:
        Series ``nps`` indexed by every period from the first to the last answer (index name
        ``period``); NaN in periods without answers, empty when there are no answers.

    Raises:
        DataError: on missing columns.
        ValueError: when an NPS value is not a whole number from 0 to 10.
        ConfigError: on a bad ``freq``.
    """
    where = "nps_by_period"
    period_freq = _check_freq(freq, where)
    answers = _nps_answers(_check_events(events, where), where)
    if answers.empty:
        log.info("%s: no NPS answers", where)
        empty = pd.PeriodIndex([], freq=period_freq, name="period")
        return pd.Series(np.array([], dtype=float), index=empty, name="nps")
    period = answers["timestamp"].dt.to_period(period_freq)
    counts = (
        pd.DataFrame(
            {
                "answers": 1,
                "points": np.where(
                    answers["value"] >= _PROMOTER_MIN,
                    1,
                    np.where(answers["value"] < _PASSIVE_MIN, -1, 0),
                ),
                "period": period,
            }
        )
        .groupby("period")[["answers", "points"]]
        .sum()
    )
    timeline = pd.period_range(period.min(), period.max(), freq=period_freq, name="period")
    counts = counts.reindex(timeline, fill_value=0)
    score = 100.0 * counts["points"] / _nonzero(counts["answers"])
    return score.rename("nps")


def churn_by_nps_group(
    transactions: pd.DataFrame,
    events: pd.DataFrame,
    *,
    end: str | pd.Timestamp | None = None,
    churn_after_days: int = 90,
) -> pd.DataFrame:
    """Churn to date by the group of each customer's latest NPS answer before ``end``.

    Only customers with a purchase and an NPS answer before ``end`` are counted. A customer is
    lost when their last purchase is at least ``churn_after_days`` before ``end``. Ties between
    answers at the same timestamp go to the later row.

    Args:
        transactions: ``customer_id``, ``timestamp`` (naive datetime64), ``amount``.
        events: ``customer_id``, ``timestamp``, ``type``, ``value``; NPS answers have type
            ``"nps"`` and a value 0-10.
        end: End of the data (exclusive; default: the day after the last transaction).
        churn_after_days: Days without a purchase after which a customer counts as lost.

    Returns:
        Rows ``promoter``, ``passive``, ``detractor`` (index name ``nps_group``, always all
        three) with ``customers``, ``lost_customers`` and ``churn_rate`` (lost / customers, NaN
        for an empty group).

    Raises:
        DataError: on missing columns or no purchase before ``end``.
        ValueError: when an NPS value is not a whole number from 0 to 10.
        ConfigError: on a bad ``end`` or ``churn_after_days``.
    """
    where = "churn_by_nps_group"
    _check_churn_after_days(churn_after_days, where)
    tx = _check_transactions(transactions, where)
    end_ts = _data_end(tx, end, where)
    spans = _spans(_purchases(tx, end_ts, where))
    answers = _nps_answers(_check_events(events, where), where)
    latest = (
        answers[answers["timestamp"] < end_ts]
        .sort_values("timestamp", kind="stable")
        .drop_duplicates("customer_id", keep="last")
        .set_index("customer_id")["value"]
    )
    buyers = latest.index.isin(spans.index)
    if not buyers.all():
        log.info("%s: %d NPS answerers without a purchase left out", where, int((~buyers).sum()))
    latest = latest[buyers]
    groups = pd.Series(
        np.select(
            [latest >= _PROMOTER_MIN, latest >= _PASSIVE_MIN], ["promoter", "passive"], "detractor"
        ),
        index=latest.index,
    )
    lost = _is_lost(spans, end_ts, churn_after_days).reindex(latest.index)
    table = (
        pd.DataFrame({"nps_group": groups, "lost": lost.astype(int)})
        .groupby("nps_group")
        .agg(customers=("lost", "size"), lost_customers=("lost", "sum"))
        .reindex(list(NPS_GROUPS), fill_value=0)
    )
    table.index.name = "nps_group"
    table["churn_rate"] = table["lost_customers"] / _nonzero(table["customers"])
    return table


def _nps_answers(events: pd.DataFrame, where: str) -> pd.DataFrame:
    if events.empty:
        return pd.DataFrame(
            {
                "customer_id": pd.Series([], dtype=str),
                "timestamp": pd.Series([], dtype="datetime64[ns]"),
                "value": pd.Series([], dtype=float),
            }
        )
    answers = events.loc[events["type"] == "nps", ["customer_id", "timestamp", "value"]]
    values = _check_scores(answers["value"], f"{where}: events.value (type 'nps')")
    return answers.assign(value=values)

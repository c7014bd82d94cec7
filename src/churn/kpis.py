"""Retention KPIs for reports: customer base flow, churn, retention, orders, NPS and cohorts.

Definitions are in docs/report.md. A *purchase* is a transaction with a positive
amount; refunds never count as activity. Periods are calendar months (``"M"``), quarters
(``"Q"``) or years (``"Y"``, alias ``"A"``).

``end`` is exclusive everywhere: the data are the rows with ``timestamp < end``, and rows at or
after ``end`` are ignored, as if the data stopped there. It defaults to the day after the last
transaction (the same convention as :func:`churn.labels.data_end`).

A customer is *acquired* in the period of their first purchase ever. A customer is *lost* in the
period in which their last purchase (before ``end``) falls, provided the data extend at least
``churn_after_days`` past that purchase (``end - last purchase >= churn_after_days``); until then
they still count as customers, since a recent buyer may come back. The customer base at a
period's start ``S`` is every customer acquired before the period who is not yet lost, so the
customers at the end ``E = S + N - lost`` (``N`` acquired during the period) are the next
period's ``S``.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import numpy.typing as npt
import pandas as pd

from churn.errors import ConfigError, DataError

log = logging.getLogger(__name__)

TRANSACTION_COLUMNS = ("customer_id", "timestamp", "amount")
EVENT_COLUMNS = ("customer_id", "timestamp", "type", "value")
NPS_GROUPS = ("promoter", "passive", "detractor")
PERIOD_COLUMNS = (
    "customers_start",
    "new_customers",
    "lost_customers",
    "customers_end",
    "retention_rate",
    "churn_rate",
    "active_customers",
    "orders",
    "revenue",
    "purchase_frequency",
    "average_order_value",
    "repeat_purchase_rate",
)
_FREQS = {"M": "M", "Q": "Q", "Y": "Y", "A": "Y"}
_SCORE_MAX = 10
_PROMOTER_MIN = 9
_PASSIVE_MIN = 7


def period_kpis(
    transactions: pd.DataFrame,
    *,
    freq: str = "M",
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
    churn_after_days: int = 90,
) -> pd.DataFrame:
    """Customer base flow and order KPIs for each full period between ``start`` and ``end``.

    Only full periods are reported: the first starts at or after ``start`` (default: the start
    of the period of the first transaction, since nothing precedes it) and the last ends by
    ``end`` (exclusive; default: the day after the last transaction), so a period cut by ``end``
    (or by an explicit ``start``) is dropped. ``start`` only chooses the periods shown: the
    customer base is built from all the history before ``end``.

    Columns:

    - ``customers_start`` (S), ``new_customers`` (N), ``lost_customers`` and ``customers_end``
      (E = S + N - lost). Lost customers are those whose last purchase falls in the period (see
      the module docstring); this includes customers acquired in the same period, so that
      ``customers_end`` equals the next period's ``customers_start``.
    - ``retention_rate`` = (E - N) / S and ``churn_rate`` = lost / S; they add up to 1.
    - ``active_customers`` (customers with a purchase in the period), ``orders`` (purchases),
      ``revenue`` (sum of purchase amounts; refunds are not subtracted).
    - ``purchase_frequency`` = orders / active customers, ``average_order_value`` = revenue /
      orders, and ``repeat_purchase_rate`` = share of the period's active customers with more
      than one purchase *in that period*.

    Rates are NaN when their denominator is 0. Losses are not all known yet in periods that end
    less than ``churn_after_days`` before ``end``, so their churn is understated.

    Args:
        transactions: ``customer_id``, ``timestamp`` (naive datetime64), ``amount``.
        freq: ``"M"``, ``"Q"`` or ``"Y"`` (``"A"`` is an alias of ``"Y"``).
        start: Earliest time the reported periods may cover (inclusive).
        end: End of the data (exclusive).
        churn_after_days: Days without a purchase after which a customer counts as lost.

    Returns:
        One row per period, indexed by ``pd.Period`` (index name ``period``).

    Raises:
        DataError: on missing columns, no purchase before ``end``, or no full period.
        ConfigError: on a bad ``freq``, ``start``, ``end`` or ``churn_after_days``.
    """
    where = "period_kpis"
    period_freq = _check_freq(freq, where)
    _check_churn_after_days(churn_after_days, where)
    tx = _check_transactions(transactions, where)
    end_ts = _data_end(tx, end, where)
    start_ts = (
        pd.Period(tx["timestamp"].min(), period_freq).start_time
        if start is None
        else _as_timestamp(start, f"{where}: start")
    )
    if start_ts >= end_ts:
        raise ConfigError(f"{where}: expected start before end {end_ts}; got start {start_ts}")
    purchases = _purchases(tx, end_ts, where)
    periods = _full_periods(start_ts, end_ts, period_freq)
    if periods.empty:
        raise DataError(
            f"{where}: expected at least one full period {freq!r} between {start_ts} and "
            f"{end_ts} (end exclusive); got none"
        )
    base = _base_counts(
        _spans(purchases), periods, freq=period_freq, end=end_ts, churn_after_days=churn_after_days
    )
    activity = _activity(purchases, period_freq).reindex(periods, fill_value=0)
    table = pd.DataFrame(index=periods)
    table.index.name = "period"
    for column in ("customers_start", "new_customers", "lost_customers", "customers_end"):
        table[column] = base[column]
    start_base = _nonzero(table["customers_start"])
    table["retention_rate"] = (table["customers_end"] - table["new_customers"]) / start_base
    table["churn_rate"] = table["lost_customers"] / start_base
    table["active_customers"] = activity["active_customers"]
    table["orders"] = activity["orders"]
    table["revenue"] = activity["revenue"].astype(float)
    active = _nonzero(activity["active_customers"])
    table["purchase_frequency"] = activity["orders"] / active
    table["average_order_value"] = activity["revenue"] / _nonzero(activity["orders"])
    table["repeat_purchase_rate"] = activity["repeat_customers"] / active
    log.info(
        "%s: %d full %s periods from %s to %s, churn after %d days",
        where,
        len(periods),
        period_freq,
        periods[0],
        periods[-1],
        churn_after_days,
    )
    return table


def summary_kpis(
    transactions: pd.DataFrame,
    *,
    end: str | pd.Timestamp | None = None,
    churn_after_days: int = 90,
) -> dict[str, float]:
    """KPIs to date (all purchases before ``end``).

    Keys:

    - ``customers``: customers with at least one purchase.
    - ``repeat_purchase_rate``: share of those customers with two or more purchases to date.
    - ``purchase_frequency``: purchases per customer; ``average_order_value``: revenue per
      purchase.
    - ``average_lifespan_days``: mean days from first to last purchase over the customers lost
      by ``end`` (one-off buyers count with 0 days); NaN when nobody is lost yet.
    - ``expected_lifespan_months``: 1 / mean monthly churn rate (``period_kpis`` with
      ``freq="M"``), over the full months whose losses are all known, i.e. months that end at
      least ``churn_after_days`` before ``end`` (later months would understate churn); NaN when
      there is no such month with customers at its start, or the mean churn rate is 0.

    Args:
        transactions: ``customer_id``, ``timestamp`` (naive datetime64), ``amount``.
        end: End of the data (exclusive; default: the day after the last transaction).
        churn_after_days: Days without a purchase after which a customer counts as lost.

    Raises:
        DataError: on missing columns or no purchase before ``end``.
        ConfigError: on a bad ``end`` or ``churn_after_days``.
    """
    where = "summary_kpis"
    _check_churn_after_days(churn_after_days, where)
    tx = _check_transactions(transactions, where)
    end_ts = _data_end(tx, end, where)
    purchases = _purchases(tx, end_ts, where)
    spans = _spans(purchases)
    customers = len(spans)
    orders = len(purchases)
    lost = spans[_is_lost(spans, end_ts, churn_after_days)]
    lifespans = (lost["last"] - lost["first"]).dt.total_seconds() / 86_400.0
    return {
        "customers": float(customers),
        "repeat_purchase_rate": float((spans["orders"] > 1).sum()) / customers,
        "purchase_frequency": orders / customers,
        "average_order_value": float(purchases["amount"].sum()) / orders,
        "average_lifespan_days": float(lifespans.mean()) if len(lifespans) else math.nan,
        "expected_lifespan_months": _expected_lifespan_months(spans, end_ts, churn_after_days),
    }


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


def cohort_retention(
    transactions: pd.DataFrame,
    *,
    freq: str = "M",
    max_age: int | None = None,
    end: str | pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Share of each acquisition cohort active (with a purchase) in each period since.

    Rows are the cohorts (period of each customer's first purchase, index name ``cohort``).
    The first column, ``customers``, is the cohort size (``retention_curve`` weighs by it); the
    other columns are the ages ``0, 1, 2, ...`` in periods since acquisition, holding the share of
    the cohort with a purchase in that period. Age 0 is 1.0 by definition. Cells whose period is
    not fully observed (it ends after ``end``) are NaN, and a cohort whose own period is cut by
    ``end`` is left out (it is still gaining customers).

    Args:
        transactions: ``customer_id``, ``timestamp`` (naive datetime64), ``amount``.
        freq: ``"M"``, ``"Q"`` or ``"Y"`` (``"A"`` is an alias of ``"Y"``).
        max_age: Last age column (default: the oldest observed age).
        end: End of the data (exclusive; default: the day after the last transaction).

    Raises:
        DataError: on missing columns, no purchase before ``end``, or no full period.
        ConfigError: on a bad ``freq``, ``max_age`` or ``end``.
    """
    where = "cohort_retention"
    period_freq = _check_freq(freq, where)
    if max_age is not None and (
        isinstance(max_age, bool) or not isinstance(max_age, int) or max_age < 0
    ):
        raise ConfigError(
            f"{where}: max_age: expected a whole number >= 0 or None; got {max_age!r}"
        )
    tx = _check_transactions(transactions, where)
    end_ts = _data_end(tx, end, where)
    purchases = _purchases(tx, end_ts, where)
    last_period = pd.Period(end_ts, period_freq) - 1
    last_full = last_period.ordinal
    cohort = _ordinal(_spans(purchases)["first"].dt.to_period(period_freq))
    cohort = cohort[cohort <= last_full]
    if cohort.empty:
        raise DataError(
            f"{where}: expected a full period {freq!r} before end {end_ts}; got a cohort only in "
            "the period cut by end"
        )
    rows = pd.DataFrame(
        {
            "customer_id": purchases["customer_id"].to_numpy(),
            "period": _ordinal(purchases["timestamp"].dt.to_period(period_freq)).to_numpy(),
        }
    ).drop_duplicates()
    rows["cohort"] = rows["customer_id"].map(cohort)
    rows = rows[rows["cohort"].notna() & (rows["period"] <= last_full)]
    rows["age"] = rows["period"] - rows["cohort"].astype(int)
    sizes = cohort.value_counts().sort_index()
    oldest = last_full - int(sizes.index.min()) if max_age is None else max_age
    ages = list(range(oldest + 1))
    active = (
        rows.groupby(["cohort", "age"])
        .size()
        .unstack("age", fill_value=0)
        .reindex(index=sizes.index, columns=ages, fill_value=0)
    )
    shares = active.div(sizes, axis=0).astype(float)
    observed = np.add.outer(sizes.index.to_numpy(), np.array(ages)) <= last_full
    shares = shares.where(observed)
    shares.index = pd.PeriodIndex([last_period - (last_full - int(o)) for o in sizes.index])
    shares.index.name = "cohort"
    shares.columns.name = "age"
    shares.insert(0, "customers", sizes.to_numpy())
    return shares


def retention_curve(cohorts: pd.DataFrame) -> pd.Series:
    """Mean retention at each age over cohorts, weighted by cohort size, ignoring NaN cells.

    Args:
        cohorts: A table from :func:`cohort_retention` (a ``customers`` column and age columns).

    Returns:
        Series ``retention`` indexed by age (index name ``age``); NaN at an age no cohort has
        reached.

    Raises:
        ValueError: when the ``customers`` column is missing.
    """
    if "customers" not in cohorts.columns:
        raise ValueError(
            "retention_curve: expected a cohort_retention table with a 'customers' column; got "
            f"columns {list(cohorts.columns)}"
        )
    sizes = cohorts["customers"].astype(float)
    shares = cohorts.drop(columns="customers").astype(float)
    weight = shares.notna().astype(float).mul(sizes, axis=0).sum()
    curve = shares.mul(sizes, axis=0).sum() / weight.where(weight > 0)
    curve.index.name = "age"
    return curve.rename("retention")


def _check_freq(freq: str, where: str) -> str:
    if freq not in _FREQS:
        raise ConfigError(f"{where}: freq: expected one of {sorted(_FREQS)}; got {freq!r}")
    return _FREQS[freq]


def _check_churn_after_days(days: int, where: str) -> None:
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise ConfigError(f"{where}: churn_after_days: expected a whole number >= 1; got {days!r}")


def _check_frame(
    frame: pd.DataFrame, columns: tuple[str, ...], name: str, where: str
) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{where}: {name}: expected a pandas DataFrame; got {type(frame).__name__}")
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise DataError(
            f"{where}: {name}: missing columns {missing}; expected {list(columns)}, got "
            f"{list(frame.columns)}"
        )
    if frame.empty:
        return frame
    timestamp = frame["timestamp"]
    if not pd.api.types.is_datetime64_dtype(timestamp) or isinstance(
        timestamp.dtype, pd.DatetimeTZDtype
    ):
        raise DataError(
            f"{where}: {name}.timestamp: expected naive datetime64 (UTC); got {timestamp.dtype}"
        )
    for column in ("customer_id", "timestamp"):
        nulls = int(frame[column].isna().sum())
        if nulls:
            raise DataError(f"{where}: {name}.{column}: expected no nulls; got {nulls}")
    return frame


def _check_transactions(transactions: pd.DataFrame, where: str) -> pd.DataFrame:
    tx = _check_frame(transactions, TRANSACTION_COLUMNS, "transactions", where)
    if tx.empty:
        raise DataError(
            f"{where}: transactions: expected at least one purchase (amount > 0); got no rows"
        )
    amount = tx["amount"]
    if not pd.api.types.is_numeric_dtype(amount) or pd.api.types.is_bool_dtype(amount):
        raise DataError(f"{where}: transactions.amount: expected numbers; got {amount.dtype}")
    bad = int((~np.isfinite(amount.to_numpy(dtype=float, na_value=np.nan))).sum())
    if bad:
        raise DataError(f"{where}: transactions.amount: expected finite numbers; got {bad} not")
    return tx


def _check_events(events: pd.DataFrame, where: str) -> pd.DataFrame:
    return _check_frame(events, EVENT_COLUMNS, "events", where)


def _check_scores(scores: npt.ArrayLike, where: str) -> npt.NDArray[np.float64]:
    try:
        values = np.asarray(scores, dtype=float).ravel()
    except (TypeError, ValueError) as err:
        raise ValueError(f"{where}: expected NPS answers as numbers 0-10; got {scores!r}") from err
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(values) | (values < 0) | (values > _SCORE_MAX) | (values % 1 != 0)
    if bad.any():
        raise ValueError(
            f"{where}: expected NPS answers as whole numbers 0-10; got {int(bad.sum())} others, "
            f"e.g. {values[bad][:5].tolist()}"
        )
    return values


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


def _as_timestamp(value: str | pd.Timestamp, where: str) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{where}: expected a date or datetime; got {value!r}") from err
    if pd.isna(stamp) or stamp.tzinfo is not None:
        raise ConfigError(f"{where}: expected a naive (UTC) date or datetime; got {value!r}")
    return stamp


def _data_end(tx: pd.DataFrame, end: str | pd.Timestamp | None, where: str) -> pd.Timestamp:
    """``end`` if given, else the day after the last transaction."""
    if end is not None:
        return _as_timestamp(end, f"{where}: end")
    last: pd.Timestamp = tx["timestamp"].max()
    return last.normalize() + pd.Timedelta(days=1)


def _purchases(tx: pd.DataFrame, end: pd.Timestamp, where: str) -> pd.DataFrame:
    purchases = tx.loc[(tx["amount"] > 0) & (tx["timestamp"] < end), list(TRANSACTION_COLUMNS)]
    if purchases.empty:
        raise DataError(
            f"{where}: transactions: expected at least one purchase (amount > 0) before {end}; "
            "got none"
        )
    return purchases


def _spans(purchases: pd.DataFrame) -> pd.DataFrame:
    """First and last purchase and number of purchases, per customer."""
    return purchases.groupby("customer_id").agg(
        first=("timestamp", "min"), last=("timestamp", "max"), orders=("timestamp", "size")
    )


def _is_lost(spans: pd.DataFrame, end: pd.Timestamp, churn_after_days: int) -> pd.Series:
    return (end - spans["last"]) >= pd.Timedelta(days=churn_after_days)


def _full_periods(start: pd.Timestamp, end: pd.Timestamp, freq: str) -> pd.PeriodIndex:
    first = pd.Period(start, freq)
    if first.start_time < start:
        first += 1
    last = pd.Period(end, freq) - 1
    if first > last:
        return pd.PeriodIndex([], freq=freq)
    return pd.period_range(first, last, freq=freq)


def _base_counts(
    spans: pd.DataFrame,
    periods: pd.PeriodIndex,
    *,
    freq: str,
    end: pd.Timestamp,
    churn_after_days: int,
) -> pd.DataFrame:
    """S, N, lost and E for each period of ``periods`` (consecutive)."""
    acquired = spans["first"].dt.to_period(freq)
    lost = spans.loc[_is_lost(spans, end, churn_after_days), "last"].dt.to_period(freq)
    timeline = pd.period_range(min(acquired.min(), periods[0]), periods[-1], freq=freq)
    new = acquired.value_counts().reindex(timeline, fill_value=0)
    gone = lost.value_counts().reindex(timeline, fill_value=0)
    start = (new - gone).cumsum().shift(1, fill_value=0)
    counts = pd.DataFrame(
        {
            "customers_start": start,
            "new_customers": new,
            "lost_customers": gone,
            "customers_end": start + new - gone,
        }
    )
    return counts.reindex(periods)


def _activity(purchases: pd.DataFrame, freq: str) -> pd.DataFrame:
    """Active customers, orders, revenue and repeat customers per period with purchases."""
    rows = purchases.assign(period=purchases["timestamp"].dt.to_period(freq))
    per_customer = rows.groupby(["period", "customer_id"])["amount"].agg(["size", "sum"])
    return pd.DataFrame(
        {
            "active_customers": per_customer["size"].groupby(level="period").size(),
            "orders": per_customer["size"].groupby(level="period").sum(),
            "revenue": per_customer["sum"].groupby(level="period").sum(),
            "repeat_customers": (per_customer["size"] > 1).groupby(level="period").sum(),
        }
    )


def _expected_lifespan_months(
    spans: pd.DataFrame, end: pd.Timestamp, churn_after_days: int
) -> float:
    """1 / mean monthly churn rate over the months whose losses are all known by ``end``."""
    last = pd.Period(end - pd.Timedelta(days=churn_after_days), "M") - 1
    first = spans["first"].min().to_period("M")
    if last < first:
        return math.nan
    months = pd.period_range(first, last, freq="M")
    base = _base_counts(spans, months, freq="M", end=end, churn_after_days=churn_after_days)
    with_base = base[base["customers_start"] > 0]
    if with_base.empty:
        return math.nan
    churn = float((with_base["lost_customers"] / with_base["customers_start"]).mean())
    return 1.0 / churn if churn > 0 else math.nan


def _ordinal(periods: pd.Series) -> pd.Series:
    """Period ordinals (consecutive periods differ by 1), same index."""
    return pd.Series(pd.PeriodIndex(periods).asi8, index=periods.index)


def _nonzero(values: pd.Series) -> pd.Series:
    """Denominator with 0 replaced by NaN, so rates over nothing are NaN without warnings."""
    return values.where(values != 0).astype(float)

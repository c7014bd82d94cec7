"""Re-simulate customers' paths from a date on, after an offer moved their fade start.

The same processes as the generator (:mod:`~churn.synthetic.simulate`): Poisson (or Erlang)
purchases at the customer's rate times the seasonality and the fade, Gamma baskets that shrink
over the fade, refunds, and tickets, complaints and NPS answers. The simulator's latent category
and channel preferences are not in the ground truth, so each new purchase takes the category and
channel of a random earlier purchase of the same customer. Complaints after the effect's start
no longer trigger leaving: the fade start already follows the customer's leaving clock.

Each customer draws from its own generator, so a customer's new path does not depend on who
else an export contacted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from churn.synthetic.simulate import _every_kth, _poisson_points, _shock_rate
from churn.synthetic.tables import _Stream, _time_of_day
from churn.synthetic.world import _FADE_SPEED, WorldConfig

log = logging.getLogger(__name__)

TX_COLUMNS = ("customer", "t", "amount", "quantity", "category", "channel")
EVENT_COLUMNS = ("customer", "t", "type", "value")


@dataclass(frozen=True)
class Path:
    """The new rows of one customer from the effect's start on (times in days since start)."""

    transactions: pd.DataFrame
    events: pd.DataFrame


def resimulate(
    params: WorldConfig,
    traits: Mapping[str, np.ndarray],
    *,
    start: np.ndarray,
    history: Mapping[int, np.ndarray],
    rngs: list[np.random.Generator],
) -> Path:
    """New rows in ``[start, total_days)`` for every customer ``i`` of ``traits``.

    Args:
        params: the world.
        traits: per customer ``acquired, rate, spend, hazard, complaint_prob, refund_prob,
            fade_days, fade_start, dropout, first_complaint`` (and ``shocked`` in worlds with a
            shock); times in days since ``start_date``.
        start: per customer, the effect's start: rows before it are kept as they are.
        history: per customer index, ``(m, 2)`` category and channel codes of earlier purchases.
        rngs: one generator per customer.

    Returns:
        Transactions (``customer`` is the index into ``traits``) and events, unordered.
    """
    season = params.seasonality()
    days = pd.date_range(params.start_date, periods=season.size, freq="D")
    day_of_year = days.day_of_year.to_numpy()
    tx_parts: list[dict[str, np.ndarray]] = []
    event_parts: list[dict[str, np.ndarray]] = []
    for i, rng in enumerate(rngs):
        one = {name: values[i : i + 1] for name, values in traits.items()}
        tx, events = _one_path(
            params, one, float(start[i]), history.get(i), (season, day_of_year), rng
        )
        tx_parts.append({**tx, "customer": np.full(tx["t"].size, i, dtype=np.int64)})
        event_parts.append({**events, "customer": np.full(events["t"].size, i, dtype=np.int64)})
    return Path(_frame(tx_parts, TX_COLUMNS), _frame(event_parts, EVENT_COLUMNS))


def _frame(parts: list[dict[str, np.ndarray]], columns: tuple[str, ...]) -> pd.DataFrame:
    """One table of the customers' rows, with the generator's column types."""
    kinds = {"customer": np.int64, "quantity": np.int64, "category": np.int8, "channel": np.int8}
    kinds["type"] = np.int8
    data = {
        c: np.concatenate([np.zeros(0), *(p[c] for p in parts)]).astype(kinds.get(c, float))
        for c in columns
    }
    return pd.DataFrame(data)


def _one_path(
    params: WorldConfig,
    cust: dict[str, np.ndarray],
    a: float,
    history: np.ndarray | None,
    calendar: tuple[np.ndarray, np.ndarray],
    rng: np.random.Generator,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """One customer's purchases, refunds and events from ``a`` to the dropout.

    ``calendar``: the seasonality and the day of the year of every simulated day.
    """
    season, day_of_year = calendar
    fade_start, fade_days, dropout = cust["fade_start"], cust["fade_days"], cust["dropout"]
    begin = np.array([a])
    end = np.minimum(np.maximum(dropout, begin), params.total_days)
    shock = _shock_rate(params, cust)

    def activity(stream: _Stream) -> np.ndarray:
        since = stream.t - fade_start[0]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            faded = np.exp(-_FADE_SPEED * since / fade_days[0])
        share = np.where(since < 0, 1.0, np.where(stream.t < dropout[0], faded, 0.0))
        return share if shock is None else share * shock(stream)

    if params.purchase_process == "erlang":
        k = params.erlang_shape
        sub = _poisson_points(k * cust["rate"], begin, end, season, rng, activity)
        phase = int(rng.integers(0, k))  # the phase at ``a`` is not in the ground truth
        sub = _Stream(
            np.concatenate([np.zeros(phase, np.int64), sub.customer]),
            np.concatenate([np.full(phase, a), sub.t]),
        )
        purchases = _every_kth(sub, k)
        purchases = purchases.take(purchases.t > a) if phase else purchases
    else:
        purchases = _poisson_points(cust["rate"], begin, end, season, rng, activity)
    purchases = _time_of_day(purchases, begin, end, rng)
    tx = _purchases(params, cust, purchases.t, history, day_of_year, rng)
    refunds = _refunds(params, cust, tx, rng)
    events = _events(params, cust, begin, end, season, rng, activity)
    inside = np.concatenate([tx["t"], refunds["t"]]) < params.total_days
    transactions = {c: np.concatenate([tx[c], refunds[c]])[inside] for c in tx}
    return transactions, events


def _purchases(
    params: WorldConfig,
    cust: dict[str, np.ndarray],
    t: np.ndarray,
    history: np.ndarray | None,
    day_of_year: np.ndarray,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Baskets as the generator draws them; category and channel from the customer's history."""
    m = t.size
    with np.errstate(divide="ignore", invalid="ignore"):
        progress = np.clip((t - cust["fade_start"][0]) / cust["fade_days"][0], 0.0, 1.0)
    progress = np.nan_to_num(progress, nan=0.0)
    high = 1 + params.basket_yearly_amplitude * np.cos(
        2 * np.pi * (day_of_year[t.astype(np.int64)] - params.yearly_peak_day) / 365.25
    )
    basket = rng.gamma(params.basket_shape, 1 / params.basket_shape, m)
    amount = cust["spend"][0] * basket * high * (1 - params.fade_basket_shrink * progress)
    amount = np.maximum(np.round(amount, 2), 0.5)
    if history is None or len(history) == 0:
        popularity = np.asarray(params.category_popularity) / sum(params.category_popularity)
        picked = np.column_stack(
            [rng.choice(len(params.categories), m, p=popularity), np.zeros(m, np.int64)]
        )
    else:
        picked = history[rng.integers(0, len(history), m)]
    return {
        "t": t,
        "amount": amount,
        "quantity": 1 + rng.poisson(amount / 35.0),
        "category": picked[:, 0],
        "channel": picked[:, 1],
    }


def _refunds(
    params: WorldConfig,
    cust: dict[str, np.ndarray],
    tx: dict[str, np.ndarray],
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Some of the new purchases come back days later, fully or in part (as the generator)."""
    returned = rng.random(tx["t"].size) < cust["refund_prob"][0]
    refunds = {c: values[returned] for c, values in tx.items()}
    k = int(returned.sum())
    refunds["t"] = refunds["t"] + 1 + rng.exponential(params.refund_delay_days_mean, k)
    share = np.where(rng.random(k) < 0.7, 1.0, rng.uniform(0.2, 0.9, k))
    refunds["amount"] = -np.round(refunds["amount"] * share, 2)
    refunds["quantity"] = np.maximum(np.round(refunds["quantity"] * share), 1)
    return refunds


def _events(
    params: WorldConfig,
    cust: dict[str, np.ndarray],
    begin: np.ndarray,
    end: np.ndarray,
    season: np.ndarray,
    rng: np.random.Generator,
    activity: Callable[[_Stream], np.ndarray],
) -> dict[str, np.ndarray]:
    """Tickets, complaints and NPS answers in ``[begin, end)``, at the generator's rates."""
    rate, fading_mult = cust["rate"], float(params.fading_ticket_multiplier)
    fade_start = cust["fade_start"][0]
    weight = params.ticket_complaint_weight
    ticket_rate = (
        params.ticket_rate
        * (1 + weight * cust["complaint_prob"] / params.complaint_rate_mean)
        / (1 + weight)
        * rate
    )

    def ticket_activity(stream: _Stream) -> np.ndarray:
        fading = np.where(stream.t >= fade_start, 1.0, 1.0 / fading_mult)
        return activity(stream) * fading

    tickets = _poisson_points(ticket_rate * fading_mult, begin, end, season, rng, ticket_activity)
    complaints = _poisson_points(cust["complaint_prob"] * rate, begin, end, season, rng, activity)
    surveys = _poisson_points(params.survey_rate * rate, begin, end, season, rng, activity)
    first_complaint = min(
        float(cust["first_complaint"][0]), float(complaints.t.min(initial=np.inf))
    )
    t = surveys.t
    q_rel = cust["complaint_prob"][0] / params.complaint_rate_mean - 1
    h_rel = np.log(cust["hazard"][0] / params.hazard_mean)
    mean = (
        params.nps_mean
        - params.nps_complaint_effect * q_rel
        - params.nps_hazard_effect * h_rel
        + params.nps_after_complaint * (t > first_complaint)
        + params.nps_fading_shift * (t >= fade_start)
    )
    answer = np.clip(np.round(mean + params.nps_sd * rng.standard_normal(t.size)), 0, 10)
    streams = ((0, tickets.t, np.full(tickets.t.size, np.nan)), (1, complaints.t, None))
    parts = [*streams, (2, t, answer)]
    times = np.concatenate([p[1] for p in parts])
    events = {
        "t": times,
        "type": np.concatenate([np.full(p[1].size, p[0]) for p in parts]),
        "value": np.concatenate(
            [np.full(p[1].size, np.nan) if p[2] is None else p[2] for p in parts]
        ),
    }
    inside = times < params.total_days
    return {c: values[inside] for c, values in events.items()}


def kept_refunds(table: pa.Table, replaced: pa.ChunkedArray, a: pa.Scalar) -> pa.Table:
    """The refunds among the ``replaced`` rows that return a purchase made before ``a``.

    A refund is kept when the same customer bought in the same category and channel, for at
    least the refunded amount, more than a day before it: its purchase is still in the history.
    """
    rows = table.filter(replaced)
    refunds = rows.filter(pc.less(rows["amount"], 0)).to_pandas()
    if refunds.empty:
        return rows.slice(0, 0)
    customers = pa.array(refunds["customer_id"].unique())
    mine = table.filter(pc.is_in(table["customer_id"], customers))
    bought = mine.filter(pc.and_(pc.less(mine["timestamp"], a), pc.greater(mine["amount"], 0)))
    keys = ["customer_id", "category", "channel"]
    pairs = refunds.reset_index().merge(
        bought.select([*keys, "timestamp", "amount"]).to_pandas(), on=keys, suffixes=("", "_p")
    )
    fits = (pairs["amount_p"] >= -pairs["amount"]) & (
        pairs["timestamp"] - pairs["timestamp_p"] > pd.Timedelta(days=1)
    )
    keep = np.zeros(len(refunds), dtype=bool)
    keep[pairs.loc[fits, "index"].unique()] = True
    return pa.Table.from_pandas(refunds[keep], schema=table.schema, preserve_index=False)

"""The simulated draws as the data contract's tables (transactions, customers, events) and truth."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from churn.synthetic.world import _TIME_OF_DAY, EVENT_TYPES, WorldConfig

log = logging.getLogger(__name__)


@dataclass
class _Stream:
    """Points of a per-customer point process: customer index and time (days since start)."""

    customer: np.ndarray
    t: np.ndarray

    def take(self, mask: np.ndarray) -> _Stream:
        return _Stream(self.customer[mask], self.t[mask])


def _concat(a: _Stream, b: _Stream) -> _Stream:
    return _Stream(np.concatenate([a.customer, b.customer]), np.concatenate([a.t, b.t]))


def _time_of_day(
    stream: _Stream, start: np.ndarray, end: np.ndarray, rng: np.random.Generator
) -> _Stream:
    """Move each point to an afternoon-peaked time of its day, unless that leaves [start, end)."""
    moved = np.floor(stream.t) + rng.beta(*_TIME_OF_DAY, size=stream.t.size)
    c = stream.customer
    inside = (moved >= start[c]) & (moved < end[c])
    return _Stream(c, np.where(inside, moved, stream.t))


def _purchase_table(
    params: WorldConfig,
    cust: dict[str, np.ndarray],
    purchases: _Stream,
    fade_start: np.ndarray,
    fade_days: np.ndarray,
    season: np.ndarray,
    rng: np.random.Generator,
) -> pd.DataFrame:
    c, t = purchases.customer, purchases.t
    m = t.size
    with np.errstate(divide="ignore", invalid="ignore"):
        progress = np.clip((t - fade_start[c]) / fade_days[c], 0.0, 1.0)
    progress = np.nan_to_num(progress, nan=0.0)
    days = pd.date_range(params.start_date, periods=season.size, freq="D").day_of_year.to_numpy()
    holiday = 1 + params.basket_yearly_amplitude * np.cos(
        2 * np.pi * (days[t.astype(np.int64)] - params.yearly_peak_day) / 365.25
    )
    basket = rng.gamma(params.basket_shape, 1 / params.basket_shape, m)
    amount = cust["spend"][c] * basket * holiday * (1 - params.fade_basket_shrink * progress)
    amount = np.maximum(np.round(amount, 2), 0.5)
    explore = rng.random(m) < cust["explore"][c] * (1 - progress)
    fav_pick = (
        rng.random(m)[:, None] > np.cumsum(cust["favourite_weights"][c], axis=1)[:, :2]
    ).sum(axis=1)
    favourite = cust["favourites"][c, fav_pick]
    random_category = rng.choice(
        len(params.categories), m, p=_normalised(params.category_popularity)
    ).astype(np.int8)
    category = np.where(explore, random_category, favourite)
    loyal = rng.random(m) < params.channel_loyalty
    random_channel = rng.choice(len(params.channels), m, p=_normalised(params.channel_popularity))
    channel = np.where(loyal, cust["channel"][c], random_channel).astype(np.int8)
    quantity = 1 + rng.poisson(amount / 35.0)
    return pd.DataFrame(
        {
            "customer": c,
            "t": t,
            "amount": amount,
            "quantity": quantity.astype(np.int64),
            "category": category,
            "channel": channel,
        }
    )


def _refund_table(
    params: WorldConfig, cust: dict[str, np.ndarray], tx: pd.DataFrame, rng: np.random.Generator
) -> pd.DataFrame:
    """Some purchases come back some days later, fully or in part, as negative amounts."""
    c = tx["customer"].to_numpy()
    returned = rng.random(c.size) < cust["refund_prob"][c]
    refunds = tx.loc[returned].copy()
    k = len(refunds)
    refunds["t"] = refunds["t"].to_numpy() + 1 + rng.exponential(params.refund_delay_days_mean, k)
    share = np.where(rng.random(k) < 0.7, 1.0, rng.uniform(0.2, 0.9, k))
    refunds["amount"] = -np.round(refunds["amount"].to_numpy() * share, 2)
    refunds["quantity"] = np.maximum(np.round(refunds["quantity"].to_numpy() * share), 1).astype(
        np.int64
    )
    return refunds


def _event_table(
    params: WorldConfig,
    cust: dict[str, np.ndarray],
    complaints: _Stream,
    tickets: _Stream,
    surveys: _Stream,
    fade_start: np.ndarray,
    rng: np.random.Generator,
) -> pd.DataFrame:
    first_complaint = np.full(cust["acquired"].size, np.inf)
    np.minimum.at(first_complaint, complaints.customer, complaints.t)
    c, t = surveys.customer, surveys.t
    q_rel = cust["complaint_prob"][c] / params.complaint_rate_mean - 1
    h_rel = np.log(cust["hazard"][c] / params.hazard_mean)
    mean = (
        params.nps_mean
        - params.nps_complaint_effect * q_rel
        - params.nps_hazard_effect * h_rel
        + params.nps_after_complaint * (t > first_complaint[c])
        + params.nps_fading_shift * (t >= fade_start[c])
    )
    answer = np.clip(np.round(mean + params.nps_sd * rng.standard_normal(t.size)), 0, 10)
    frames = []
    for code, stream, value in (
        (0, tickets, np.full(tickets.t.size, np.nan)),
        (1, complaints, np.full(complaints.t.size, np.nan)),
        (2, surveys, answer),
    ):
        frames.append(
            pd.DataFrame(
                {
                    "customer": stream.customer,
                    "t": stream.t,
                    "type": np.full(stream.t.size, code, dtype=np.int8),
                    "value": value,
                }
            )
        )
    events = pd.concat(frames, ignore_index=True)
    return events[events["t"] < params.total_days]


def _customer_ids(n: int) -> pa.Array:
    width = max(6, len(str(n)))
    numbers = pc.cast(pa.array(np.arange(1, n + 1)), pa.string())
    padded = pc.utf8_lpad(numbers, width=width, padding="0")
    return pc.binary_join_element_wise("C", padded, "")


def _timestamps(params: WorldConfig, t: np.ndarray) -> pa.Array:
    start = pd.Timestamp(params.start_date).to_datetime64().astype("datetime64[us]")
    micros = (np.floor(t * 86_400) * 1e6).astype("timedelta64[us]")  # whole seconds
    return pa.array(start + micros, type=pa.timestamp("us"))


def _to_arrow(frame: pd.DataFrame, ids: pa.Array, params: WorldConfig) -> pa.Table:
    """Observed rows in contract form, ordered by time, with string ids."""
    frame = frame.sort_values("t", kind="stable")
    customer = pc.take(ids, pa.array(frame["customer"].to_numpy()))
    columns: dict[str, Any] = {
        "customer_id": customer,
        "timestamp": _timestamps(params, frame["t"].to_numpy()),
    }
    if "amount" in frame:
        columns["amount"] = pa.array(frame["amount"].to_numpy(), pa.float64())
        columns["quantity"] = pa.array(frame["quantity"].to_numpy(), pa.int64())
        columns["category"] = pc.take(
            pa.array(params.categories), pa.array(frame["category"].to_numpy())
        )
        columns["channel"] = pc.take(
            pa.array(params.channels), pa.array(frame["channel"].to_numpy())
        )
    else:
        columns["type"] = pc.take(pa.array(EVENT_TYPES), pa.array(frame["type"].to_numpy()))
        columns["value"] = pa.array(frame["value"].to_numpy(), pa.float64(), from_pandas=True)
    return pa.table(columns)


def _with_transaction_ids(table: pa.Table, first: int) -> pa.Table:
    """Number the rows T0000000001, T0000000002, ... from ``first + 1``.

    Built chunk by chunk so that no single string array outgrows Arrow's 2 GiB offsets.
    """
    chunks = []
    offset = first
    for batch in table.to_batches():
        numbers = pa.array(np.arange(offset + 1, offset + 1 + batch.num_rows))
        padded = pc.utf8_lpad(pc.cast(numbers, pa.string()), width=10, padding="0")
        chunks.append(pc.binary_join_element_wise("T", padded, ""))
        offset += batch.num_rows
    return table.add_column(0, "transaction_id", pa.chunked_array(chunks, pa.string()))


def _customer_table(
    params: WorldConfig, cust: dict[str, np.ndarray], ids: pa.Array, rng: np.random.Generator
) -> pa.Table:
    """Sign-ups: every simulated customer, buyers and those who never bought."""
    signup_lead = rng.exponential(2.0, cust["acquired"].size)
    signup = np.maximum(cust["acquired"] - signup_lead, 0.0)
    return pa.table(
        {
            "customer_id": ids,
            "signup_date": _timestamps(params, np.floor(signup)),
            "region": pc.take(pa.array(params.regions), pa.array(cust["region"])),
            "preferred_channel": pc.take(pa.array(params.channels), pa.array(cust["channel"])),
        }
    )


def _ground_truth(
    params: WorldConfig,
    cust: dict[str, np.ndarray],
    ids: pa.Array,
    fade_start: np.ndarray,
    dropout: np.ndarray,
) -> pd.DataFrame:
    """Per customer: the latent traits and the true fade start and dropout dates."""
    start = pd.Timestamp(params.start_date)

    def dates(t: np.ndarray) -> np.ndarray:
        finite = np.isfinite(t) & (t < params.total_days)
        micros = np.round(np.where(finite, t, 0.0) * 86_400e6).astype("timedelta64[us]")
        out = start.to_datetime64().astype("datetime64[us]") + micros
        out[~finite] = np.datetime64("NaT")
        return out

    truth = pd.DataFrame(
        {
            "customer_id": pd.Series(ids.to_pylist(), dtype="string"),
            "acquired_at": dates(cust["acquired"]),
            "never_purchased": cust["never_purchased"],
            "purchase_rate": cust["rate"],
            "spend_median": cust["spend"],
            "base_hazard": cust["hazard"],
            "complaint_prob": cust["complaint_prob"],
            "refund_prob": cust["refund_prob"],
            "fade_days": cust["fade_days"],
            "fade_start": dates(fade_start),
            "dropout_date": dates(dropout),
        }
    )
    if "shocked" in cust:  # only in worlds with a shock: the demo world's table is unchanged
        truth["shocked"] = cust["shocked"]
    return truth


def _normalised(values: tuple[float, ...]) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    return arr / arr.sum()

"""A seeded, vectorised simulation of a retail business, with its ground truth.

The demo world (parameters in ``conf/world/demo.yaml``, documented in the README) is a
continuous-time model of each customer:

* **Acquisition** spread over the observed period, growing over time, with yearly seasonality.
  The first purchase happens at acquisition; a share of sign-ups never buy at all.
* **Purchases** follow a Poisson process with a customer rate ``lambda`` (Gamma distributed
  across customers) times a weekly and yearly seasonality ``s(t)`` with mean 1.
* **Spend** per purchase is Gamma distributed around a customer's own typical basket
  (log-normal across customers), larger in the high season.
* **Dropout** runs in two stages: an engaged customer starts to leave ("fade start" ``U``) at a
  hazard ``h * (1 + new_boost * exp(-age / new_decay))`` (new customers leave more often), plus
  every complaint triggers leaving with a fixed probability (a bad experience raises the risk).
  A share of customers then fades: purchase rate and basket size shrink over ``D`` days
  (rate ``exp(-3 x / D)``), fewer categories are explored, more support tickets are raised, NPS
  answers drop, and at ``U + D`` the customer is gone (the dropout date). The others stop at once.
* **Events**: support tickets, complaints and NPS answers (0-10) arrive in proportion to purchase
  activity; complaint-prone customers raise more tickets, answer NPS lower, and return more.
* **Refunds**: a share of purchases (per-customer propensity) is returned days later as a
  negative amount.

Because the hazard of leaving is a known function of time given the latent state, the true
probability of no purchase in ``[c, c + H)`` given the latent state at ``c`` (the *oracle*) is
computed exactly, up to a quarter-day grid, by :func:`oracle_no_purchase`.

The simulation runs past the data end ``E`` for ``future_days`` days: what happens after ``E``
is the held-back future, written apart so scored lists can be checked against it.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import logging
import math
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from churn.errors import ConfigError, DataError, check_keys
from churn.files import atomic_directory

log = logging.getLogger(__name__)

EVENT_TYPES = ("support_ticket", "complaint", "nps")
_FADE_SPEED = 3.0  # the purchase rate falls to exp(-3), about 5%, at the dropout date
_TIME_OF_DAY = (4.0, 3.0)  # Beta parameters: purchases peak in the afternoon


@dataclass(frozen=True)
class WorldParams:
    """Parameters of the simulated business; rates are per day unless named otherwise."""

    start_date: str = "2023-01-01"
    end_date: str = "2026-01-01"
    future_days: int = 180
    no_purchase_fraction: float = 0.04
    acquisition_growth: float = 1.0
    acquisition_yearly_amplitude: float = 0.25
    acquisition_peak_day: int = 20
    purchase_rate_mean: float = 0.06
    purchase_rate_shape: float = 1.2
    weekly_factors: tuple[float, ...] = (0.9, 0.9, 0.95, 1.0, 1.15, 1.25, 0.85)
    yearly_amplitude: float = 0.2
    yearly_peak_day: int = 345
    spend_median: float = 42.0
    spend_sigma: float = 0.6
    basket_shape: float = 5.0
    basket_yearly_amplitude: float = 0.15
    hazard_mean: float = 0.0012
    hazard_shape: float = 2.0
    new_customer_boost: float = 8.0
    new_customer_decay_days: float = 30.0
    fade_fraction: float = 0.5
    fade_days_mean: float = 75.0
    fade_days_shape: float = 4.0
    fade_basket_shrink: float = 0.5
    complaint_rate_mean: float = 0.03
    complaint_rate_concentration: float = 8.0
    complaint_trigger_probability: float = 0.35
    ticket_rate: float = 0.04
    ticket_complaint_weight: float = 2.0
    fading_ticket_multiplier: float = 2.5
    survey_rate: float = 0.08
    nps_mean: float = 8.2
    nps_sd: float = 1.4
    nps_complaint_effect: float = 1.5
    nps_hazard_effect: float = 1.0
    nps_after_complaint: float = -1.5
    nps_fading_shift: float = -2.5
    refund_rate_mean: float = 0.04
    refund_delay_days_mean: float = 7.0
    categories: tuple[str, ...] = (
        "grocery",
        "household",
        "beauty",
        "fashion",
        "electronics",
        "home",
        "sports",
        "toys",
    )
    category_popularity: tuple[float, ...] = (0.3, 0.18, 0.12, 0.12, 0.08, 0.08, 0.07, 0.05)
    category_explore_mean: float = 0.2
    channels: tuple[str, ...] = ("web", "app", "store")
    channel_popularity: tuple[float, ...] = (0.4, 0.35, 0.25)
    channel_loyalty: float = 0.8
    regions: tuple[str, ...] = ("north", "south", "east", "west")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> WorldParams:
        """Build from a config mapping; unknown keys and impossible values raise ConfigError."""
        known = {f.name for f in dataclasses.fields(cls)}
        check_keys("world parameters", values, known)
        converted: dict[str, Any] = {
            k: tuple(v) if isinstance(v, Sequence) and not isinstance(v, str) else v
            for k, v in values.items()
        }
        params = cls(**converted)
        params.validate()
        return params

    def validate(self) -> None:
        """Raise ConfigError when a parameter cannot describe a world."""
        start, end = pd.Timestamp(self.start_date), pd.Timestamp(self.end_date)
        if end - start < pd.Timedelta(days=365):
            raise ConfigError(
                f"world: end_date must be at least a year after start_date; "
                f"got {self.start_date} .. {self.end_date}"
            )
        checks = {
            "weekly_factors": len(self.weekly_factors) == 7,
            "category_popularity": len(self.category_popularity) == len(self.categories),
            "channel_popularity": len(self.channel_popularity) == len(self.channels),
        }
        for name, ok in checks.items():
            if not ok:
                raise ConfigError(f"world.{name}: wrong length {len(getattr(self, name))}")
        probabilities = (
            "no_purchase_fraction",
            "fade_fraction",
            "complaint_rate_mean",
            "complaint_trigger_probability",
            "refund_rate_mean",
            "category_explore_mean",
            "channel_loyalty",
            "fade_basket_shrink",
        )
        for name in probabilities:
            value = getattr(self, name)
            if not 0 <= value < 1:
                raise ConfigError(f"world.{name}: expected a probability in [0, 1); got {value}")
        positive = (
            "purchase_rate_mean",
            "purchase_rate_shape",
            "spend_median",
            "basket_shape",
            "hazard_mean",
            "hazard_shape",
            "fade_days_mean",
            "fade_days_shape",
            "new_customer_decay_days",
            "complaint_rate_concentration",
            "refund_delay_days_mean",
        )
        for name in positive:
            if getattr(self, name) <= 0:
                raise ConfigError(f"world.{name}: expected > 0; got {getattr(self, name)}")
        if min(self.weekly_factors) <= 0 or not 0 <= self.yearly_amplitude < 1:
            raise ConfigError(
                "world: weekly_factors must be > 0 and yearly_amplitude in [0, 1); got "
                f"{list(self.weekly_factors)}, {self.yearly_amplitude}"
            )

    @property
    def observed_days(self) -> int:
        """Days from start_date to the data end E (exclusive)."""
        return int((pd.Timestamp(self.end_date) - pd.Timestamp(self.start_date)).days)

    @property
    def total_days(self) -> int:
        """Days simulated: the observed period plus the held-back future."""
        return self.observed_days + int(self.future_days)

    def seasonality(self) -> np.ndarray:
        """The purchase seasonality s(d) for every simulated day d (mean 1 over a year)."""
        days = pd.date_range(self.start_date, periods=self.total_days + 1, freq="D")
        weekly = np.asarray(self.weekly_factors, dtype=float)
        weekly = weekly / weekly.mean()
        yearly = 1 + self.yearly_amplitude * np.cos(
            2 * np.pi * (days.day_of_year.to_numpy() - self.yearly_peak_day) / 365.25
        )
        return weekly[days.day_of_week.to_numpy()] * yearly


@dataclass(frozen=True)
class DemoData:
    """Everything the simulation writes: observed tables, the held-back future, the truth."""

    transactions: pa.Table
    customers: pa.Table
    events: pa.Table
    future_transactions: pa.Table
    future_events: pa.Table
    ground_truth: pd.DataFrame
    params: WorldParams

    def summary(self) -> dict[str, Any]:
        """Counts that describe the generated world."""
        gt = self.ground_truth
        buyers = int((~gt["never_purchased"]).sum())
        return {
            "customers": len(gt),
            "buyers": buyers,
            "transactions": self.transactions.num_rows,
            "transactions_per_buyer": round(self.transactions.num_rows / max(buyers, 1), 2),
            "refund_share": round(
                (pc.sum(pc.less(self.transactions["amount"], 0)).as_py() or 0)
                / max(self.transactions.num_rows, 1),
                4,
            ),
            "events": self.events.num_rows,
            "future_transactions": self.future_transactions.num_rows,
            "dropped_out_by_end": int(
                (gt["dropout_date"] < pd.Timestamp(self.params.end_date)).sum()
            ),
        }


@dataclass
class _Stream:
    """Points of a per-customer point process: customer index and time (days since start)."""

    customer: np.ndarray
    t: np.ndarray

    def take(self, mask: np.ndarray) -> _Stream:
        return _Stream(self.customer[mask], self.t[mask])


def generate(
    params: WorldParams, *, n_customers: int, seed: int, chunk_customers: int = 250_000
) -> DemoData:
    """Simulate ``n_customers`` customers of the world ``params``.

    Customers are independent, so they are simulated in chunks of ``chunk_customers`` (each with
    its own random stream spawned from ``seed``): memory stays bounded by the output plus one
    chunk. Within a chunk rows are ordered by time.

    Args:
        params: the world's parameters.
        n_customers: customers signed up during the observed period.
        seed: seed of every random choice; the same seed and chunk size give the same data.
        chunk_customers: customers simulated at once.

    Returns:
        The observed tables (before the data end), the held-back future, and the ground truth.
    """
    if n_customers < 1:
        raise ConfigError(f"generate.n_customers: expected >= 1; got {n_customers}")
    if chunk_customers < 1:
        raise ConfigError(f"generate.chunk_customers: expected >= 1; got {chunk_customers}")
    params.validate()
    started = time.perf_counter()
    bounds = [*range(0, n_customers, chunk_customers), n_customers]
    acquisition_seed, *chunk_seeds = np.random.SeedSequence(seed).spawn(len(bounds))
    acquired = _draw_acquisition(params, n_customers, np.random.default_rng(acquisition_seed))
    ids = _customer_ids(n_customers)
    season = params.seasonality()
    parts: list[dict[str, Any]] = []
    for (lo, hi), chunk_seed in zip(itertools.pairwise(bounds), chunk_seeds, strict=True):
        rng = np.random.default_rng(chunk_seed)
        parts.append(_simulate(params, acquired[lo:hi], ids[lo:hi], season, rng))
        log.info("simulated customers %d-%d of %d", lo + 1, hi, n_customers)

    def concat(name: str) -> pa.Table:
        return pa.concat_tables([part[name] for part in parts])

    transactions = concat("transactions")
    future = concat("future_transactions")
    demo = DemoData(
        transactions=_with_transaction_ids(transactions, 0),
        customers=concat("customers"),
        events=concat("events"),
        future_transactions=_with_transaction_ids(future, transactions.num_rows),
        future_events=concat("future_events"),
        ground_truth=pd.concat([part["ground_truth"] for part in parts], ignore_index=True),
        params=params,
    )
    log.info(
        "simulated %d customers, %d transactions and %d events in %.1f s",
        n_customers,
        demo.transactions.num_rows,
        demo.events.num_rows,
        time.perf_counter() - started,
    )
    return demo


def _simulate(
    params: WorldParams,
    acquired: np.ndarray,
    ids: pa.Array,
    season: np.ndarray,
    rng: np.random.Generator,
) -> dict[str, Any]:
    """Simulate one chunk of customers: their tables and ground truth."""
    cust = _draw_customers(params, acquired, rng)
    buyers = ~cust["never_purchased"]
    engaged_complaints, fade_start = _draw_fade_start(params, cust, season, rng)
    fade_days = cust["fade_days"]
    dropout = fade_start + fade_days
    end = np.where(buyers, np.minimum(dropout, params.total_days), cust["acquired"])

    def activity(stream: _Stream) -> np.ndarray:
        """Share of the engaged purchase rate at each point: 1 while engaged, fading after U."""
        c = stream.customer
        since = stream.t - fade_start[c]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            faded = np.exp(-_FADE_SPEED * since / fade_days[c])
        return np.where(since < 0, 1.0, np.where(stream.t < dropout[c], faded, 0.0))

    purchases = _poisson_points(cust["rate"], cust["acquired"], end, season, rng, activity)
    first = _Stream(np.flatnonzero(buyers), cust["acquired"][buyers])
    purchases = _time_of_day(_concat(first, purchases), cust["acquired"], end, rng)

    later_complaints = _poisson_points(
        cust["complaint_prob"] * cust["rate"],
        np.minimum(fade_start, end),
        end,
        season,
        rng,
        activity,
    )
    complaints = _concat(engaged_complaints, later_complaints)
    fading_mult = float(params.fading_ticket_multiplier)
    # Complaint-prone customers raise more tickets; the mean per purchase stays ticket_rate.
    weight = params.ticket_complaint_weight
    ticket_rate = (
        params.ticket_rate
        * (1 + weight * cust["complaint_prob"] / params.complaint_rate_mean)
        / (1 + weight)
        * cust["rate"]
    )

    def ticket_activity(stream: _Stream) -> np.ndarray:
        fading = stream.t >= fade_start[stream.customer]
        return activity(stream) * np.where(fading, 1.0, 1.0 / fading_mult)

    tickets = _poisson_points(
        ticket_rate * fading_mult, cust["acquired"], end, season, rng, ticket_activity
    )
    surveys = _poisson_points(
        params.survey_rate * cust["rate"], cust["acquired"], end, season, rng, activity
    )

    tx = _purchase_table(params, cust, purchases, fade_start, fade_days, season, rng)
    transactions = pd.concat([tx, _refund_table(params, cust, tx, rng)], ignore_index=True)
    transactions = transactions[transactions["t"] < params.total_days]
    events = _event_table(params, cust, complaints, tickets, surveys, fade_start, rng)
    observed_end = params.observed_days
    out: dict[str, Any] = {
        name: _to_arrow(frame, ids, params)
        for name, frame in {
            "transactions": transactions[transactions["t"] < observed_end],
            "future_transactions": transactions[transactions["t"] >= observed_end],
            "events": events[events["t"] < observed_end],
            "future_events": events[events["t"] >= observed_end],
        }.items()
    }
    out["customers"] = _customer_table(params, cust, ids, rng)
    out["ground_truth"] = _ground_truth(params, cust, ids, fade_start, dropout)
    return out


def _draw_acquisition(params: WorldParams, n: int, rng: np.random.Generator) -> np.ndarray:
    """Acquisition times (days since start), sorted: growing over time, seasonal."""
    days = np.arange(params.observed_days)
    doy = pd.date_range(params.start_date, periods=params.observed_days, freq="D").day_of_year
    weight = (1 + params.acquisition_growth * days / params.observed_days) * (
        1
        + params.acquisition_yearly_amplitude
        * np.cos(2 * np.pi * (doy.to_numpy() - params.acquisition_peak_day) / 365.25)
    )
    cdf = np.cumsum(weight) / weight.sum()
    return np.sort(np.searchsorted(cdf, rng.random(n)) + rng.random(n))


def _draw_customers(
    params: WorldParams, acquired: np.ndarray, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Latent traits of the customers acquired at ``acquired``."""
    n = acquired.size
    rate = rng.gamma(
        params.purchase_rate_shape, params.purchase_rate_mean / params.purchase_rate_shape, n
    )
    spend = params.spend_median * np.exp(params.spend_sigma * rng.standard_normal(n))
    hazard = rng.gamma(params.hazard_shape, params.hazard_mean / params.hazard_shape, n)
    kappa = params.complaint_rate_concentration
    complaint_prob = rng.beta(
        params.complaint_rate_mean * kappa, (1 - params.complaint_rate_mean) * kappa, n
    )
    refund_prob = np.clip(
        params.refund_rate_mean * np.sqrt(complaint_prob / params.complaint_rate_mean), 0, 0.5
    )
    fades = rng.random(n) < params.fade_fraction
    fade_days = np.where(
        fades,
        rng.gamma(params.fade_days_shape, params.fade_days_mean / params.fade_days_shape, n),
        0.0,
    )
    pop = np.log(np.asarray(params.category_popularity))
    favourite_order = np.argsort(-(pop + rng.gumbel(size=(n, pop.size))), axis=1)[:, :3]
    return {
        "acquired": acquired,
        "never_purchased": rng.random(n) < params.no_purchase_fraction,
        "rate": rate,
        "spend": spend,
        "hazard": hazard,
        "complaint_prob": complaint_prob,
        "refund_prob": refund_prob,
        "fade_days": fade_days,
        "favourites": favourite_order.astype(np.int8),
        "favourite_weights": rng.dirichlet(np.ones(3), n),
        "explore": rng.beta(
            2.0, 2.0 * (1 - params.category_explore_mean) / params.category_explore_mean, n
        ),
        "channel": rng.choice(
            len(params.channels), n, p=_normalised(params.channel_popularity)
        ).astype(np.int8),
        "region": rng.integers(0, len(params.regions), n).astype(np.int8),
    }


def _baseline_cumhazard(params: WorldParams, hazard: np.ndarray, age: np.ndarray) -> np.ndarray:
    """Integral of the baseline leaving hazard from acquisition to ``age`` days after it."""
    k, tau = params.new_customer_boost, params.new_customer_decay_days
    return hazard * (age + k * tau * (1 - np.exp(-age / tau)))


def _draw_fade_start(
    params: WorldParams, cust: dict[str, np.ndarray], season: np.ndarray, rng: np.random.Generator
) -> tuple[_Stream, np.ndarray]:
    """Time each customer starts to leave: the baseline hazard or a complaint, whichever first.

    Returns the complaints made while engaged (up to and including a triggering one) and the
    fade start of every customer (``inf`` when it lies beyond the simulated period).
    """
    n = cust["acquired"].size
    target = rng.exponential(size=n)
    # Newton on the concave, increasing cumulative hazard, from the left: converges monotonically.
    age = np.zeros(n)
    k, tau = params.new_customer_boost, params.new_customer_decay_days
    for _ in range(60):
        gap = _baseline_cumhazard(params, cust["hazard"], age) - target
        slope = cust["hazard"] * (1 + k * np.exp(-age / tau))
        age = age - gap / slope
    baseline = cust["acquired"] + age
    horizon = np.where(
        cust["never_purchased"], cust["acquired"], np.minimum(baseline, params.total_days)
    )
    complaints = _poisson_points(
        cust["complaint_prob"] * cust["rate"], cust["acquired"], horizon, season, rng, None
    )
    triggers = rng.random(complaints.t.size) < params.complaint_trigger_probability
    first_trigger = np.full(n, np.inf)
    np.minimum.at(first_trigger, complaints.customer[triggers], complaints.t[triggers])
    fade_start = np.minimum(baseline, first_trigger)
    fade_start = np.where(fade_start < params.total_days, fade_start, np.inf)
    fade_start = np.where(cust["never_purchased"], np.nan, fade_start)
    kept = complaints.take(complaints.t <= np.nan_to_num(fade_start, nan=-1.0)[complaints.customer])
    return kept, fade_start


def _poisson_points(
    rate: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    season: np.ndarray,
    rng: np.random.Generator,
    activity: Any,
) -> _Stream:
    """Points of a Poisson process with intensity ``rate * s(t) * activity(t)`` on [start, end).

    Thinning: candidates at the constant rate ``rate * max(s)``, each kept with probability
    ``s(t) / max(s) * activity(t)`` (``activity`` maps a stream to factors in [0, 1]).
    """
    s_max = float(season.max())
    duration = np.clip(np.nan_to_num(end - start, nan=0.0), 0, None)
    counts = rng.poisson(rate * s_max * duration)
    customer = np.repeat(np.arange(rate.size, dtype=np.int64), counts)
    t = start[customer] + rng.random(customer.size) * duration[customer]
    keep = season[t.astype(np.int64)] / s_max
    stream = _Stream(customer, t)
    if activity is not None:
        keep = keep * activity(stream)
    return stream.take(rng.random(t.size) < keep)


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
    params: WorldParams,
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
    params: WorldParams, cust: dict[str, np.ndarray], tx: pd.DataFrame, rng: np.random.Generator
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
    params: WorldParams,
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


def _timestamps(params: WorldParams, t: np.ndarray) -> pa.Array:
    start = pd.Timestamp(params.start_date).to_datetime64().astype("datetime64[us]")
    micros = (np.floor(t * 86_400) * 1e6).astype("timedelta64[us]")  # whole seconds
    return pa.array(start + micros, type=pa.timestamp("us"))


def _to_arrow(frame: pd.DataFrame, ids: pa.Array, params: WorldParams) -> pa.Table:
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
    params: WorldParams, cust: dict[str, np.ndarray], ids: pa.Array, rng: np.random.Generator
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
    params: WorldParams,
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

    return pd.DataFrame(
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


def _normalised(values: tuple[float, ...]) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    return arr / arr.sum()


def oracle_no_purchase(
    ground_truth: pd.DataFrame,
    params: WorldParams,
    cutoff: str | pd.Timestamp,
    *,
    horizon_days: int,
    step_days: float = 0.25,
    chunk_size: int = 5_000,
) -> pd.Series:
    """True probability of no purchase in ``[cutoff, cutoff + horizon)`` given the latent state.

    The latent state at the cutoff is a customer's traits and stage: engaged, fading (fade start
    before the cutoff) or gone. Gone customers: 1. Fading: ``exp(-expected purchases)`` over the
    rest of the fade. Engaged: the fade may start at any moment of the window at the known
    hazard; the probability integrates over that moment on a grid of ``step_days``.

    Args:
        ground_truth: the generator's ground truth table.
        params: the world the data was generated with.
        cutoff: the cutoff date ``c``.
        horizon_days: the label window length ``H``.
        step_days: grid step of the integral (the error shrinks with it).
        chunk_size: customers per vectorised block (bounds memory).

    Returns:
        Probabilities indexed by customer_id, for customers who had bought before the cutoff.
    """
    c_ts = pd.Timestamp(cutoff)
    start = pd.Timestamp(params.start_date)
    c = (c_ts - start) / pd.Timedelta(days=1)
    if c + horizon_days > params.total_days:
        raise ConfigError(
            f"oracle_no_purchase: window {c_ts.date()} + {horizon_days} days ends after the "
            f"simulated period ({params.total_days} days from {params.start_date})"
        )
    gt = ground_truth[~ground_truth["never_purchased"] & (ground_truth["acquired_at"] < c_ts)]

    def days(col: str) -> np.ndarray:
        values = (gt[col] - start) / pd.Timedelta(days=1)
        return values.to_numpy(dtype=float, na_value=np.inf)

    acquired, fade_start, dropout = days("acquired_at"), days("fade_start"), days("dropout_date")
    k = math.ceil(horizon_days / step_days)
    grid = c + (np.arange(k) + 0.5) * horizon_days / k
    dt = horizon_days / k
    season = params.seasonality()[np.floor(grid).astype(np.int64)]
    result = np.empty(len(gt))
    for lo in range(0, len(gt), chunk_size):
        sl = slice(lo, lo + chunk_size)
        result[sl] = _oracle_block(
            params,
            grid=grid,
            dt=dt,
            season=season,
            cutoff=c,
            acquired=acquired[sl],
            rate=gt["purchase_rate"].to_numpy()[sl],
            hazard=gt["base_hazard"].to_numpy()[sl],
            complaint_prob=gt["complaint_prob"].to_numpy()[sl],
            fade_days=gt["fade_days"].to_numpy()[sl],
            fade_start=fade_start[sl],
            dropout=dropout[sl],
        )
    return pd.Series(
        result, index=pd.Index(gt["customer_id"], name="customer_id"), name="p_no_purchase"
    )


def oracle_for_rows(
    ground_truth: pd.DataFrame,
    params: WorldParams,
    keys: pd.DataFrame,
    *,
    horizon_days: int,
) -> np.ndarray:
    """:func:`oracle_no_purchase` for (customer_id, cutoff) rows, in their order.

    Raises:
        DataError: when a row's customer had not bought before its cutoff in the ground truth
            (the rows do not come from this world).
    """
    out = np.empty(len(keys))
    cutoffs = keys["cutoff"].to_numpy()
    for cutoff in np.unique(cutoffs):
        rows = cutoffs == cutoff
        oracle = oracle_no_purchase(ground_truth, params, cutoff, horizon_days=horizon_days)
        values = oracle.reindex(keys["customer_id"].to_numpy()[rows]).to_numpy()
        if np.isnan(values).any():
            raise DataError(
                f"oracle_for_rows: {int(np.isnan(values).sum())} customers at cutoff "
                f"{pd.Timestamp(cutoff).date()} are not buyers of the generated world"
            )
        out[rows] = values
    return out


def _oracle_block(
    params: WorldParams,
    *,
    grid: np.ndarray,
    dt: float,
    season: np.ndarray,
    cutoff: float,
    acquired: np.ndarray,
    rate: np.ndarray,
    hazard: np.ndarray,
    complaint_prob: np.ndarray,
    fade_days: np.ndarray,
    fade_start: np.ndarray,
    dropout: np.ndarray,
) -> np.ndarray:
    k = grid.size
    fades = fade_days > 0
    mu = rate[:, None] * season[None, :] * dt  # expected purchases per step while engaged
    theta = np.where(fades, fade_days / _FADE_SPEED, 1.0)

    # Fading at the cutoff: the remaining fade is known.
    since = grid[None, :] - fade_start[:, None]
    with np.errstate(over="ignore", invalid="ignore"):
        fading_mu = mu * np.exp(-since / theta[:, None]) * (grid[None, :] < dropout[:, None])
    p_fading = np.exp(-fading_mu.sum(axis=1))

    # Engaged at the cutoff: integrate over the step in which the fade starts.
    k_new, tau = params.new_customer_boost, params.new_customer_decay_days
    age = grid[None, :] - acquired[:, None]
    eta = (
        hazard[:, None] * (1 + k_new * np.exp(-age / tau))
        + params.complaint_trigger_probability
        * complaint_prob[:, None]
        * rate[:, None]
        * season[None, :]
    ) * dt
    cum_eta = np.cumsum(eta, axis=1)
    survive_before = np.exp(-(cum_eta - eta))  # still engaged at the start of each step
    cum_mu = np.cumsum(mu, axis=1)
    before = cum_mu - 0.5 * mu  # expected purchases up to the middle of the fade-start step
    # Expected purchases from a fade starting mid-step u: sum_j>=u mu_j exp(-(j-u) dt / theta),
    # cut at the dropout D days later; computed with a backward recursion.
    decay = np.exp(-dt / theta)
    g = np.zeros((mu.shape[0], k + 1))
    for j in range(k - 1, -1, -1):
        g[:, j] = mu[:, j] + decay * g[:, j + 1]
    steps = np.ceil(fade_days / dt).astype(np.int64)
    u = np.arange(k)[None, :]
    end_idx = np.minimum(u + steps[:, None], k)
    tail = np.take_along_axis(g, end_idx, axis=1) * np.exp(-(end_idx - u) * dt / theta[:, None])
    after = np.where(fades[:, None], g[:, :k] - tail - 0.5 * mu, 0.0)
    p_start = survive_before * (1 - np.exp(-eta))
    p_engaged = np.exp(-cum_eta[:, -1] - cum_mu[:, -1]) + (p_start * np.exp(-before - after)).sum(
        axis=1
    )

    return np.where(dropout <= cutoff, 1.0, np.where(fade_start <= cutoff, p_fading, p_engaged))


WORLD_FILE = "world.json"


def save(data: DemoData, output_dir: str | os.PathLike[str], *, seed: int) -> Path:
    """Write the demo data folder atomically (DESIGN.md section 10).

    Layout: ``transactions.parquet``, ``customers.parquet``, ``events.parquet``,
    ``ground_truth.parquet``, ``world.json`` (parameters, seed, summary) and
    ``future/{transactions,events}.parquet`` (the held-back period after the data end).
    An existing folder is replaced as a whole.
    """
    with atomic_directory(output_dir) as tmp:
        (tmp / "future").mkdir()
        pq.write_table(data.transactions, tmp / "transactions.parquet")
        pq.write_table(data.customers, tmp / "customers.parquet")
        pq.write_table(data.events, tmp / "events.parquet")
        pq.write_table(data.future_transactions, tmp / "future" / "transactions.parquet")
        pq.write_table(data.future_events, tmp / "future" / "events.parquet")
        pq.write_table(
            pa.Table.from_pandas(data.ground_truth, preserve_index=False),
            tmp / "ground_truth.parquet",
        )
        world = {
            "params": dataclasses.asdict(data.params),
            "seed": seed,
            "summary": data.summary(),
        }
        (tmp / WORLD_FILE).write_text(json.dumps(world, indent=2) + "\n", encoding="utf-8")
    return Path(output_dir)


def load_truth(output_dir: str | os.PathLike[str]) -> tuple[pd.DataFrame, WorldParams]:
    """Read the ground truth and world parameters of a demo data folder written by :func:`save`."""
    folder = Path(output_dir)
    world_file = folder / WORLD_FILE
    if not world_file.is_file():
        raise FileNotFoundError(
            f"load_truth: expected {WORLD_FILE} of generated demo data in {folder.resolve()}; "
            "run `python -m pipelines.generate` first"
        )
    world = json.loads(world_file.read_text(encoding="utf-8"))
    truth = pq.read_table(folder / "ground_truth.parquet").to_pandas()
    return truth, WorldParams.from_mapping(world["params"])

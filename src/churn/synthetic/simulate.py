"""Draw the customers and their histories: acquisition, rates, dropout, purchase times."""

from __future__ import annotations

import itertools
import logging
import time
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from churn.errors import ConfigError
from churn.synthetic.tables import (
    _concat,
    _customer_ids,
    _customer_table,
    _event_table,
    _ground_truth,
    _normalised,
    _purchase_table,
    _refund_table,
    _Stream,
    _time_of_day,
    _to_arrow,
    _with_transaction_ids,
)
from churn.synthetic.world import _FADE_SPEED, DemoData, WorldConfig

log = logging.getLogger(__name__)


def generate(
    params: WorldConfig, *, n_customers: int, seed: int, chunk_customers: int = 250_000
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
    params: WorldConfig,
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

    shock = _shock_rate(params, cust)

    def activity(stream: _Stream) -> np.ndarray:
        """Share of the engaged purchase rate at each point: 1 while engaged, fading after U."""
        c = stream.customer
        since = stream.t - fade_start[c]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            faded = np.exp(-_FADE_SPEED * since / fade_days[c])
        share = np.where(since < 0, 1.0, np.where(stream.t < dropout[c], faded, 0.0))
        return share if shock is None else share * shock(stream)

    if params.purchase_process == "erlang":
        # Every k-th point of a Poisson process at k times the rate (phase 0 at the first
        # purchase): Erlang-k gaps in the time changed by seasonality, fading and any shock.
        k = params.erlang_shape
        sub_events = _poisson_points(k * cust["rate"], cust["acquired"], end, season, rng, activity)
        purchases = _every_kth(sub_events, k)
    else:
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


def _draw_acquisition(params: WorldConfig, n: int, rng: np.random.Generator) -> np.ndarray:
    """Acquisition times (days since start), sorted: growing over time, seasonal.

    Acquisitions fall in the first ``acquisition_days`` (the whole observed period when None);
    per day they grow by the factor ``1 + acquisition_growth`` from the first day to the last,
    linearly or exponentially.
    """
    span = params.observed_days if params.acquisition_days is None else params.acquisition_days
    days = np.arange(span)
    doy = pd.date_range(params.start_date, periods=span, freq="D").day_of_year
    if params.acquisition_growth_kind == "exponential":
        growth = np.exp(np.log1p(params.acquisition_growth) * days / span)
    else:
        growth = 1 + params.acquisition_growth * days / span
    weight = growth * (
        1
        + params.acquisition_yearly_amplitude
        * np.cos(2 * np.pi * (doy.to_numpy() - params.acquisition_peak_day) / 365.25)
    )
    cdf = np.cumsum(weight) / weight.sum()
    return np.sort(np.searchsorted(cdf, rng.random(n)) + rng.random(n))


def _draw_customers(
    params: WorldConfig, acquired: np.ndarray, rng: np.random.Generator
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
    traits = {
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
    if params.shock_day is not None:
        # Drawn last, and only in worlds with a shock, so other worlds' draws stay the same.
        traits["shocked"] = rng.random(n) < params.shock_fraction
    return traits


def _baseline_cumhazard(params: WorldConfig, hazard: np.ndarray, age: np.ndarray) -> np.ndarray:
    """Integral of the baseline leaving hazard from acquisition to ``age`` days after it."""
    k, tau = params.new_customer_boost, params.new_customer_decay_days
    return hazard * (age + k * tau * (1 - np.exp(-age / tau)))


def _draw_fade_start(
    params: WorldConfig, cust: dict[str, np.ndarray], season: np.ndarray, rng: np.random.Generator
) -> tuple[_Stream, np.ndarray]:
    """Time each customer starts to leave: the baseline hazard or a complaint, whichever first.

    Returns the complaints made while engaged (up to and including a triggering one) and the
    fade start of every customer (``inf`` when it lies beyond the simulated period).
    """
    n = cust["acquired"].size
    target = rng.exponential(size=n)
    if "shocked" in cust:
        target = _shocked_target(params, cust, target)
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
        cust["complaint_prob"] * cust["rate"],
        cust["acquired"],
        horizon,
        season,
        rng,
        _shock_rate(params, cust),
    )
    triggers = rng.random(complaints.t.size) < params.complaint_trigger_probability
    first_trigger = np.full(n, np.inf)
    np.minimum.at(first_trigger, complaints.customer[triggers], complaints.t[triggers])
    fade_start = np.minimum(baseline, first_trigger)
    fade_start = np.where(fade_start < params.total_days, fade_start, np.inf)
    fade_start = np.where(cust["never_purchased"], np.nan, fade_start)
    kept = complaints.take(complaints.t <= np.nan_to_num(fade_start, nan=-1.0)[complaints.customer])
    return kept, fade_start


def _shocked_target(
    params: WorldConfig, cust: dict[str, np.ndarray], target: np.ndarray
) -> np.ndarray:
    """Exponential targets of the cumulative hazard mapped to the unshocked hazard's scale.

    From the shock on, a shocked customer's hazard is ``shock_hazard_factor`` times the baseline:
    the cumulative hazard beyond its value at the shock grows that much faster, so the age at
    which it reaches ``target`` is the baseline's age for the shrunk excess.
    """
    at_shock = np.clip(float(params.shock_day or 0) - cust["acquired"], 0, None)
    before = _baseline_cumhazard(params, cust["hazard"], at_shock)
    later = cust["shocked"] & (target > before)
    shrunk = before + (target - before) / params.shock_hazard_factor
    return np.where(later, shrunk, target)


def _shock_rate(params: WorldConfig, cust: dict[str, np.ndarray]) -> Any:
    """Factors of the purchase rate at each point of a stream; None in worlds without a shock."""
    if "shocked" not in cust:
        return None
    day, factor = float(params.shock_day or 0), params.shock_rate_factor

    def rate(stream: _Stream) -> np.ndarray:
        hit = cust["shocked"][stream.customer] & (stream.t >= day)
        return np.where(hit, factor, 1.0)

    return rate


def _every_kth(stream: _Stream, k: int) -> _Stream:
    """The k-th, 2k-th, ... point of each customer's stream, in time order."""
    order = np.lexsort((stream.t, stream.customer))
    customer, t = stream.customer[order], stream.t[order]
    first = np.searchsorted(customer, customer, side="left")
    rank = np.arange(customer.size) - first
    keep = rank % k == k - 1
    return _Stream(customer[keep], t[keep])


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

"""The phase of an Erlang-``k`` buyer at a cutoff, for the oracle of worlds with regular buyers.

With ``purchase_process: erlang`` a customer's purchases are every ``k``-th sub-event of a
Poisson process with intensity ``k * rate * s(t) * activity(t)`` (activity: 1 while engaged,
fading after the fade start, times any shock factor), counted from a purchase. Given the latent
state and the time ``t_last`` of the last purchase before the cutoff ``c``, the number ``j`` of
sub-events since that purchase is Poisson with mean ``Lambda(t_last, c)`` conditioned on
``j < k`` (no purchase since). No purchase in the label window then means fewer than ``k - j``
sub-events in it: :func:`no_purchase_given_phase` mixes the Poisson CDFs over the phase.
For ``k = 1`` this is ``exp(-expected purchases)``, the Poisson world's oracle.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from churn.errors import DataError
from churn.synthetic.world import _FADE_SPEED, WorldConfig

log = logging.getLogger(__name__)


def last_purchase_days(
    transactions: pd.DataFrame, params: WorldConfig, cutoff: pd.Timestamp, ids: pd.Series
) -> np.ndarray:
    """Days since start_date of each customer's last purchase (positive amount) before ``cutoff``.

    Raises:
        DataError: when a customer of ``ids`` has no purchase before the cutoff in
            ``transactions`` (they are not this world's transactions, or too few of them).
    """
    missing_columns = {"customer_id", "timestamp", "amount"} - set(transactions.columns)
    if missing_columns:
        raise DataError(
            f"oracle_no_purchase: transactions need the columns customer_id, timestamp and "
            f"amount; missing {sorted(missing_columns)}"
        )
    before = transactions[(transactions["amount"] > 0) & (transactions["timestamp"] < cutoff)]
    last = before.groupby(before["customer_id"].astype(str))["timestamp"].max()
    stamps = last.reindex(ids.astype(str).to_numpy())
    if stamps.isna().any():
        raise DataError(
            f"oracle_no_purchase: {int(stamps.isna().sum())} buyers acquired before "
            f"{cutoff.date()} have no purchase before it in the transactions given; pass the "
            "world's own transactions (with the future ones for cutoffs after the data end)"
        )
    start = pd.Timestamp(params.start_date)
    return ((stamps - start) / pd.Timedelta(days=1)).to_numpy(dtype=float)


def phase_probabilities(
    params: WorldConfig,
    *,
    last: np.ndarray,
    cutoff: float,
    rate: np.ndarray,
    fade_start: np.ndarray,
    fade_days: np.ndarray,
    shocked: np.ndarray | None,
) -> np.ndarray:
    """P(j sub-events since the last purchase | no purchase since), ``j = 0 .. k-1``, per row.

    Rows whose customer is gone at the cutoff get some distribution; the oracle does not use it.
    """
    k = params.erlang_shape
    lam = k * rate * _integrated_rate(params, last, cutoff, fade_start, fade_days, shocked)
    terms = np.ones((lam.size, k))
    for j in range(1, k):
        terms[:, j] = terms[:, j - 1] * lam / j
    return terms / terms.sum(axis=1, keepdims=True)


def no_purchase_given_phase(phase: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """P(fewer than ``k - j`` sub-events) with ``j`` drawn from ``phase``, for Poisson means.

    Args:
        phase: ``(n, k)`` phase probabilities from :func:`phase_probabilities`.
        expected: expected sub-events in the window, shape ``(n,)`` or ``(n, m)``.
    """
    k = phase.shape[1]
    # sum_i Pois(i; M) * P(j <= k - 1 - i)
    below = np.cumsum(phase, axis=1)
    shape = (phase.shape[0],) + (1,) * (expected.ndim - 1)
    with np.errstate(over="ignore", invalid="ignore"):
        term = np.exp(-expected)
        total = term * below[:, k - 1].reshape(shape)
        for i in range(1, k):
            term = term * expected / i
            total = total + term * below[:, k - 1 - i].reshape(shape)
    return total


def _integrated_rate(
    params: WorldConfig,
    last: np.ndarray,
    cutoff: float,
    fade_start: np.ndarray,
    fade_days: np.ndarray,
    shocked: np.ndarray | None,
) -> np.ndarray:
    """Integral of ``s(t) * activity(t) * shock(t)`` over ``(last, cutoff)``, exact per day."""
    plain = params.seasonality()
    hit = plain  # the daily rate of shocked customers: lower from the shock day on
    if shocked is not None and params.shock_day is not None:
        after = np.arange(plain.size) >= params.shock_day
        hit = np.where(after, plain * params.shock_rate_factor, plain)
    is_hit = np.zeros(last.size, dtype=bool) if shocked is None else shocked.astype(bool)
    engaged_end = np.minimum(fade_start, cutoff)
    engaged = np.where(
        is_hit,
        _cumulative(hit, np.maximum(engaged_end, last)) - _cumulative(hit, last),
        _cumulative(plain, np.maximum(engaged_end, last)) - _cumulative(plain, last),
    )
    fading = (fade_start <= cutoff) & (fade_days > 0)
    total = engaged.copy()
    rows = np.flatnonzero(fading)
    if rows.size:
        lo = np.maximum(last[rows], fade_start[rows])
        theta = fade_days[rows] / _FADE_SPEED
        total[rows] += _faded_integral(
            plain, hit, is_hit[rows], lo, cutoff, fade_start[rows], theta
        )
    return total


def _cumulative(daily: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Integral from 0 to ``t`` of the per-day constant ``daily``."""
    cum = np.concatenate([[0.0], np.cumsum(daily)])
    day = np.clip(np.floor(t).astype(np.int64), 0, daily.size - 1)
    return cum[day] + daily[day] * (t - day)


def _faded_integral(
    plain: np.ndarray,
    hit: np.ndarray,
    is_hit: np.ndarray,
    lo: np.ndarray,
    hi: float,
    fade_start: np.ndarray,
    theta: np.ndarray,
) -> np.ndarray:
    """Integral over ``(lo, hi)`` of the daily rate times ``exp(-(t - fade_start) / theta)``."""
    first = np.floor(lo).astype(np.int64)
    width = int(max(np.ceil(hi) - first.min(), 1))
    day = first[:, None] + np.arange(width)[None, :]
    a = np.maximum(day, lo[:, None])
    b = np.minimum(day + 1, hi)
    inside = a < b
    index = np.clip(day, 0, plain.size - 1)
    daily = np.where(is_hit[:, None], hit[index], plain[index])
    part = theta[:, None] * (
        np.exp(-(a - fade_start[:, None]) / theta[:, None])
        - np.exp(-(b - fade_start[:, None]) / theta[:, None])
    )
    return np.where(inside, daily * part, 0.0).sum(axis=1)

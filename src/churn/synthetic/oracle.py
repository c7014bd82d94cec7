"""The true probability of no purchase in ``[c, c + H)`` given the latent state at ``c``.

The hazard of leaving is a known function of time given the latent state, so the probability
is computed exactly, up to a quarter-day grid. A shock (``shock_date``) makes the purchase rate
and the hazard of its customers piecewise in time; in worlds with Erlang gaps the phase since
the last purchase enters too (:mod:`~churn.synthetic.renewal`), so the oracle also needs the
customers' purchases before the cutoff.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from churn.config import whole_number
from churn.errors import ConfigError, DataError
from churn.synthetic import renewal
from churn.synthetic.world import _FADE_SPEED, WorldConfig

log = logging.getLogger(__name__)


def oracle_no_purchase(
    ground_truth: pd.DataFrame,
    params: WorldConfig,
    cutoff: str | pd.Timestamp,
    *,
    horizon_days: int,
    transactions: pd.DataFrame | None = None,
    step_days: float = 0.25,
    chunk_size: int = 5_000,
) -> pd.Series:
    """True probability of no purchase in ``[cutoff, cutoff + horizon)`` given the latent state.

    The latent state at the cutoff is a customer's traits and stage: engaged, fading (fade start
    before the cutoff) or gone, whether a shock hit them, and (Erlang gaps only) the time of
    their last purchase. Gone customers: 1. Fading: no purchase over the rest of the fade
    (``exp(-expected purchases)`` for Poisson purchases). Engaged: the fade may start at any
    moment of the window at the known hazard; the probability integrates over that moment on a
    grid of ``step_days``.

    Args:
        ground_truth: the generator's ground truth table.
        params: the world the data was generated with.
        cutoff: the cutoff date ``c``.
        horizon_days: the label window length ``H``.
        transactions: the world's transactions (``customer_id``, ``timestamp``, ``amount``;
            purchases are the positive amounts) at least up to the cutoff. Needed only when
            ``params.purchase_process`` is ``erlang``; ignored otherwise.
        step_days: grid step of the integral (the error shrinks with it).
        chunk_size: customers per vectorised block (bounds memory).

    Returns:
        Probabilities indexed by customer_id, for customers who had bought before the cutoff.

    Raises:
        ConfigError: a window that ends after the simulated period, or an Erlang world without
            transactions.
        DataError: transactions that lack a purchase before the cutoff of some buyer.
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
    shocked = gt["shocked"].to_numpy(dtype=bool) if "shocked" in gt else None
    last = None
    if params.purchase_process == "erlang":
        if transactions is None:
            raise ConfigError(
                "oracle_no_purchase: a world with purchase_process: erlang needs the "
                "transactions (the phase since each customer's last purchase); got none"
            )
        last = renewal.last_purchase_days(transactions, params, c_ts, gt["customer_id"])
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
            shocked=None if shocked is None else shocked[sl],
            last=None if last is None else last[sl],
        )
    # Sums of terms that add up to 1 can round past it for customers who almost never buy.
    result = np.clip(result, 0.0, 1.0)
    return pd.Series(
        result, index=pd.Index(gt["customer_id"], name="customer_id"), name="p_no_purchase"
    )


def oracle_for_rows(
    ground_truth: pd.DataFrame,
    params: WorldConfig,
    keys: pd.DataFrame,
    *,
    horizon_days: int,
    transactions: pd.DataFrame | None = None,
) -> np.ndarray:
    """:func:`oracle_no_purchase` for (customer_id, cutoff) rows, in their order.

    ``transactions`` as for :func:`oracle_no_purchase` (needed in worlds with Erlang gaps).

    Raises:
        DataError: when a row's customer had not bought before its cutoff in the ground truth
            (the rows do not come from this world).
    """
    out = np.empty(len(keys))
    cutoffs = keys["cutoff"].to_numpy()
    for cutoff in np.unique(cutoffs):
        rows = cutoffs == cutoff
        oracle = oracle_no_purchase(
            ground_truth, params, cutoff, horizon_days=horizon_days, transactions=transactions
        )
        values = oracle.reindex(keys["customer_id"].to_numpy()[rows]).to_numpy()
        if np.isnan(values).any():
            raise DataError(
                f"oracle_for_rows: {int(np.isnan(values).sum())} customers at cutoff "
                f"{pd.Timestamp(cutoff).date()} are not buyers of the generated world"
            )
        out[rows] = values
    return out


def _oracle_block(
    params: WorldConfig,
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
    shocked: np.ndarray | None,
    last: np.ndarray | None,
) -> np.ndarray:
    k = grid.size
    fades = fade_days > 0
    mu = rate[:, None] * season[None, :] * dt  # expected purchases per step while engaged
    if shocked is not None:  # from the shock day on, shocked customers buy less, leave sooner
        hit = shocked[:, None] & (grid[None, :] >= float(params.shock_day or 0))
        rate_factor = np.where(hit, params.shock_rate_factor, 1.0)
        mu = mu * rate_factor
    theta = np.where(fades, fade_days / _FADE_SPEED, 1.0)

    # Fading at the cutoff: the remaining fade is known.
    since = grid[None, :] - fade_start[:, None]
    with np.errstate(over="ignore", invalid="ignore"):
        fading_mu = mu * np.exp(-since / theta[:, None]) * (grid[None, :] < dropout[:, None])
    p_fading = np.exp(-fading_mu.sum(axis=1))

    # Engaged at the cutoff: integrate over the step in which the fade starts.
    k_new, tau = params.new_customer_boost, params.new_customer_decay_days
    age = grid[None, :] - acquired[:, None]
    base = hazard[:, None] * (1 + k_new * np.exp(-age / tau))
    trigger = (
        params.complaint_trigger_probability
        * complaint_prob[:, None]
        * rate[:, None]
        * season[None, :]
    )
    if shocked is not None:
        base = base * np.where(hit, params.shock_hazard_factor, 1.0)
        trigger = trigger * rate_factor  # complaints come with purchase activity
    eta = (base + trigger) * dt
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
    if last is None:
        p_engaged = np.exp(-cum_eta[:, -1] - cum_mu[:, -1]) + (
            p_start * np.exp(-before - after)
        ).sum(axis=1)
    else:
        # Erlang gaps: fewer than k - j sub-events (k per purchase) in the window, j the phase.
        n_sub = params.erlang_shape
        phase = renewal.phase_probabilities(
            params,
            last=last,
            cutoff=cutoff,
            rate=rate,
            fade_start=fade_start,
            fade_days=fade_days,
            shocked=shocked,
        )
        stay = renewal.no_purchase_given_phase(phase, n_sub * cum_mu[:, -1])
        leave = renewal.no_purchase_given_phase(phase, n_sub * (before + after))
        p_engaged = np.exp(-cum_eta[:, -1]) * stay + (p_start * leave).sum(axis=1)
        p_fading = renewal.no_purchase_given_phase(phase, n_sub * fading_mu.sum(axis=1))

    return np.where(dropout <= cutoff, 1.0, np.where(fade_start <= cutoff, p_fading, p_engaged))


def oracle_scorer(
    folder: str | os.PathLike[str],
    *,
    horizon_days: int,
    max_rows: int | None = None,
    seed: int = 0,
) -> Callable[[pd.DataFrame], np.ndarray] | None:
    """A scorer of ``(customer_id, cutoff)`` keys with the world's true probabilities.

    With ``max_rows``, at most that many keys (a seeded random sample) are scored and the others
    are NaN: the oracle integrates each customer's hazard on a fine grid (about 0.28 s per
    5,000 rows), and its metrics on a large sample are as good a reference.
    None, with a warning, when ``folder`` holds no ground truth (data that is not a demo world).
    In worlds with Erlang gaps the scorer also reads the folder's ``transactions.parquet``
    (the phase since each customer's last purchase), so its cutoffs must lie before the data end.
    """
    from churn.synthetic.io import load_truth

    if max_rows is not None:
        max_rows = whole_number("train.oracle_rows", max_rows, minimum=1)

    if not (Path(folder) / "ground_truth.parquet").exists():
        log.warning("no ground truth in %s: the oracle is not reported", folder)
        return None
    truth, world = load_truth(folder)
    transactions: pd.DataFrame | None = None
    if world.purchase_process == "erlang":
        columns = ["customer_id", "timestamp", "amount"]
        table = pq.read_table(Path(folder) / "transactions.parquet", columns=columns)
        transactions = table.to_pandas()

    def oracle(keys: pd.DataFrame) -> np.ndarray:
        out = np.full(len(keys), np.nan)
        chosen = np.arange(len(keys))
        if max_rows is not None and len(keys) > max_rows:
            rng = np.random.default_rng(seed)
            chosen = np.sort(rng.choice(len(keys), size=max_rows, replace=False))
            log.info("oracle: scored on a sample of %d of %d rows", max_rows, len(keys))
        out[chosen] = oracle_for_rows(
            truth,
            world,
            keys.iloc[chosen],
            horizon_days=horizon_days,
            transactions=transactions,
        )
        return out

    return oracle

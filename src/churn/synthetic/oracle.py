"""The true probability of no purchase in ``[c, c + H)`` given the latent state at ``c``.

The hazard of leaving is a known function of time given the latent state, so the probability
is computed exactly, up to a quarter-day grid.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from churn.errors import ConfigError, DataError
from churn.synthetic.world import _FADE_SPEED, WorldConfig

log = logging.getLogger(__name__)


def oracle_no_purchase(
    ground_truth: pd.DataFrame,
    params: WorldConfig,
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
    params: WorldConfig,
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


def oracle_scorer(
    folder: str | os.PathLike[str], *, horizon_days: int
) -> Callable[[pd.DataFrame], np.ndarray] | None:
    """A scorer of ``(customer_id, cutoff)`` keys with the world's true probabilities.

    None, with a warning, when ``folder`` holds no ground truth (data that is not a demo world).
    """
    from churn.synthetic.io import load_truth

    if not (Path(folder) / "ground_truth.parquet").exists():
        log.warning("no ground truth in %s: the oracle is not reported", folder)
        return None
    truth, world = load_truth(folder)

    def oracle(keys: pd.DataFrame) -> np.ndarray:
        return oracle_for_rows(truth, world, keys, horizon_days=horizon_days)

    return oracle

"""Intention-to-treat measurement of a campaign: arms, churn rates, save rates, value, power.

For one offer (or one offer and risk tier) the **contacted arm** is every customer assigned the
offer (``offer`` set) and the **control arm** every customer of the control group who would have
got it (``control_group`` and ``control_offer``): intention to treat, so a contacted customer
counts whether or not they opened the email or took the voucher. The control group was drawn at
random among the planned contacts, so the two arms differ only by the contact, and::

    save rate         s = (r_control - r_contacted) / r_control = 1 - RR
    risk ratio       RR = r_contacted / r_control
    interval            : log RR +- z * sqrt(1/a - 1/n1 + 1/c - 1/n0) (Katz), s = 1 - RR
    customers saved     = (r_control - r_contacted) * n1
    incremental value   = (mean margin contacted - mean margin control) * n1
    ROI                 = (incremental value - cost) / cost

with ``a`` churners of ``n1`` contacted, ``c`` of ``n0`` in control. When a cell of the 2x2 table
is empty (``a`` or ``c`` is 0: the log is undefined; or everyone of an arm churned: the interval
would have zero width) 0.5 is added to every cell (Haldane-Anscombe), for the interval only.
A cell is *measurable* when its control arm has at least ``min_control`` customers, a
churner, and a save-rate interval no wider than ``max_interval_width``. Every cell also gets
the control size a two-sided two-proportion test at level ``1 - confidence`` needs for
``power`` to detect the offer's configured save rate at the observed control churn rate.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from statistics import NormalDist
from typing import Any

import pandas as pd

from churn.outcomes.settings import OutcomeConfig
from churn.power import required_control_size

log = logging.getLogger(__name__)

TOTAL = "all"
CELL_COLUMNS = (
    "contacted",
    "control",
    "churned_contacted",
    "churned_control",
    "churn_rate_contacted",
    "churn_rate_control",
    "save_rate",
    "save_rate_low",
    "save_rate_high",
    "configured_save_rate",
    "customers_saved",
    "margin_per_customer_contacted",
    "margin_per_customer_control",
    "incremental_value",
    "cost",
    "roi",
    "expected_net_benefit",
    "realised_net_benefit",
    "measurable",
    "reason",
    "required_control",
)


def risk_ratio_interval(
    a: int, n1: int, c: int, n0: int, *, confidence: float = 0.95
) -> tuple[float, float] | None:
    """The Katz interval of the risk ratio ``(a / n1) / (c / n0)``; None when an arm is empty.

    An empty cell of the 2x2 table (no churner, or no one retained, in either arm) adds 0.5 to
    every cell first (Haldane-Anscombe): without it, arms where everyone churned give a
    zero-width interval.

    Raises:
        ValueError: counts that are negative or larger than their arm.
    """
    if not (0 <= a <= n1 and 0 <= c <= n0):
        raise ValueError(
            f"risk_ratio_interval: expected 0 <= churners <= arm size; got a={a}, n1={n1}, "
            f"c={c}, n0={n0}"
        )
    if n1 == 0 or n0 == 0:
        return None
    x1, m1, x0, m0 = float(a), float(n1), float(c), float(n0)
    if 0 in (a, c, n1 - a, n0 - c):
        x1, m1, x0, m0 = x1 + 0.5, m1 + 1.0, x0 + 0.5, m0 + 1.0
    log_rr = math.log((x1 / m1) / (x0 / m0))
    se = math.sqrt(1.0 / x1 - 1.0 / m1 + 1.0 / x0 - 1.0 / m0)
    z = NormalDist().inv_cdf(0.5 + confidence / 2.0)
    return math.exp(log_rr - z * se), math.exp(log_rr + z * se)


def required_control(
    control_rate: float | None, save_rate: float, *, confidence: float = 0.95, power: float = 0.8
) -> int | None:
    """Customers per arm a two-sided two-proportion z-test needs to detect ``save_rate``.

    With ``p0`` the control churn rate and ``p1 = p0 * (1 - save_rate)``, arms of equal size
    (:func:`churn.power.required_control_size`, the test the export manifest's detectable save
    rates use)::

        n = (z_{1-alpha/2} + z_power)^2 (p0 q0 + p1 q1) / (p0 - p1)^2,   alpha = 1 - confidence

    rounded up; None when there is nothing to detect (no control rate, ``p0`` of 0 or 1, or a
    save rate of 0).
    """
    if control_rate is None:
        return None
    return required_control_size(control_rate, save_rate, alpha=1.0 - confidence, power=power)


def measure_cell(
    contacted: pd.DataFrame,
    control: pd.DataFrame,
    *,
    configured_save_rate: float,
    settings: OutcomeConfig,
) -> dict[str, Any]:
    """The intention-to-treat figures of one cell from its two arms' joined rows.

    Both frames hold ``churned`` (0/1), ``margin_value``, ``offer_cost`` and
    ``expected_net_benefit`` of the customers analysed (in the data, not excluded).
    """
    n1, n0 = len(contacted), len(control)
    a, c = int(contacted["churned"].sum()), int(control["churned"].sum())
    r1 = a / n1 if n1 else None
    r0 = c / n0 if n0 else None
    save = (r0 - r1) / r0 if r0 and r1 is not None else None
    interval = risk_ratio_interval(a, n1, c, n0, confidence=settings.confidence)
    low, high = (None, None) if interval is None else (1.0 - interval[1], 1.0 - interval[0])
    width = None if low is None or high is None else high - low
    cost = float(contacted["offer_cost"].sum())
    difference = (
        float(contacted["margin_value"].mean() - control["margin_value"].mean())
        if n1 and n0
        else None
    )
    incremental = None if difference is None else difference * n1
    realised = None if incremental is None else incremental - cost
    reasons = _not_measurable(n0, c, width, settings)
    return {
        "contacted": n1,
        "control": n0,
        "churned_contacted": a,
        "churned_control": c,
        "churn_rate_contacted": r1,
        "churn_rate_control": r0,
        "save_rate": save,
        "save_rate_low": low,
        "save_rate_high": high,
        "configured_save_rate": configured_save_rate,
        "customers_saved": None if r0 is None or r1 is None else (r0 - r1) * n1,
        "margin_per_customer_contacted": float(contacted["margin_value"].mean()) if n1 else None,
        "margin_per_customer_control": float(control["margin_value"].mean()) if n0 else None,
        "incremental_value": incremental,
        "cost": cost,
        "roi": None if realised is None or cost <= 0 else realised / cost,
        "expected_net_benefit": float(contacted["expected_net_benefit"].fillna(0.0).sum()),
        "realised_net_benefit": realised,
        "measurable": not reasons,
        "reason": "; ".join(reasons),
        "required_control": required_control(
            r0, configured_save_rate, confidence=settings.confidence, power=settings.power
        ),
    }


def _not_measurable(
    n0: int, churned: int, width: float | None, settings: OutcomeConfig
) -> list[str]:
    if n0 == 0:
        return ["empty control group"]
    reasons = []
    if n0 < settings.min_control:
        reasons.append(
            f"not enough control customers to tell ({n0} < outcomes.min_control "
            f"{settings.min_control})"
        )
    if churned == 0:
        reasons.append("no churner in the control group: the save rate is undefined")
    if width is not None and width > settings.max_interval_width:
        reasons.append(
            f"save-rate interval too wide ({width:.2f} > outcomes.max_interval_width "
            f"{settings.max_interval_width})"
        )
    return reasons


def itt_table(
    frame: pd.DataFrame,
    *,
    save_rates: Mapping[str, float],
    settings: OutcomeConfig,
    by: Sequence[str] = (),
) -> pd.DataFrame:
    """One row per offer (and per value of ``by``, e.g. ``risk_tier``) with :func:`measure_cell`.

    ``frame`` holds the analysed rows (:func:`analysed`) with ``offer``, ``control_group``,
    ``control_offer`` and the columns of ``by``. Offers come from both arms, sorted by name.
    """
    contacted = frame[frame["offer"].notna()]
    control = frame[frame["control_group"] & frame["control_offer"].notna()]
    offers = sorted(set(contacted["offer"].astype(str)) | set(control["control_offer"].astype(str)))
    rows = []
    for offer in offers:
        arm1 = contacted[contacted["offer"].astype(str) == offer]
        arm0 = control[control["control_offer"].astype(str) == offer]
        keys = sorted(
            {tuple(map(str, k)) for k in arm1[list(by)].itertuples(index=False)}
            | {tuple(map(str, k)) for k in arm0[list(by)].itertuples(index=False)}
        )
        for key in keys:
            cell1 = _select(arm1, by, key)
            cell0 = _select(arm0, by, key)
            rows.append(
                {
                    "offer": offer,
                    **dict(zip(by, key, strict=True)),
                    **measure_cell(
                        cell1,
                        cell0,
                        configured_save_rate=float(save_rates.get(offer, 0.0)),
                        settings=settings,
                    ),
                }
            )
    table = pd.DataFrame(rows, columns=["offer", *by, *CELL_COLUMNS])
    return table.astype({"required_control": "Int64"})


def total_row(
    frame: pd.DataFrame, *, save_rates: Mapping[str, float], settings: OutcomeConfig
) -> dict[str, Any]:
    """The cell of every offer together; its configured save rate is the contacted-weighted mean."""
    contacted = frame[frame["offer"].notna()]
    control = frame[frame["control_group"]]
    weights = contacted["offer"].astype(str).map(lambda o: float(save_rates.get(o, 0.0)))
    configured = float(weights.mean()) if len(weights) else 0.0
    return {
        "offer": TOTAL,
        **measure_cell(contacted, control, configured_save_rate=configured, settings=settings),
    }


def analysed(frame: pd.DataFrame, *, overlap: str) -> tuple[pd.DataFrame, dict[str, int]]:
    """The rows both arms are measured on, and what was left out (counts).

    Customers not in the data are left out (``left_data``); with ``overlap: exclude`` so are
    those with ``earlier_campaign`` set (``excluded_overlap``). Explorers (a random offer of
    ``offers.explore_fraction``) are not in the plan's arms: the control group was drawn from
    the plan's contacts, so they are left out and counted (``explored``). Only contacted and
    control customers are counted.
    """
    explored = (
        frame["explored"].astype(bool)
        if "explored" in frame.columns
        else pd.Series(False, index=frame.index)
    )
    frame = frame[~explored]
    in_arms = frame["offer"].notna() | frame["control_group"]
    flagged = frame["earlier_campaign"].notna()
    left = ~frame["in_data"].astype(bool)
    dropped_overlap = flagged & ~left if overlap == "exclude" else pd.Series(False, frame.index)
    kept = frame[~left & ~dropped_overlap]
    counts = {
        "left_data": int((in_arms & left).sum()),
        "left_data_contacted": int((frame["offer"].notna() & left).sum()),
        "left_data_control": int((in_arms & frame["offer"].isna() & left).sum()),
        "earlier_campaign": int((in_arms & flagged).sum()),
        "excluded_overlap": int((in_arms & dropped_overlap).sum()),
        "explored": int(explored.sum()),
    }
    return kept, counts


def _select(frame: pd.DataFrame, by: Sequence[str], key: tuple[str, ...]) -> pd.DataFrame:
    mask = pd.Series(True, index=frame.index)
    for name, value in zip(by, key, strict=True):
        mask &= frame[name].astype(str) == value
    return frame[mask]

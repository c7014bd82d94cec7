"""How large a control group must be to measure a save rate (docs/outcomes.md).

A campaign's effect is measured in the planner's own terms: the **save rate** ``s`` is the share
of would-be churners an offer keeps, so with churn ``c`` in the control group the contacted
customers churn at ``c (1 - s)``. The two-sided two-proportion z-test at level ``alpha`` detects
``s`` with probability ``power`` when

    c s >= (z_{1-alpha/2} + z_{power}) sqrt(c (1 - c) / n_control + t (1 - t) / n_contacted)

(unpooled normal approximation, ``t = c (1 - s)``). :func:`min_detectable_save_rate` solves it
for ``s`` at given group sizes, :func:`required_control_size` for ``n_control`` at a given
``s``.
"""

from __future__ import annotations

import math

from scipy.stats import norm

ALPHA = 0.05
POWER = 0.8


def _z(alpha: float, power: float) -> float:
    return float(norm.ppf(1 - alpha / 2) + norm.ppf(power))


def _detectable(c: float, s: float, n_control: float, n_contacted: float, z: float) -> bool:
    t = c * (1 - s)
    spread = math.sqrt(c * (1 - c) / n_control + t * (1 - t) / n_contacted)
    return c * s >= z * spread


def min_detectable_save_rate(
    control_churn: float,
    n_control: int,
    n_contacted: int,
    *,
    alpha: float = ALPHA,
    power: float = POWER,
) -> float | None:
    """The smallest save rate the groups detect (80% power, 5% level by default).

    None when no save rate up to 1 is detectable (too few customers, or no churn expected).
    """
    c = float(control_churn)
    if n_control < 1 or n_contacted < 1 or not 0 < c < 1:
        return None
    z = _z(alpha, power)
    if not _detectable(c, 1.0, n_control, n_contacted, z):
        return None
    lo, hi = 0.0, 1.0
    for _ in range(60):  # bisection: detectability grows with s
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if _detectable(c, mid, n_control, n_contacted, z) else (mid, hi)
    return hi


def required_control_size(
    control_churn: float,
    save_rate: float,
    n_contacted: int | None = None,
    *,
    alpha: float = ALPHA,
    power: float = POWER,
) -> int | None:
    """Control customers needed to detect ``save_rate`` at the control churn ``control_churn``.

    With ``n_contacted`` given, that many contacted customers are assumed; without it, groups of
    equal size. None when the effect cannot be detected at any control size (zero save rate, no
    churn, or too few contacted customers).
    """
    c, s = float(control_churn), float(save_rate)
    if not (0 < c < 1 and 0 < s <= 1):
        return None
    z = _z(alpha, power)
    t = c * (1 - s)
    if n_contacted is None:
        n = (z / (c * s)) ** 2 * (c * (1 - c) + t * (1 - t))
        return math.ceil(n)
    left = (c * s / z) ** 2 - t * (1 - t) / n_contacted
    if left <= 0:
        return None
    return math.ceil(c * (1 - c) / left)

"""Control group sizes and detectable save rates (two-proportion z-test, 80% power, 5% level)."""

from __future__ import annotations

import numpy as np
import pytest

from churn.power import min_detectable_save_rate, required_control_size


def test_required_size_and_detectable_rate_agree() -> None:
    n = required_control_size(0.6, 0.2, n_contacted=5000)
    assert n is not None
    rate = min_detectable_save_rate(0.6, n, 5000)
    assert rate is not None
    assert rate == pytest.approx(0.2, abs=0.005)
    assert min_detectable_save_rate(0.6, n - 30, 5000) > 0.2  # type: ignore[operator]


def test_equal_groups_match_the_textbook_formula() -> None:
    # p1 = 0.5, p2 = 0.4: (1.96 + 0.8416)^2 (0.25 + 0.24) / 0.01 = 384.6
    assert required_control_size(0.5, 0.2) == 385


def test_detectable_rate_falls_with_more_control_customers() -> None:
    rates = [min_detectable_save_rate(0.5, n, 2000) for n in (50, 200, 1000)]
    assert all(r is not None for r in rates)
    assert rates[0] > rates[1] > rates[2]  # type: ignore[operator]


def test_nothing_detectable_is_none() -> None:
    assert min_detectable_save_rate(0.5, 0, 100) is None
    assert min_detectable_save_rate(0.0, 100, 100) is None
    assert min_detectable_save_rate(0.05, 3, 3) is None
    assert required_control_size(0.5, 0.0) is None
    assert required_control_size(0.5, 0.01, n_contacted=10) is None


def test_power_holds_in_simulation() -> None:
    c, s, contacted = 0.5, 0.25, 3000
    n = required_control_size(c, s, n_contacted=contacted)
    assert n is not None
    rng = np.random.default_rng(0)
    control = rng.binomial(n, c, 4000) / n
    treated = rng.binomial(contacted, c * (1 - s), 4000) / contacted
    se = np.sqrt(control * (1 - control) / n + treated * (1 - treated) / contacted)
    power = np.mean((control - treated) / se > 1.96)
    assert 0.76 <= power <= 0.85

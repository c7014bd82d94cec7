"""The demo world's parameters (``conf/world``) and the simulated data set with its ground truth.

The model of each customer:

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

Options that other worlds switch on (docs/worlds.md), all off by default, so that the demo
world's data stay bit-identical: acquisitions only in the first ``acquisition_days`` (one
cohort) or growing exponentially; a **shock** from ``shock_date`` on that lowers the purchase
rate and raises the leaving hazard of a random share of customers (concept drift); a holiday
peak on top of the yearly season; and Erlang-``k`` purchase gaps instead of a Poisson process
(every ``k``-th event of a Poisson process at ``k`` times the rate: regular buyers).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from churn.config import Config
from churn.errors import ConfigError

log = logging.getLogger(__name__)

EVENT_TYPES = ("support_ticket", "complaint", "nps")
_FADE_SPEED = 3.0  # the purchase rate falls to exp(-3), about 5%, at the dropout date
_TIME_OF_DAY = (4.0, 3.0)  # Beta parameters: purchases peak in the afternoon
GROWTH_KINDS = ("linear", "exponential")
PURCHASE_PROCESSES = ("poisson", "erlang")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class WorldConfig(Config):
    """Parameters of the simulated business; rates are per day unless named otherwise."""

    section: ClassVar[str] = "world parameters"

    start_date: str = "2023-01-01"
    end_date: str = "2026-01-01"
    future_days: int = 180
    no_purchase_fraction: float = 0.04
    acquisition_growth: float = 1.0
    acquisition_yearly_amplitude: float = 0.25
    acquisition_peak_day: int = 20
    acquisition_days: int | None = None
    acquisition_growth_kind: str = "linear"
    purchase_rate_mean: float = 0.06
    purchase_rate_shape: float = 1.2
    weekly_factors: tuple[float, ...] = (0.9, 0.9, 0.95, 1.0, 1.15, 1.25, 0.85)
    yearly_amplitude: float = 0.2
    yearly_peak_day: int = 345
    holiday_boost: float = 0.0
    holiday_peak_day: int = 355
    holiday_width_days: float = 10.0
    purchase_process: str = "poisson"
    erlang_shape: int = 1
    spend_median: float = 42.0
    spend_sigma: float = 0.6
    basket_shape: float = 5.0
    basket_yearly_amplitude: float = 0.15
    hazard_mean: float = 0.0012
    hazard_shape: float = 2.0
    new_customer_boost: float = 8.0
    new_customer_decay_days: float = 30.0
    shock_date: str | None = None
    shock_fraction: float = 0.0
    shock_rate_factor: float = 1.0
    shock_hazard_factor: float = 1.0
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
        self._validate_options()

    def _validate_options(self) -> None:
        """The options other worlds switch on: cohort, growth, shock, holiday, Erlang gaps."""
        n = self.acquisition_days
        if n is not None and (not _is_int(n) or not 1 <= n <= self.observed_days):
            raise ConfigError(
                f"world.acquisition_days: expected null or a whole number of days in "
                f"[1, {self.observed_days}] (the observed period); got {n!r}"
            )
        if self.acquisition_growth_kind not in GROWTH_KINDS:
            raise ConfigError(
                f"world.acquisition_growth_kind: expected one of {list(GROWTH_KINDS)}; "
                f"got {self.acquisition_growth_kind!r}"
            )
        if self.acquisition_growth <= -1:
            raise ConfigError(
                f"world.acquisition_growth: expected > -1 (acquisitions stay positive); "
                f"got {self.acquisition_growth}"
            )
        self._validate_shock()
        if self.holiday_boost < 0 or self.holiday_width_days <= 0:
            raise ConfigError(
                "world: holiday_boost must be >= 0 and holiday_width_days > 0; got "
                f"{self.holiday_boost}, {self.holiday_width_days}"
            )
        if not _is_int(self.holiday_peak_day) or not 1 <= self.holiday_peak_day <= 366:
            raise ConfigError(
                f"world.holiday_peak_day: expected a day of the year in [1, 366]; "
                f"got {self.holiday_peak_day!r}"
            )
        if self.purchase_process not in PURCHASE_PROCESSES:
            raise ConfigError(
                f"world.purchase_process: expected one of {list(PURCHASE_PROCESSES)}; "
                f"got {self.purchase_process!r}"
            )
        if not _is_int(self.erlang_shape) or not 1 <= self.erlang_shape <= 20:
            raise ConfigError(
                f"world.erlang_shape: expected a whole number in [1, 20]; got {self.erlang_shape!r}"
            )

    def _validate_shock(self) -> None:
        if self.shock_date is not None:
            try:
                shock = pd.Timestamp(self.shock_date)
            except (TypeError, ValueError) as err:
                raise ConfigError(
                    f"world.shock_date: expected null or a date; got {self.shock_date!r}"
                ) from err
            start = pd.Timestamp(self.start_date)
            last = start + pd.Timedelta(days=self.total_days)
            if not start < shock < last or shock != shock.normalize():
                raise ConfigError(
                    f"world.shock_date: expected a date after start_date {self.start_date} "
                    f"and before the simulated end {last.date()}; got {self.shock_date!r}"
                )
        if not 0 <= self.shock_fraction <= 1:
            raise ConfigError(
                f"world.shock_fraction: expected a probability in [0, 1]; got {self.shock_fraction}"
            )
        if not 0 < self.shock_rate_factor <= 1:
            raise ConfigError(
                f"world.shock_rate_factor: expected a factor in (0, 1] (the shock lowers "
                f"purchase rates); got {self.shock_rate_factor}"
            )
        if self.shock_hazard_factor < 1:
            raise ConfigError(
                f"world.shock_hazard_factor: expected >= 1 (the shock raises the leaving "
                f"hazard); got {self.shock_hazard_factor}"
            )

    @property
    def shock_day(self) -> int | None:
        """Days from start_date to the shock date; None when the world has no shock."""
        if self.shock_date is None:
            return None
        return int((pd.Timestamp(self.shock_date) - pd.Timestamp(self.start_date)).days)

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
        doy = days.day_of_year.to_numpy()
        yearly = 1 + self.yearly_amplitude * np.cos(
            2 * np.pi * (doy - self.yearly_peak_day) / 365.25
        )
        if self.holiday_boost > 0:
            # A Gaussian bump around the holiday peak (circular in the year), scaled so that
            # the yearly mean stays about 1: purchase_rate_mean keeps its meaning.
            distance = (doy - self.holiday_peak_day + 182.625) % 365.25 - 182.625
            bump = np.exp(-0.5 * (distance / self.holiday_width_days) ** 2)
            mean_bump = self.holiday_width_days * np.sqrt(2 * np.pi) / 365.25
            yearly = (yearly + self.holiday_boost * bump) / (1 + self.holiday_boost * mean_bump)
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
    params: WorldConfig

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

"""Feature settings (windows, lifecycle, BG/NBD) and the documentation of every feature column."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from churn.config import Config, build
from churn.errors import ConfigError

log = logging.getLogger(__name__)

SECONDS_PER_DAY = 86_400.0
# The version of the feature definitions: raise it with any change to what a feature means or
# how it is computed, so a bundle trained on the old definitions is refused at scoring.
DEFINITIONS_VERSION = "1"
PERIOD_DAYS = 30
MAX_ACTIVE_PERIODS = 62


@dataclass(frozen=True)
class FeatureConfig(Config):
    """Window lengths and switches of the feature set (``conf/features``)."""

    section: ClassVar[str] = "features"

    windows: tuple[int, ...] = (30, 90, 180, 365)
    trend_days: int = 90
    event_days: int = 90
    active_periods: int = 12
    new_days: int = 90
    lapsing_gap_multiple: float = 2.0
    lapsing_min_days: int = 60
    btyd_enabled: bool = True
    btyd_time_unit_days: float = 7.0
    btyd_penalizer: float = 0.001
    btyd_min_customers: int = 200

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> FeatureConfig:
        """Build from the ``features`` config node (nested ``lifecycle`` and ``btyd``)."""
        flat: dict[str, Any] = {}
        for key, value in values.items():
            if key in ("lifecycle", "btyd") and isinstance(value, Mapping):
                prefix = "btyd_" if key == "btyd" else ""
                flat.update({f"{prefix}{k}": v for k, v in value.items()})
            else:
                flat[key] = value
        if "windows" in flat:
            flat["windows"] = tuple(int(w) for w in flat["windows"])
        config = build(cls, flat, where="features")
        config.validate()
        return config

    def validate(self) -> None:
        """Raise ConfigError when a window or threshold cannot work."""
        if not self.windows or min(self.windows) < 1 or len(set(self.windows)) != len(self.windows):
            raise ConfigError(
                f"features.windows: expected distinct positive day counts; got {list(self.windows)}"
            )
        counts = (
            "trend_days",
            "event_days",
            "active_periods",
            "new_days",
            "lapsing_min_days",
            "btyd_min_customers",
        )
        for name in counts:
            if getattr(self, name) < 1:
                raise ConfigError(f"features.{name}: expected >= 1; got {getattr(self, name)}")
        if self.active_periods > MAX_ACTIVE_PERIODS:
            raise ConfigError(
                f"features.active_periods: expected at most {MAX_ACTIVE_PERIODS} (one bit each "
                f"in a 64-bit integer); got {self.active_periods}"
            )
        if self.lapsing_gap_multiple <= 0 or self.btyd_time_unit_days <= 0:
            raise ConfigError(
                "features: lifecycle.lapsing_gap_multiple and btyd.time_unit_days must be > 0; "
                f"got {self.lapsing_gap_multiple}, {self.btyd_time_unit_days}"
            )


def feature_docs(
    config: FeatureConfig, *, has_category: bool = True, has_events: bool = True
) -> dict[str, tuple[str, str]]:
    """Every feature column: name -> (meaning, window), in output order."""
    t, e, p = config.trend_days, config.event_days, config.active_periods
    docs: dict[str, tuple[str, str]] = {
        "recency_days": ("days from the last purchase to the cutoff", "all history"),
        "tenure_days": ("days from the first purchase to the cutoff", "all history"),
        "frequency": ("days with a purchase", "all history"),
        "n_purchases": ("purchase transactions (label.purchase_rule)", "all history"),
        "monetary_sum": ("total spend", "all history"),
        "monetary_mean": ("mean spend per purchase", "all history"),
        "monetary_std": ("standard deviation of spend per purchase (2+ purchases)", "all history"),
        "monetary_max": ("largest purchase", "all history"),
        "last_amount": ("spend on the last purchase day", "all history"),
    }
    for w in config.windows:
        docs[f"purchases_{w}d"] = (f"purchases in the last {w} days", f"[c-{w}d, c)")
        docs[f"spend_{w}d"] = (f"spend in the last {w} days", f"[c-{w}d, c)")
    docs |= {
        f"purchase_trend_{t}d": (
            f"log((purchases in the last {t} days + 1) / (purchases in the {t} days before + 1))",
            f"[c-{2 * t}d, c)",
        ),
        f"spend_trend_{t}d": (
            f"log((spend in the last {t} days + 1) / (spend in the {t} days before + 1))",
            f"[c-{2 * t}d, c)",
        ),
        "gap_mean_days": ("mean days between consecutive purchase days (2+ days)", "all history"),
        "gap_std_days": ("standard deviation of those gaps (3+ days)", "all history"),
        "gap_max_days": ("longest gap between purchase days", "all history"),
        "gap_last_days": ("gap before the last purchase day", "all history"),
        "recency_gap_ratio": ("recency_days / gap_mean_days: how overdue", "all history"),
        "active_months": (
            f"{PERIOD_DAYS}-day periods with a purchase, of the last {p}",
            f"[c-{p * PERIOD_DAYS}d, c)",
        ),
        "refund_share": ("refunded amount / purchased amount", "all history"),
    }
    if has_category:
        docs |= {
            "category_count": ("distinct categories bought", "all history"),
            "top_category_share": ("share of purchases in the most bought category", "all history"),
        }
    docs["lifecycle_stage"] = (
        f"new (tenure < {config.new_days}d), lapsing (recency > {config.lapsing_min_days}d and > "
        f"{config.lapsing_gap_multiple:g} x usual gap), else established",
        "all history",
    )
    if has_events:
        docs |= {
            f"complaints_{e}d": (f"complaints in the last {e} days", f"[c-{e}d, c)"),
            f"tickets_{e}d": (f"support tickets in the last {e} days", f"[c-{e}d, c)"),
            "last_nps": ("the latest NPS answer (0-10)", "all history"),
            "nps_detractor": ("1 when the latest NPS answer is 0-6, 0 when 7-10", "all history"),
        }
    if config.btyd_enabled:
        docs |= {
            "btyd_p_alive": ("BG/NBD probability the customer is still active", "all history"),
            "btyd_expected_purchases": (
                "BG/NBD expected purchase days in the horizon",
                "all history; fitted at the cutoff",
            ),
            "btyd_p_no_purchase": (
                "BG/NBD probability of no purchase in the horizon (its churn probability)",
                "all history; fitted at the cutoff",
            ),
        }
    return docs

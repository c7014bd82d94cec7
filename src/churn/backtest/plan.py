"""As-of dates of a backtest and the labelled cutoffs their recipes need."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, ClassVar

import pandas as pd

from churn.config import Config
from churn.errors import ConfigError
from churn.features import FeatureConfig
from churn.labels import LabelConfig
from churn.training_table import Schedule, build

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BacktestConfig(Config):
    """How many as-of dates, how far apart, and the bootstrap (``conf/backtest.yaml``)."""

    section: ClassVar[str] = "backtest"

    dates: int = 4
    step_days: int = 30
    bootstrap: int = 1000
    confidence: float = 0.95

    def validate(self) -> None:
        """Raise ConfigError on values that cannot lay out a backtest."""
        for name in ("dates", "step_days", "bootstrap"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"backtest.{name}: expected a whole number >= 1; got {value!r}")
        if not 0.5 <= self.confidence < 1:
            raise ConfigError(
                f"backtest.confidence: expected a level in [0.5, 1); got {self.confidence!r}"
            )


@dataclass(frozen=True)
class BacktestPlan:
    """The as-of dates (latest first) and every cutoff the feature query must cover."""

    dates: tuple[pd.Timestamp, ...]
    cutoffs: tuple[pd.Timestamp, ...]  # latest first: the dates and each date's recipe cutoffs
    horizon_days: int
    step_days: int  # the recipe's cutoff step (label.step_days)
    n_cutoffs: int  # the recipe's labelled cutoffs (label.n_cutoffs)

    def recipe_cutoffs(self, date: pd.Timestamp) -> list[pd.Timestamp]:
        """The labelled cutoffs ``pipelines.train`` would use with data end ``date``.

        ``date - H - k * step`` for ``k < n_cutoffs``, latest first: every label window ends
        by ``date``. Cutoffs before the data start (not in :attr:`cutoffs`) are left out.
        """
        first = date - pd.Timedelta(days=self.horizon_days)
        grid = [first - pd.Timedelta(days=k * self.step_days) for k in range(self.n_cutoffs)]
        known = set(self.cutoffs)
        return [c for c in grid if c in known]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dates."""
        return {
            "dates": [str(d.date()) for d in self.dates],
            "cutoffs": [str(c.date()) for c in self.cutoffs],
            "horizon_days": self.horizon_days,
            "step_days": self.step_days,
            "n_cutoffs": self.n_cutoffs,
        }


def plan_backtest(
    end: pd.Timestamp, label: LabelConfig, config: BacktestConfig, *, start: pd.Timestamp
) -> BacktestPlan:
    """The as-of dates ``A_j = E - H - j * step`` and the cutoffs of each date's recipe.

    Every date's label window ``[A, A + H)`` lies inside the data. At each date the recipe sees
    what ``pipelines.train`` would see with data end ``A``: the labelled cutoffs
    ``A - H - k * label.step_days`` for ``k < label.n_cutoffs``. The union of the dates and those
    cutoffs is built by one feature query.

    Args:
        end: the data end ``E``.
        label: horizon, cutoff step and number of labelled cutoffs of the recipe.
        config: number of dates and their spacing.
        start: the first day of the data: no date or cutoff lies before it.

    Raises:
        ConfigError: when the earliest date would lie before the data starts.
    """
    horizon = pd.Timedelta(days=label.horizon_days)
    first = pd.Timestamp(end).normalize() - horizon
    dates = [first - pd.Timedelta(days=j * config.step_days) for j in range(config.dates)]
    if dates[-1] - horizon <= start:
        raise ConfigError(
            f"backtest: {config.dates} dates every {config.step_days} days back from "
            f"{dates[0].date()} reach {dates[-1].date()}, which leaves no labelled cutoff after "
            f"the data start {pd.Timestamp(start).date()} (horizon {label.horizon_days} days); "
            "use fewer backtest.dates, a shorter backtest.step_days or more history"
        )
    cutoffs = set(dates)
    for date in dates:
        for k in range(label.n_cutoffs):
            cutoff = date - horizon - pd.Timedelta(days=k * label.step_days)
            if cutoff > start:
                cutoffs.add(cutoff)
    plan = BacktestPlan(
        tuple(dates),
        tuple(sorted(cutoffs, reverse=True)),
        label.horizon_days,
        label.step_days,
        label.n_cutoffs,
    )
    log.info(
        "backtest: %d as-of dates %s..%s; one feature query over %d cutoffs",
        len(dates),
        dates[-1].date(),
        dates[0].date(),
        len(plan.cutoffs),
    )
    return plan


def backtest_table(
    planned: Schedule, label: LabelConfig, features: FeatureConfig, config: BacktestConfig
) -> tuple[BacktestPlan, pd.DataFrame]:
    """The plan for the input of ``planned`` and its labelled table: one query, every cutoff."""
    transactions = planned.tables.transactions
    start = pd.Timestamp(transactions.timestamp.min().to_pyarrow().as_py()).normalize()
    plan = plan_backtest(planned.end, label, config, start=start)
    table = build(
        transactions,
        list(plan.cutoffs),
        features,
        label,
        end=planned.end,
        events=planned.tables.events,
    )
    return plan, table.to_pandas()

"""The rolling backtest: the production recipe replayed at past as-of dates (docs/backtest.md).

:mod:`~churn.backtest.plan` lays out the as-of dates and the cutoffs their recipes need (one
feature query covers them all); :mod:`~churn.backtest.replay` fits the deployed recipe on what
was known before each date and scores the customers at it; :mod:`~churn.backtest.summary`
measures every scorer per date and pooled, with paired bootstrap intervals for the difference
between the deployed scorer and the best baseline; :mod:`~churn.backtest.plots` draws each
metric over the dates.
"""

from churn.backtest.output import write_backtest
from churn.backtest.plan import BacktestConfig, BacktestPlan, backtest_table, plan_backtest
from churn.backtest.plots import plot_backtest
from churn.backtest.replay import Replay, replay
from churn.backtest.summary import POOLED, BacktestSummary, summarise

__all__ = [
    "POOLED",
    "BacktestConfig",
    "BacktestPlan",
    "BacktestSummary",
    "Replay",
    "backtest_table",
    "plan_backtest",
    "plot_backtest",
    "replay",
    "summarise",
    "write_backtest",
]

"""Exit surveys in the demo worlds: why the customers who leave say they left (docs/campaigns.md).

Only when a world moves forward (:func:`churn.synthetic.campaign.simulate_campaigns`), so the
generated history stays as it was: every customer whose dropout date lies on or after the
generator's data end and before the new data end answers with probability ``response_rate``,
``delay`` days after the dropout date (exponential, mean ``delay_days_mean``). The answer is an
``exit_survey`` event whose value is the 0-based index of the reason in ``data.exit_reasons``;
it is written when it falls inside the simulated window ``[old data end, new data end)`` (an
answer after the new end is written by the run whose window reaches it).

The reason is drawn from ``weights`` multiplied by the ``boosts`` of the customer's drivers:

* ``complaint``: complaint-prone (ground truth ``complaint_prob`` at least ``complaint_factor``
  times the world's ``complaint_rate_mean``) or a complaint in the history before leaving;
* ``high_spend``: ``spend_median`` in the top ``1 - high_spend_quantile`` of the buyers;
* ``young``: gone within ``young_days`` of the first purchase.

Every draw comes from one stream per customer (``SeedSequence(world seed, a fixed stream number,
hash of the customer id)``): whether they answer, the delay and the reason are decided once, so
reruns and later windows agree, and one customer's answer does not depend on anyone else's.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from churn.config import Config
from churn.data.contract import EXIT_SURVEY_TYPE
from churn.errors import ConfigError
from churn.synthetic.keys import customer_key
from churn.synthetic.state import WorldState, days_of
from churn.synthetic.tables import _timestamps

log = logging.getLogger(__name__)

DRIVERS = ("complaint", "high_spend", "young")
_SURVEY_STREAM = 9_173  # keeps the survey stream apart from any other stream of a seed


@dataclass(frozen=True)
class ExitSurveyConfig(Config):
    """Who answers an exit survey, when, and with which reason (``campaign.exit_survey``)."""

    section: ClassVar[str] = "campaign.exit_survey"

    response_rate: float = 0.0
    delay_days_mean: float = 5.0
    weights: Mapping[str, float] = field(default_factory=dict)
    boosts: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    complaint_factor: float = 2.0
    high_spend_quantile: float = 0.75
    young_days: int = 120

    def validate(self) -> None:
        """Raise ConfigError for values that cannot describe exit surveys."""
        where = self.section
        if not 0 <= self.response_rate <= 1:
            raise ConfigError(
                f"{where}.response_rate: expected a probability in [0, 1]; got {self.response_rate}"
            )
        if not (math.isfinite(self.delay_days_mean) and self.delay_days_mean > 0):
            raise ConfigError(
                f"{where}.delay_days_mean: expected a finite number of days > 0; got "
                f"{self.delay_days_mean}"
            )
        _check_factors(f"{where}.weights", self.weights)
        if self.response_rate > 0 and not any(float(w) > 0 for w in self.weights.values()):
            raise ConfigError(
                f"{where}.weights: expected a positive weight for at least one reason when "
                f"response_rate > 0; got {dict(self.weights)!r}"
            )
        if not isinstance(self.boosts, Mapping) or not set(map(str, self.boosts)) <= set(DRIVERS):
            raise ConfigError(
                f"{where}.boosts: expected a mapping of drivers among {list(DRIVERS)} to reason "
                f"multipliers; got {self.boosts!r}"
            )
        for driver, factors in self.boosts.items():
            _check_factors(f"{where}.boosts.{driver}", factors)
        if not (math.isfinite(self.complaint_factor) and self.complaint_factor > 0):
            raise ConfigError(
                f"{where}.complaint_factor: expected a finite number > 0; got "
                f"{self.complaint_factor}"
            )
        if not 0 <= self.high_spend_quantile <= 1:
            raise ConfigError(
                f"{where}.high_spend_quantile: expected a share in [0, 1]; got "
                f"{self.high_spend_quantile}"
            )
        days = self.young_days
        if not isinstance(days, int) or isinstance(days, bool) or days < 0:
            raise ConfigError(f"{where}.young_days: expected a whole number >= 0; got {days!r}")

    def check_reasons(self, reasons: Sequence[str]) -> None:
        """Raise ConfigError when a weight or boost names a reason not in ``reasons``."""
        named = {str(r) for r in self.weights} | {
            str(r) for factors in self.boosts.values() for r in factors
        }
        unknown = sorted(named - set(reasons))
        if self.response_rate > 0 and unknown:
            raise ConfigError(
                f"{self.section}: reasons {unknown} are not among data.exit_reasons; expected "
                f"some of {list(reasons)}"
            )


def _check_factors(where: str, values: Any) -> None:
    if not isinstance(values, Mapping):
        raise ConfigError(f"{where}: expected a mapping of reason names to numbers; got {values!r}")
    for name, value in values.items():
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not ok or not math.isfinite(value) or value < 0:
            raise ConfigError(f"{where}.{name}: expected a finite number >= 0; got {value!r}")


def exit_surveys(
    state: WorldState,
    config: ExitSurveyConfig,
    reasons: Sequence[str],
    *,
    start: pd.Timestamp,
    end: pd.Timestamp,
) -> pa.Table:
    """The ``exit_survey`` events in ``[start, end)``, in the schema of ``state.events``.

    Args:
        state: the world, after the run's exports changed its paths and truth.
        config: who answers and how.
        reasons: ``data.exit_reasons``: an answer's value is the index of its reason here.
        start: the window's start (the old data end).
        end: the window's end (the new data end).

    Raises:
        ConfigError: a weight or boost names a reason that is not in ``reasons``.
    """
    config.check_reasons(reasons)
    empty = state.events.schema.empty_table()
    if config.response_rate <= 0:
        return empty
    params, truth = state.params, state.truth
    dropout = days_of(params, truth["dropout_date"])
    generated_end = state.day(pd.Timestamp(params.end_date))
    leaving = (dropout >= generated_end) & (dropout < state.day(end))
    rows = truth.loc[leaving].sort_values("customer_id", kind="stable")
    if rows.empty:
        return empty
    ids = rows["customer_id"].astype(str).to_numpy()
    draws = np.array([_draws(state.seed, cid, config.delay_days_mean) for cid in ids])
    t = days_of(params, rows["dropout_date"]) + draws[:, 1]
    answers = (draws[:, 0] < config.response_rate) & (t >= state.day(start)) & (t < state.day(end))
    weights = _weights(state, rows, config, reasons)
    chosen = _pick(weights, draws[:, 2])
    value = chosen.astype(float)[answers]
    table = pa.table(
        {
            "customer_id": pa.array(ids[answers], pa.string()),
            "timestamp": _timestamps(params, t[answers]),
            "type": pa.array([EXIT_SURVEY_TYPE] * int(answers.sum()), pa.string()),
            "value": pa.array(value, pa.float64()),
        }
    )
    log.info("exit surveys: %d answers of %d customers gone", table.num_rows, len(rows))
    table = table.select(state.events.column_names).cast(state.events.schema)
    return table.take(pc.sort_indices(table["timestamp"]))


def _draws(seed: int, customer_id: str, delay_mean: float) -> tuple[float, float, float]:
    """One customer's answer draw, delay (days) and reason draw, always in this order."""
    stream = np.random.SeedSequence([seed, _SURVEY_STREAM, customer_key(customer_id)])
    rng = np.random.default_rng(stream)
    return float(rng.random()), float(rng.exponential(delay_mean)), float(rng.random())


def drivers(state: WorldState, rows: pd.DataFrame, config: ExitSurveyConfig) -> pd.DataFrame:
    """Per row of the ground truth: which drivers (``complaint, high_spend, young``) it has."""
    params, truth = state.params, state.truth
    ids = rows["customer_id"].astype(str)
    prone = (
        rows["complaint_prob"].to_numpy() >= config.complaint_factor * params.complaint_rate_mean
    )
    events = state.events.filter(pc.equal(state.events["type"], "complaint"))
    events = events.filter(pc.is_in(events["customer_id"], pa.array(ids.unique()))).to_pandas()
    first = events.groupby("customer_id")["timestamp"].min().reindex(ids)
    complained = (first.to_numpy() < rows["dropout_date"].to_numpy()) & first.notna().to_numpy()
    buyers = truth.loc[~truth["never_purchased"].astype(bool), "spend_median"]
    threshold = float(buyers.quantile(config.high_spend_quantile)) if len(buyers) else np.inf
    tenure = days_of(params, rows["dropout_date"]) - days_of(params, rows["acquired_at"])
    return pd.DataFrame(
        {
            "complaint": prone | complained,
            "high_spend": rows["spend_median"].to_numpy() >= threshold,
            "young": tenure < config.young_days,
        },
        index=rows.index,
    )


def _weights(
    state: WorldState, rows: pd.DataFrame, config: ExitSurveyConfig, reasons: Sequence[str]
) -> np.ndarray:
    """``(n, len(reasons))`` reason weights: the base weights times each driver's boosts."""
    base = np.array([float(config.weights.get(r, 0.0)) for r in reasons])
    out = np.tile(base, (len(rows), 1))
    has = drivers(state, rows, config)
    for driver, factors in config.boosts.items():
        factor = np.array([float(factors.get(r, 1.0)) for r in reasons])
        out = np.where(has[str(driver)].to_numpy()[:, None], out * factor, out)
    return out


def _pick(weights: np.ndarray, u: np.ndarray) -> np.ndarray:
    """The reason index of each row: where its uniform falls in its cumulative weights."""
    total = weights.sum(axis=1, keepdims=True)
    cumulative = np.cumsum(
        np.divide(weights, total, where=total > 0, out=np.zeros_like(weights)), 1
    )
    chosen = (u[:, None] >= cumulative).sum(axis=1)
    return np.minimum(chosen, weights.shape[1] - 1)

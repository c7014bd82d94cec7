"""A seeded sample of customers, drawn by a hash of their id before the training table is built.

A customer's *key* is the first 16 hex digits (64 bits) of ``md5(f"{seed}:{customer_id}")``,
computed in SQL by the engine (DuckDB's and Spark's ``md5`` agree, and with Python's
:mod:`hashlib`); read as a number it is uniform on ``[0, 1)`` (:func:`key_fraction`). A sample of
``n`` customers is the ``n`` with the smallest keys; it is kept as its largest key, the
*threshold*, so whether a customer is in it depends on their id and the seed alone: not on row
order, the engine, the cutoff or the other customers' rows. Two keys compare as their numbers
do, as strings of lowercase hex digits of one length.

:func:`plan_sample` counts the population at each cutoff (a small query) and picks the sample
(``train.max_customers``: a number, ``auto`` or null); the feature query then computes only the
sampled customers' rows at the training cutoffs (:class:`churn.features.Subset`), and the
recipe trains on :meth:`CustomerSample.select` of its rows. :func:`sample_rows` draws the same
kind of sample from rows already in memory (the backtest).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from churn import model
from churn.errors import ConfigError
from churn.features import Subset, btyd_summary
from churn.labels import LabelConfig, stayed_pairs

log = logging.getLogger(__name__)

AUTO = "auto"
KEY_CHARS = 16  # hex digits of the md5 kept: 64 bits
DEFAULT_MAX_ROWS = 2_500_000  # auto: sampled customers x the labelled cutoffs they appear in


def customer_key(customer_id: ir.Value, seed: int) -> ir.StringValue:
    """A customer's sampling key as an engine expression (see the module docstring)."""
    text = ibis.literal(f"{int(seed)}:") + customer_id.cast("string")
    return text.hexdigest("md5").substr(0, KEY_CHARS)


def key_of(customer_id: object, seed: int) -> str:
    """:func:`customer_key` computed in Python, for ids already in memory."""
    digest = hashlib.md5(f"{int(seed)}:{customer_id}".encode(), usedforsecurity=False)
    return digest.hexdigest()[:KEY_CHARS]


def key_fraction(key: str) -> float:
    """A key read as a number in ``[0, 1)`` (its top 53 bits: a float64 holds them exactly)."""
    return (int(key, 16) >> (4 * KEY_CHARS - 53)) / 2**53


def check_max_customers(value: object, *, where: str = "train.max_customers") -> int | str | None:
    """``value`` as a sample size: a whole number >= 1, ``auto`` or None.

    Raises:
        ConfigError: anything else, saying what came in.
    """
    if value is None or value == AUTO:
        return AUTO if value == AUTO else None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{where}: expected a whole number >= 1, {AUTO!r} or null; got {value!r}")
    return value


def sample_size(
    customers: int, rows: int, *, max_customers: int | str | None, max_rows: int
) -> int:
    """How many of ``customers`` (appearing in ``rows`` rows) to sample.

    A number caps the customers; ``auto`` samples the share of customers that keeps their rows
    (``rows`` times that share, each customer's rows going with them) to about ``max_rows``;
    None samples all of them.
    """
    if max_customers is None or customers == 0:
        return customers
    if max_customers == AUTO:
        if rows <= max_rows:
            return customers
        return max(1, int(customers * max_rows / rows))
    return min(int(max_customers), customers)


@dataclass(frozen=True)
class CustomerSample:
    """The customers with a key at or below ``threshold``, and what the table keeps whole.

    ``full_cutoffs``: cutoffs computed for every customer (the test and calibration cutoffs,
    unless ``train.sample_evaluation``); ``usable``: the cutoffs with enough customers of each
    class in the whole population (the recipe plans its roles on them, as without a sample).
    """

    seed: int
    threshold: str
    customers: int
    population: int
    rows: int  # population rows over every labelled cutoff
    full_cutoffs: tuple[pd.Timestamp, ...] = ()
    usable: tuple[pd.Timestamp, ...] = ()

    def keeps(self, customer_id: ir.Value) -> ir.BooleanValue:
        """Whether each customer of an engine column is in the sample."""
        return customer_key(customer_id, self.seed) <= self.threshold

    def mask(self, customer_ids: Iterable[object]) -> np.ndarray:
        """Whether each id (in memory) is in the sample; the same answer as :meth:`keeps`."""
        ids = pd.Series(list(customer_ids), dtype="string")
        codes, unique = pd.factorize(ids)
        inside = np.array([key_of(i, self.seed) <= self.threshold for i in unique], dtype=bool)
        return inside[codes] if len(codes) else np.zeros(0, dtype=bool)

    def select(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The rows of ``frame`` whose ``customer_id`` is in the sample."""
        return frame[self.mask(frame["customer_id"])]

    def subset(self) -> Subset:
        """What the feature query computes: the sample everywhere, all at ``full_cutoffs``."""
        return Subset(self.keeps, self.full_cutoffs)

    @property
    def fraction(self) -> float:
        """The sampled share of the population's customers."""
        return self.customers / self.population if self.population else 1.0


def sample_rows(
    frame: pd.DataFrame, *, max_customers: int | str | None, max_rows: int, seed: int
) -> pd.DataFrame:
    """All rows of the sample :func:`sample_size` picks among ``frame``'s customers.

    The same draw as :func:`plan_sample` (the smallest keys), on rows in memory; ``frame`` itself
    when every customer is kept.
    """
    ids = pd.unique(frame["customer_id"].astype(str))
    n = sample_size(len(ids), len(frame), max_customers=max_customers, max_rows=max_rows)
    if n >= len(ids):
        return frame
    threshold = sorted(key_of(i, seed) for i in ids)[n - 1]
    sample = CustomerSample(seed, threshold, n, len(ids), len(frame))
    log.info("training on a sample of %d of %d customers (seed %d)", n, len(ids), seed)
    return sample.select(frame)


def plan_sample(
    transactions: ir.Table,
    cutoffs: Sequence[pd.Timestamp],
    label_config: LabelConfig,
    *,
    end: pd.Timestamp,
    max_customers: int | str | None,
    max_rows: int = DEFAULT_MAX_ROWS,
    sample_evaluation: bool = False,
    min_class_rows: int = 1,
    seed: int,
) -> CustomerSample | None:
    """The training sample for these labelled cutoffs, or None when every customer is kept.

    Counts the population and its churned customers at each cutoff (small queries: three
    numbers per buyer and cutoff, and the label pairs), picks the sample size
    (:func:`sample_size` over every customer of the population at any labelled cutoff) and
    plans the cutoff roles on the whole population, so the test and calibration cutoffs can be
    kept whole (``sample_evaluation`` false).
    """
    max_customers = check_max_customers(max_customers)
    if max_customers is None:
        return None
    population, counts = _population(transactions, cutoffs, label_config, end=end)
    customers = int(population.customer_id.nunique().to_pyarrow().as_py())
    rows = int(counts["rows"].sum())
    n = sample_size(customers, rows, max_customers=max_customers, max_rows=max_rows)
    if n >= customers:
        log.info(
            "train.max_customers=%s: every customer trains (%d customers, %d population rows "
            "over %d cutoffs; auto samples above %d rows)",
            max_customers,
            customers,
            rows,
            len(cutoffs),
            max_rows,
        )
        return None
    keys = population.select("customer_id").distinct()
    keys = keys.select(key=customer_key(keys.customer_id, seed))
    # the n-th smallest key (no OFFSET: ibis's Spark backend mishandles it)
    threshold = str(keys.order_by("key").limit(n).key.max().to_pyarrow().as_py())
    enough = (counts["churned"] >= min_class_rows) & (
        counts["rows"] - counts["churned"] >= min_class_rows
    )
    usable = tuple(pd.Timestamp(c) for c in counts.loc[enough, "cutoff"])
    full = () if sample_evaluation or not usable else _evaluated(cutoffs, usable, label_config, end)
    sample = CustomerSample(seed, threshold, n, customers, rows, full, usable)
    sampled_rows = counts.loc[~counts["cutoff"].isin(full), "rows"].sum()
    whole_rows = counts.loc[counts["cutoff"].isin(full), "rows"].sum()
    log.info(
        "train.max_customers=%s: a sample of %d of %d customers (%.1f%%, seed %d): about %d "
        "training rows of %d; the table about %d rows (%s)",
        max_customers,
        n,
        customers,
        100 * sample.fraction,
        seed,
        round(rows * sample.fraction),
        rows,
        round(sampled_rows * sample.fraction + whole_rows),
        "every cutoff sampled"
        if not full
        else "whole at " + ", ".join(str(c.date()) for c in full),
    )
    return sample


def _population(
    transactions: ir.Table,
    cutoffs: Sequence[pd.Timestamp],
    label_config: LabelConfig,
    *,
    end: pd.Timestamp,
) -> tuple[ir.Table, pd.DataFrame]:
    """The population's (customer_id, cutoff) pairs (lazy) and its rows and churned per cutoff.

    The population rule is the feature query's: a purchase within ``active_within_days``
    before the cutoff (``c - last_ts <= A`` holds exactly when the last purchase day does, as
    cutoffs are midnights).
    """
    rule = label_config.purchase_rule
    summary = btyd_summary(transactions, cutoffs, purchase_rule=rule)
    within = label_config.active_within_days
    if within is not None:
        summary = summary.filter(summary.c_days - summary.last_day <= within)
    population = summary.select("customer_id", "cutoff")
    stayed = stayed_pairs(
        transactions, cutoffs, horizon_days=label_config.horizon_days, end=end, purchase_rule=rule
    ).mutate(stayed=ibis.literal(1, "int64"))
    joined = population.left_join(
        stayed,
        [population.customer_id == stayed.customer_id, population.cutoff == stayed.cutoff],
    ).select(population.cutoff, stayed.stayed)
    counts = joined.group_by("cutoff").aggregate(
        rows=joined.count(), retained=joined.stayed.count()
    )
    frame = counts.to_pandas()
    frame["cutoff"] = pd.to_datetime(frame["cutoff"])
    frame["churned"] = frame["rows"] - frame["retained"]
    return population, frame.sort_values("cutoff", ignore_index=True)


def _evaluated(
    cutoffs: Sequence[pd.Timestamp],
    usable: Sequence[pd.Timestamp],
    label_config: LabelConfig,
    end: pd.Timestamp,
) -> tuple[pd.Timestamp, ...]:
    """The cutoffs the recipe tests or calibrates on (both recipes), latest first."""
    evaluation, deployment = model.plan_roles(
        cutoffs,
        end=end,
        horizon_days=label_config.horizon_days,
        step_days=label_config.step_days,
        usable=usable,
    )
    found: set[Any] = {evaluation.target, evaluation.calibration, deployment.calibration}
    return tuple(sorted((c for c in found if c is not None), reverse=True))

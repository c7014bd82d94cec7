"""What happened after an export: each customer's purchases and spend in the outcome window.

The window of an export dated ``A`` with horizon ``H`` is ``[A, A + H)``, the label window of a
cutoff at ``A``: a customer *churned* when they made no purchase in it (a row whose amount
satisfies ``label.purchase_rule``; refunds never count), computed by the label code itself
(:func:`churn.labels.label_outcomes`), so "churned" means here what the model was trained to
predict. The realised spend is the sum of every amount in the window (refunds net out), and the
realised margin is ``offers.margin`` times that spend.

A customer of the export who appears nowhere in the data (no transaction at any time and not in
the customers table: deleted from the source) has no observable outcome: they are flagged
``in_data = False`` and left out of both arms and of the model's realised performance.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from churn import engine, labels
from churn.data import Dataset

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Observed:
    """The data the outcomes are read from.

    Attributes:
        transactions: the validated transactions as an engine table.
        end: the data end ``E`` (exclusive), as training and scoring compute it.
        known: every customer id the data holds (transactions and the customers table).
        purchase_rule: which amounts are purchases (``label.purchase_rule``).
        events: the validated events on the same engine (None without an events table).
    """

    transactions: ir.Table
    end: pd.Timestamp
    known: frozenset[str]
    purchase_rule: str
    events: ir.Table | None = None


def observe(
    dataset: Dataset,
    engine_config: Mapping[str, Any],
    *,
    end_date: Any = None,
    purchase_rule: str = "positive",
) -> Observed:
    """The loaded data on the engine, its data end and the customers it knows.

    Args:
        dataset: the loaded, validated input.
        engine_config: the ``engine`` node.
        end_date: the data end when the config fixes it (``data.end_date``).
        purchase_rule: ``label.purchase_rule``.
    """
    con = engine.connect(engine_config)
    tables = engine.register(
        con, dataset.transactions, customers=dataset.customers, events=dataset.events
    )
    end = labels.data_end(tables.transactions, end_date=end_date, purchase_rule=purchase_rule)
    known = set(dataset.transactions.column("customer_id").unique().to_pylist())
    if dataset.customers is not None and "customer_id" in dataset.customers.column_names:
        known |= set(dataset.customers.column("customer_id").unique().to_pylist())
    log.info("outcomes: data end %s, %d customers in the data", end.date(), len(known))
    ids = frozenset(str(k) for k in known)
    return Observed(tables.transactions, end, ids, purchase_rule, tables.events)


def window_outcomes(observed: Observed, as_of: pd.Timestamp, horizon_days: int) -> pd.DataFrame:
    """Per customer with any row in ``[as_of, as_of + H)``: ``customer_id, stayed, spend``.

    ``stayed`` is True for a purchase in the window (:func:`churn.labels.label_outcomes`);
    ``spend`` sums every amount in the window. Customers without a row in it are absent.

    Raises:
        ConfigError: the window reaches past the data end.
    """
    day = pd.Timestamp(as_of)
    stayed = labels.label_outcomes(
        observed.transactions,
        [day],
        horizon_days=horizon_days,
        end=observed.end,
        purchase_rule=observed.purchase_rule,
    ).to_pandas()
    tx = observed.transactions
    start = ibis.literal(day.to_pydatetime())
    in_window = tx.filter(
        (tx.timestamp >= start) & (tx.timestamp < start + ibis.interval(days=horizon_days))
    )
    spend = in_window.group_by("customer_id").aggregate(spend=in_window.amount.sum()).to_pandas()
    spend["customer_id"] = spend["customer_id"].astype("string")
    kept = set(stayed["customer_id"].astype(str))
    spend["stayed"] = spend["customer_id"].isin(kept)
    return spend[["customer_id", "stayed", "spend"]].sort_values("customer_id", ignore_index=True)


def join_outcomes(
    scores: pd.DataFrame, window: pd.DataFrame, known: frozenset[str], *, margin: float
) -> pd.DataFrame:
    """The export's rows with what happened: ``in_data``, ``churned``, ``spend``, ``margin_value``.

    ``churned`` is 1.0 (no purchase in the window) or 0.0, and NaN for a customer not in the
    data; ``spend`` is 0 without any row in the window; ``margin_value = margin x spend``.
    """
    out = scores.copy()
    ids = out["customer_id"].astype(str)
    out["in_data"] = ids.isin(known).to_numpy()
    indexed = window.set_index(window["customer_id"].astype(str))
    stayed = ids.map(indexed["stayed"]).fillna(False).astype(bool)
    out["churned"] = (~stayed).astype("float64").where(out["in_data"])
    out["spend"] = ids.map(indexed["spend"]).fillna(0.0).astype("float64").to_numpy()
    out["margin_value"] = margin * out["spend"]
    return out

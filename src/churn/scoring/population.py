"""Who the input knows at the as-of date: buyers, ``no_purchase`` sign-ups, who cannot be scored."""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from churn.data import Dataset
from churn.purchases import POSITIVE, is_purchase

log = logging.getLogger(__name__)


def account_for_customers(
    transactions: pa.Table,
    *,
    as_of: pd.Timestamp,
    buyers: Collection[str],
    customers: pa.Table | None = None,
    rejected_ids: Collection[str] = (),
) -> tuple[list[str], pd.DataFrame]:
    """Who else the input knows: ``no_purchase`` customers and those that cannot be scored.

    Args:
        transactions: the validated transactions.
        as_of: the as-of date.
        buyers: customers with a purchase before ``as_of`` (they get features).
        customers: the optional customers table (``customer_id``, ``signup_date``).
        rejected_ids: customer ids of rows rejected at load.

    Returns:
        The ``no_purchase`` ids (known before ``as_of``, no purchase before it) and the rejects:
        ``customer_id, reason`` for customers first seen at or after ``as_of`` or only in
        rejected rows.
    """
    bought = set(map(str, buyers))
    first = transactions.group_by("customer_id").aggregate([("timestamp", "min")]).to_pandas()
    first_seen = pd.Series(
        pd.to_datetime(first["timestamp_min"]).to_numpy(), index=first["customer_id"].astype(str)
    )
    known = set(first_seen.index[first_seen < as_of])
    later = set(first_seen.index[first_seen >= as_of])
    signed_later: set[str] = set()
    if customers is not None and customers.num_rows:
        table = customers.to_pandas()
        ids = table["customer_id"].astype(str)
        if "signup_date" in table.columns:
            signup = pd.to_datetime(table["signup_date"])
            before = (signup.isna() | (signup < as_of)).to_numpy()
        else:
            before = np.ones(len(table), dtype=bool)
        known |= set(ids[before])
        signed_later = set(ids[~before])
    no_purchase = sorted(known - bought)
    accounted = bought | set(no_purchase)
    reasons_by_id: dict[str, str] = {}
    for cid in sorted((later | signed_later) - accounted):
        reasons_by_id[cid] = (
            f"not yet a customer on {as_of.date()}: first seen at or after the as-of date"
        )
    for cid in sorted(set(map(str, rejected_ids)) - accounted - set(reasons_by_id)):
        reasons_by_id[cid] = (
            "every row of this customer was rejected at load (the rows: the file named "
            "input.rejected_rows_file in manifest.json)"
        )
    rejects = pd.DataFrame(
        {"customer_id": list(reasons_by_id), "reason": list(reasons_by_id.values())},
        dtype="string",
    )
    return no_purchase, rejects


def buyers_before(
    transactions: pa.Table, as_of: pd.Timestamp, *, purchase_rule: str = POSITIVE
) -> list[str]:
    """Customers with a purchase (under ``purchase_rule``) before ``as_of``."""
    import pyarrow.compute as pc

    before = pc.less(
        transactions["timestamp"], pa.scalar(as_of.to_pydatetime(), pa.timestamp("us"))
    )
    bought = pc.and_(before, is_purchase(transactions["amount"], purchase_rule))
    return sorted(pc.unique(transactions.filter(bought)["customer_id"]).to_pylist())


@dataclass(frozen=True)
class Population:
    """Who else the input knows at the as-of date, and the contact policy's lists."""

    no_purchase: list[str]
    rejects: pd.DataFrame
    attributes: pd.DataFrame | None
    suppressed: set[str]
    cooled: set[str]
    earlier: dict[str, str] = field(default_factory=dict)  # customer -> open earlier campaign

    def contact(self) -> dict[str, Any]:
        """The keyword arguments the scorers take."""
        return {
            "no_purchase": self.no_purchase,
            "attributes": self.attributes,
            "suppressed": self.suppressed,
            "cooled": self.cooled,
            "earlier": self.earlier,
        }


def population_at(
    dataset: Dataset,
    as_of: pd.Timestamp,
    buyers: Collection[str],
    *,
    customer_id_column: str,
    id_normalization: str = "none",
    suppressed: set[str],
    cooled: set[str],
    earlier: dict[str, str] | None = None,
) -> Population:
    """Account for every customer the input knows at ``as_of`` (:func:`account_for_customers`).

    Args:
        dataset: the loaded input.
        as_of: the as-of date.
        buyers: customers with a purchase before ``as_of`` (they get features).
        customer_id_column: the source's own name of the transactions' customer id (the
            rejects keep source names).
        id_normalization: ``data.id_normalization``, applied to the rejected rows' raw ids so
            they name the same customers as the validated rows.
        suppressed: opted-out customer ids.
        cooled: customer ids offered within the cooldown.
        earlier: customer id -> as-of date of an earlier campaign whose outcome window is open.
    """
    no_purchase, rejects = account_for_customers(
        dataset.transactions,
        as_of=as_of,
        buyers=buyers,
        customers=dataset.customers,
        rejected_ids=rejected_ids(
            dataset.rejects, customer_id_column, id_normalization=id_normalization
        ),
    )
    return Population(
        no_purchase,
        rejects,
        attributes_of(dataset.customers),
        suppressed,
        cooled,
        dict(earlier or {}),
    )


def rejected_ids(
    rejects: pd.DataFrame, source_column: str, *, id_normalization: str = "none"
) -> list[str]:
    """The customer ids of rejected transaction rows (under the source's column name).

    The raw ids are read the way validation reads ids (:mod:`churn.data.contract`): trimmed of
    spaces, tabs and line breaks, blank as missing, and with ``strip_numeric_suffix`` an integer
    written with a zero fraction (``'2.00'``) as that integer.
    """
    if rejects.empty or "table" not in rejects.columns or source_column not in rejects.columns:
        return []
    rows = rejects[rejects["table"] == "transactions"][source_column].dropna().astype(str)
    ids = rows.str.strip(" \t\n\v\f\r")
    if id_normalization == "strip_numeric_suffix":
        ids = ids.str.replace(r"^(-?[0-9]+)\.0+$", r"\1", regex=True)
    return sorted(set(ids) - {""})


def attributes_of(customers: pa.Table | None) -> pd.DataFrame | None:
    """The customers table indexed by customer id: the attributes offers may require."""
    if customers is None:
        return None
    frame = customers.to_pandas().drop_duplicates("customer_id")
    return frame.set_index(frame["customer_id"].astype(str)).drop(columns="customer_id")

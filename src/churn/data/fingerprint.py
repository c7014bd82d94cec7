"""A stable fingerprint of the validated transactions: rows, customers, date range, hash."""

from __future__ import annotations

import hashlib
import logging
from typing import Any

import pyarrow as pa

from churn.data.sql import _connect, _ident
from churn.errors import DataError

log = logging.getLogger(__name__)


def fingerprint(transactions: pa.Table) -> dict[str, Any]:
    """Summarise a transactions table for tracking: counts, date range and a content hash.

    The hash is the same for the same rows in any order and changes when any value (or the
    column names) changes; it is built from MD5 digests of each row's text, so it does not
    depend on the DuckDB version.

    Args:
        transactions: the validated transactions (:attr:`Dataset.transactions`).

    Returns:
        ``rows``, ``customers`` (distinct customer ids), ``first_timestamp`` and
        ``last_timestamp`` (ISO strings, None when empty) and ``hash`` (hex string).

    Raises:
        DataError: the table lacks customer_id or timestamp.
    """
    if not isinstance(transactions, pa.Table):
        raise TypeError(f"fingerprint: expected a pyarrow.Table; got {type(transactions).__name__}")
    missing = [c for c in ("customer_id", "timestamp") if c not in transactions.column_names]
    if missing:
        raise DataError(
            f"fingerprint: expected columns customer_id and timestamp; {', '.join(missing)} "
            f"missing from columns {', '.join(transactions.column_names)}"
        )
    row_text = "concat_ws(chr(31), {})".format(
        ", ".join(
            f"coalesce(CAST({_ident(c)} AS VARCHAR), chr(0))" for c in transactions.column_names
        )
    )
    with _connect() as con:
        con.register("__churn_fingerprint", transactions)
        # Summing the two 64-bit halves of each row's digest is order-independent and, unlike
        # XOR, counts repeated rows.
        row = con.execute(
            f"""SELECT count(*), count(DISTINCT customer_id),
                       CAST(min("timestamp") AS TIMESTAMP), CAST(max("timestamp") AS TIMESTAMP),
                       CAST(sum(CAST(h >> 64 AS HUGEINT)) AS VARCHAR),
                       CAST(sum(CAST(h & CAST({2**64 - 1} AS UHUGEINT) AS HUGEINT)) AS VARCHAR)
                FROM (SELECT customer_id, "timestamp", md5_number({row_text}) AS h
                      FROM __churn_fingerprint)"""
        ).fetchone()
    if row is None:  # an aggregate always returns a row
        raise RuntimeError("fingerprint: the aggregate query returned nothing")
    rows, customers, first, last, high, low = row
    schema = ",".join(f"{f.name}:{f.type}" for f in transactions.schema)
    digest = hashlib.sha256(f"{schema}|{rows}|{high}|{low}".encode()).hexdigest()
    return {
        "rows": int(rows),
        "customers": int(customers),
        "first_timestamp": first.isoformat() if first is not None else None,
        "last_timestamp": last.isoformat() if last is not None else None,
        "hash": digest,
    }

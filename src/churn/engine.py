"""The query engine that runs the feature definitions (ibis backends).

DuckDB (embedded) is the default; the same ibis expressions run unchanged on other backends.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from churn.errors import ConfigError

log = logging.getLogger(__name__)

ENGINES = ("duckdb",)


@dataclass(frozen=True)
class Tables:
    """The validated input as tables of one engine."""

    transactions: ir.Table
    customers: ir.Table | None
    events: ir.Table | None


def connect(config: Mapping[str, Any]) -> ibis.BaseBackend:
    """Open the engine named by ``config['name']`` (``conf/engine``)."""
    name = config.get("name")
    if name not in ENGINES:
        raise ConfigError(f"engine.name: expected one of {list(ENGINES)}; got {name!r}")
    settings: dict[str, Any] = {}
    if config.get("threads") is not None:
        settings["threads"] = int(config["threads"])
    if config.get("memory_limit") is not None:
        settings["memory_limit"] = str(config["memory_limit"])
    con = ibis.duckdb.connect(**settings)
    log.info("engine: duckdb %s", settings or "(defaults)")
    return con


def register(
    con: ibis.BaseBackend,
    transactions: pa.Table,
    *,
    customers: pa.Table | None = None,
    events: pa.Table | None = None,
) -> Tables:
    """Make the validated Arrow tables available to the engine as ibis tables."""

    def table(name: str, data: pa.Table | None) -> ir.Table | None:
        return None if data is None else con.create_table(name, data, temp=True, overwrite=True)

    tx = table("transactions", transactions)
    if tx is None:  # for the type checker: transactions are always given
        raise ConfigError("register: transactions are required")
    return Tables(tx, table("customers", customers), table("events", events))

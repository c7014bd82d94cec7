"""The query engine that runs the feature definitions (ibis backends).

DuckDB (embedded) is the default; the same ibis expressions run unchanged on Apache Spark
(``engine=spark``: a ``local[N]`` session by default, or a cluster by its master URL).
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.parquet as pq

from churn.errors import ConfigError

log = logging.getLogger(__name__)

ENGINES = ("duckdb", "spark")


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
    if name == "spark":
        _teach_spark_bit_or()
        return ibis.pyspark.connect(spark_session(config))
    settings: dict[str, Any] = {}
    if config.get("threads") is not None:
        settings["threads"] = int(config["threads"])
    if config.get("memory_limit") is not None:
        settings["memory_limit"] = str(config["memory_limit"])
    con = ibis.duckdb.connect(**settings)
    log.info("engine: duckdb %s", settings or "(defaults)")
    return con


def _teach_spark_bit_or() -> None:
    """Let ibis compile the ``bit_or`` aggregate for Spark.

    Spark SQL has had ``bit_or`` since 3.0 and ibis compiles it for Databricks (a subclass of
    its PySpark compiler), but ibis 12's PySpark compiler has no rule for it. The feature
    query uses it to count active periods; without this, Spark fails to compile the query.
    """
    from ibis.backends.sql.compilers.pyspark import PySparkCompiler

    def visit_bit_or(self: Any, op: Any, *, arg: Any, where: Any, **_: Any) -> Any:
        return self.agg["bit_or"](arg, where=where)

    PySparkCompiler.visit_BitOr = visit_bit_or


def spark_session(config: Mapping[str, Any]) -> Any:
    """The Spark session of ``engine=spark`` (reused when one is already running).

    Workers run this interpreter (``PYSPARK_PYTHON``), so they have the same packages; a local
    master binds to 127.0.0.1 unless ``SPARK_LOCAL_IP`` says otherwise.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError as err:
        raise ConfigError(
            "engine=spark needs pyspark: pip install -c constraints.txt 'pyspark==4.0.5'"
        ) from err
    master = str(config.get("master") or "local[2]")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    if master.startswith("local"):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    builder = SparkSession.builder.master(master).appName(str(config.get("app_name") or "churn"))
    for key, value in dict(config.get("conf") or {}).items():
        builder = builder.config(
            str(key), str(value).lower() if isinstance(value, bool) else str(value)
        )
    session = builder.getOrCreate()
    log.info("engine: spark %s (Spark %s)", master, session.version)
    return session


def register(
    con: ibis.BaseBackend,
    transactions: pa.Table,
    *,
    customers: pa.Table | None = None,
    events: pa.Table | None = None,
) -> Tables:
    """Make the validated Arrow tables available to the engine as ibis tables."""

    def table(name: str, data: pa.Table | None) -> ir.Table | None:
        if data is None:
            return None
        if con.name == "pyspark":
            # Handed over as Parquet, not through the driver's JVM heap: Spark reads the file
            # in parallel (a 15M-row Arrow table sent with createDataFrame exhausts the heap).
            folder = Path(tempfile.mkdtemp(prefix=f"churn-spark-{name}-"))
            atexit.register(shutil.rmtree, folder, ignore_errors=True)
            pq.write_table(data, folder / f"{name}.parquet")
            session = con._session  # ibis exposes no public accessor
            session.read.parquet(str(folder)).createOrReplaceTempView(name)
            return con.table(name)
        return con.create_table(name, data, temp=True, overwrite=True)

    tx = table("transactions", transactions)
    if tx is None:  # for the type checker: transactions are always given
        raise ConfigError("register: transactions are required")
    return Tables(tx, table("customers", customers), table("events", events))

"""Benchmark of the feature engine against straightforward references, same run, same data.

    python benchmarks/features.py [--sizes 10m,50m] [--cutoffs 1,12] [--repeats 3]
        [--methods parquet,sql,engine,engine_btyd,pandas] [--memory-limit 1GB] [--check]

Data: the demo world generated at 640k customers (about 10M observed transactions) and 3.2M
customers (about 50M), cached under ``data/benchmarks/``. Every measurement runs in a fresh
process (so peak RSS is its own) and reads the Parquet files directly (out of core). Methods:

* ``parquet``: the plain Parquet read of the needed columns into memory (the I/O floor);
* ``sql``: a hand-written DuckDB SQL query of the same features (the reference to beat);
* ``engine``: ``churn.features.build_features`` (ibis on DuckDB), BG/NBD off, as the SQL;
* ``engine_btyd``: the same with the BG/NBD features (a fit per cutoff) on;
* ``engine_parquet``: ``churn.features.write_features`` (BG/NBD off): the same features
  written to a Parquet file in batches, never holding the whole result (out of core);
* ``engine_parquet_btyd``: the same with BG/NBD on;
* ``pandas``: an idiomatic pandas implementation of the same features (one cutoff only);
* ``spark``: ``build_features`` on Apache Spark ``local[2]`` (BG/NBD off), reading the same
  Parquet files; its time includes starting the session, its RSS adds the JVM's peak.

Figures: the median wall time and peak RSS of ``--repeats`` runs, and ratios against the
references measured in the same run. Each method's libraries are imported before its timer
starts (pandas is imported by this script for all of them). ``--check`` first verifies on
small data that the SQL and the pandas implementations compute the same numbers as the engine.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "benchmarks"
SIZES = {"10m": 640_000, "50m": 3_200_000}
END = pd.Timestamp("2026-01-01")  # the demo world's data end
HORIZON = 90
ACTIVE_WITHIN = 365
WINDOWS = (30, 90, 180, 365)
TREND = 90
EVENT_DAYS = 90


def cutoffs(n: int) -> list[pd.Timestamp]:
    """The training schedule's cutoffs: E - H - k * 30 days."""
    return [END - pd.Timedelta(days=HORIZON + 30 * k) for k in range(n)]


def ensure_data(size: str) -> Path:
    """Generate the benchmark data once (the demo world, seed 0)."""
    folder = DATA / f"tx-{size}"
    if not (folder / "transactions.parquet").exists():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pipelines.generate",
                f"generate.n_customers={SIZES[size]}",
                f"generate.output_dir={folder}",
                f"hydra.run.dir={DATA}/.runs/{size}",
            ],
            check=True,
            cwd=ROOT,
        )
    return folder


# --- the hand-written DuckDB SQL reference ------------------------------------------------------

SQL = """
WITH p AS (
    SELECT customer_id, timestamp, amount, epoch(date_trunc('day', timestamp)) / 86400.0 AS day
    FROM read_parquet('{tx}') WHERE amount > 0
), w AS (
    SELECT *,
        lag(day) OVER (PARTITION BY customer_id ORDER BY timestamp) AS prev_day,
        sum(amount) OVER (PARTITION BY customer_id ORDER BY timestamp
                          ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS spend_so_far
    FROM p
), rows AS (
    SELECT customer_id, timestamp, amount, day,
        prev_day IS NULL OR prev_day <> day AS first_of_day,
        CASE WHEN prev_day IS NULL OR prev_day <> day THEN prev_day END AS prev_day,
        CASE WHEN prev_day IS NULL OR prev_day <> day THEN day - prev_day END AS gap,
        spend_so_far,
        CASE WHEN prev_day IS NULL OR prev_day <> day THEN spend_so_far - amount END
            AS spend_before_day,
        epoch(timestamp) / 86400.0 AS t
    FROM w
    UNION ALL
    SELECT customer_id, timestamp, amount, NULL, false, NULL, NULL, NULL, NULL,
        epoch(timestamp) / 86400.0
    FROM read_parquet('{tx}') WHERE amount < 0
), j AS (
    SELECT r.*, c.cutoff, epoch(c.cutoff) / 86400.0 AS c, epoch(c.cutoff) / 86400.0 - t AS age
    FROM rows r JOIN cutoffs c ON r.timestamp < c.cutoff
), a AS (
    SELECT customer_id, cutoff, max(c) AS c,
        max(c - age) FILTER (amount > 0) AS last_ts,
        min(c - age) FILTER (amount > 0) AS first_ts,
        count(*) FILTER (first_of_day) AS frequency,
        count(*) FILTER (amount > 0) AS n_purchases,
        sum(amount) FILTER (amount > 0) AS monetary_sum,
        stddev_samp(amount) FILTER (amount > 0) AS monetary_std,
        max(amount) FILTER (amount > 0) AS monetary_max,
        -sum(amount) FILTER (amount < 0) AS refunded,
        max(spend_so_far) - max(spend_before_day) AS last_amount,
        min(day) AS first_day, max(day) AS last_day,
        stddev_samp(gap) AS gap_std_days, max(gap) AS gap_max_days, max(prev_day) AS prev_last_day,
        count(DISTINCT floor((c - day - 1) / 30)) FILTER (amount > 0 AND c - day <= 360)
            AS active_months,
        {windows},
        count(*) FILTER (amount > 0 AND age > 90 AND age <= 180) AS prev_n,
        sum(amount) FILTER (amount > 0 AND age > 90 AND age <= 180) AS prev_spend
    FROM j GROUP BY customer_id, cutoff
    HAVING count(*) FILTER (amount > 0) > 0
), cat AS (
    SELECT customer_id, cutoff, count(*) AS category_count, max(n) AS top_category
    FROM (
        SELECT customer_id, cutoff, category, count(*) AS n
        FROM read_parquet('{tx}') t JOIN cutoffs c ON t.timestamp < c.cutoff
        WHERE amount > 0 AND category IS NOT NULL
        GROUP BY customer_id, cutoff, category
    ) GROUP BY customer_id, cutoff
), e AS (
    SELECT customer_id, timestamp, value, type,
        type = 'nps' AND value IS NOT NULL AS is_nps,
        lead(timestamp) OVER (
            PARTITION BY customer_id, type = 'nps' AND value IS NOT NULL ORDER BY timestamp, value
        ) AS next_ts
    FROM read_parquet('{ev}')
), ea AS (
    SELECT customer_id, cutoff,
        count(*) FILTER (type = 'complaint' AND epoch(cutoff) - epoch(timestamp) <= 90 * 86400)
            AS complaints_90d,
        count(*) FILTER (type = 'support_ticket' AND epoch(cutoff) - epoch(timestamp) <= 90 * 86400)
            AS tickets_90d,
        max(value) FILTER (is_nps AND (next_ts IS NULL OR next_ts >= cutoff)) AS last_nps
    FROM e JOIN cutoffs c ON e.timestamp < c.cutoff
    GROUP BY customer_id, cutoff
)
SELECT a.customer_id, a.cutoff,
    c - last_ts AS recency_days, c - first_ts AS tenure_days, frequency, n_purchases,
    monetary_sum, monetary_sum / n_purchases AS monetary_mean, monetary_std, monetary_max,
    last_amount, {window_columns},
    ln((purchases_90d + 1) / (prev_n + 1)) AS purchase_trend_90d,
    ln((coalesce(spend_90d, 0) + 1) / (coalesce(prev_spend, 0) + 1)) AS spend_trend_90d,
    CASE WHEN frequency > 1 THEN (last_day - first_day) / (frequency - 1) END AS gap_mean_days,
    gap_std_days, gap_max_days, last_day - prev_last_day AS gap_last_days,
    (c - last_ts) / CASE WHEN frequency > 1 THEN (last_day - first_day) / (frequency - 1) END
        AS recency_gap_ratio,
    active_months, coalesce(refunded, 0) / monetary_sum AS refund_share,
    category_count, top_category / n_purchases AS top_category_share,
    CASE WHEN c - first_ts < 90 THEN 'new'
         WHEN c - last_ts > 60 AND (frequency < 2
              OR c - last_ts > 2 * (last_day - first_day) / (frequency - 1)) THEN 'lapsing'
         ELSE 'established' END AS lifecycle_stage,
    coalesce(complaints_90d, 0) AS complaints_90d, coalesce(tickets_90d, 0) AS tickets_90d,
    last_nps, CASE WHEN last_nps IS NULL THEN NULL WHEN last_nps <= 6 THEN 1.0 ELSE 0.0 END
        AS nps_detractor
FROM a
LEFT JOIN cat ON a.customer_id = cat.customer_id AND a.cutoff = cat.cutoff
LEFT JOIN ea ON a.customer_id = ea.customer_id AND a.cutoff = ea.cutoff
WHERE c - last_ts <= {active}
ORDER BY a.cutoff, a.customer_id
"""


def hand_sql(tx: str, ev: str) -> str:
    """The reference query text for the given Parquet files."""
    windows = ",\n        ".join(
        f"count(*) FILTER (amount > 0 AND age <= {w}) AS purchases_{w}d, "
        f"sum(amount) FILTER (amount > 0 AND age <= {w}) AS spend_{w}d"
        for w in WINDOWS
    )
    window_columns = ", ".join(
        f"purchases_{w}d, coalesce(spend_{w}d, 0) AS spend_{w}d" for w in WINDOWS
    )
    return SQL.format(
        tx=tx, ev=ev, windows=windows, window_columns=window_columns, active=ACTIVE_WITHIN
    )


def run_sql(folder: Path, cuts: list[pd.Timestamp]) -> Any:
    import duckdb
    import pyarrow as pa

    con = duckdb.connect()
    con.register("cutoffs", pa.table({"cutoff": pa.array(cuts, pa.timestamp("us"))}))
    query = hand_sql(str(folder / "transactions.parquet"), str(folder / "events.parquet"))
    return con.sql(query).to_arrow_table()


# --- the engine ---------------------------------------------------------------------------------


def _duckdb(memory_limit: str | None) -> Any:
    import ibis

    return ibis.duckdb.connect(**({"memory_limit": memory_limit} if memory_limit else {}))


def run_engine(
    folder: Path, cuts: list[pd.Timestamp], *, btyd: bool, memory_limit: str | None = None
) -> Any:
    from churn.features import FeatureConfig, build_features

    con = _duckdb(memory_limit)
    tx = con.read_parquet(folder / "transactions.parquet")
    ev = con.read_parquet(folder / "events.parquet")
    config = FeatureConfig(btyd_enabled=btyd)
    return build_features(
        tx, cuts, config, events=ev, horizon_days=HORIZON, active_within_days=ACTIVE_WITHIN
    )


def run_engine_parquet(
    folder: Path, cuts: list[pd.Timestamp], memory_limit: str | None, *, btyd: bool
) -> int:
    """``churn.features.write_features``: the features written to Parquet in batches.

    Out of core: the result never comes into Python whole, so with ``--memory-limit`` the
    run stays within about that much plus the interpreter and one batch. Returns the rows.
    """
    import tempfile

    from churn.features import FeatureConfig, write_features

    con = _duckdb(memory_limit)
    tx = con.read_parquet(folder / "transactions.parquet")
    ev = con.read_parquet(folder / "events.parquet")
    with tempfile.TemporaryDirectory() as tmp:
        return write_features(
            tx,
            cuts,
            FeatureConfig(btyd_enabled=btyd),
            Path(tmp) / "features.parquet",
            events=ev,
            horizon_days=HORIZON,
            active_within_days=ACTIVE_WITHIN,
        )


def run_spark(folder: Path, cuts: list[pd.Timestamp]) -> tuple[Any, float]:
    """The same definitions on Spark local[2], reading the Parquet files directly.

    Returns the result and the JVM's peak RSS in MiB (the Spark driver is a child process).
    """
    import ibis

    from churn import engine
    from churn.features import FeatureConfig, build_features

    con = engine.connect(
        {
            "name": "spark",
            "master": "local[2]",
            "conf": {
                "spark.driver.memory": "16g",
                "spark.driver.maxResultSize": "8g",
                "spark.sql.shuffle.partitions": 8,
                "spark.ui.enabled": False,
                "spark.ui.showConsoleProgress": False,
                "spark.sql.execution.arrow.pyspark.enabled": True,
            },
        }
    )
    assert isinstance(con, ibis.BaseBackend)
    tx = con.read_parquet(str(folder / "transactions.parquet"))
    ev = con.read_parquet(str(folder / "events.parquet"))
    config = FeatureConfig(btyd_enabled=False)
    result = build_features(
        tx, cuts, config, events=ev, horizon_days=HORIZON, active_within_days=ACTIVE_WITHIN
    )
    return result, _children_peak_mib()


def _children_peak_mib() -> float:
    """Peak RSS (VmHWM) of this process's children, from /proc."""
    peak = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) != os.getpid():
                continue
            for line in (stat.parent / "status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]) / 1024)
        except (OSError, IndexError, ValueError):
            continue
    return peak


# --- idiomatic pandas ---------------------------------------------------------------------------


def run_pandas(folder: Path, cuts: list[pd.Timestamp]) -> pd.DataFrame:
    tx = pd.read_parquet(
        folder / "transactions.parquet", columns=["customer_id", "timestamp", "amount", "category"]
    )
    ev = pd.read_parquet(folder / "events.parquet")
    return pd.concat([pandas_features(tx, ev, c) for c in cuts], ignore_index=True)


def pandas_features(tx: pd.DataFrame, ev: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
    """The feature set at one cutoff with vectorised pandas (groupby, no Python loops)."""
    epoch = pd.Timestamp("1970-01-01")
    c = (cutoff - epoch) / pd.Timedelta(days=1)
    before = tx[tx["timestamp"] < cutoff]
    p = before[before["amount"] > 0].copy()
    p["t"] = (p["timestamp"] - epoch) / pd.Timedelta(days=1)
    p["day"] = np.floor(p["t"])
    p["age"] = c - p["t"]
    g = p.groupby("customer_id", sort=True)
    f = g.agg(
        last_ts=("t", "max"),
        first_ts=("t", "min"),
        frequency=("day", "nunique"),
        n_purchases=("amount", "size"),
        monetary_sum=("amount", "sum"),
        monetary_mean=("amount", "mean"),
        monetary_std=("amount", "std"),
        monetary_max=("amount", "max"),
        first_day=("day", "min"),
        last_day=("day", "max"),
        category_count=("category", "nunique"),
    )
    f["recency_days"] = c - f["last_ts"]
    f["tenure_days"] = c - f["first_ts"]
    daily = p.groupby(["customer_id", "day"], sort=True)["amount"].sum()
    f["last_amount"] = daily.groupby(level=0).last()
    for w in WINDOWS:
        inside = p[p["age"] <= w].groupby("customer_id")["amount"]
        f[f"purchases_{w}d"] = inside.size().reindex(f.index, fill_value=0)
        f[f"spend_{w}d"] = inside.sum().reindex(f.index, fill_value=0.0)
    prev = p[(p["age"] > TREND) & (p["age"] <= 2 * TREND)].groupby("customer_id")["amount"]
    prev_n = prev.size().reindex(f.index, fill_value=0)
    prev_s = prev.sum().reindex(f.index, fill_value=0.0)
    f[f"purchase_trend_{TREND}d"] = np.log((f[f"purchases_{TREND}d"] + 1) / (prev_n + 1))
    f[f"spend_trend_{TREND}d"] = np.log((f[f"spend_{TREND}d"] + 1) / (prev_s + 1))
    days = daily.reset_index()
    days["gap"] = days.groupby("customer_id")["day"].diff()
    gaps = days.groupby("customer_id")["gap"]
    f["gap_mean_days"] = (f["last_day"] - f["first_day"]) / (f["frequency"] - 1).where(
        f["frequency"] > 1
    )
    f["gap_std_days"] = gaps.std()
    f["gap_max_days"] = gaps.max()
    f["gap_last_days"] = gaps.last()
    f["recency_gap_ratio"] = f["recency_days"] / f["gap_mean_days"]
    recent = days[c - days["day"] <= 360]
    periods = np.floor((c - recent["day"] - 1) / 30)
    f["active_months"] = (
        periods.groupby(recent["customer_id"]).nunique().reindex(f.index, fill_value=0)
    )
    refunded = -before[before["amount"] < 0].groupby("customer_id")["amount"].sum()
    f["refund_share"] = refunded.reindex(f.index, fill_value=0.0) / f["monetary_sum"]
    top = p.groupby(["customer_id", "category"]).size().groupby(level=0).max()
    f["top_category_share"] = top / f["n_purchases"]
    lapsing = (f["recency_days"] > 60) & (
        f["gap_mean_days"].isna() | (f["recency_days"] > 2 * f["gap_mean_days"])
    )
    f["lifecycle_stage"] = np.where(
        f["tenure_days"] < 90, "new", np.where(lapsing, "lapsing", "established")
    )
    e = ev[ev["timestamp"] < cutoff]
    recent_ev = e[(cutoff - e["timestamp"]) <= pd.Timedelta(days=EVENT_DAYS)]
    for kind, name in (("complaint", "complaints_90d"), ("support_ticket", "tickets_90d")):
        counts = recent_ev[recent_ev["type"] == kind].groupby("customer_id").size()
        f[name] = counts.reindex(f.index, fill_value=0)
    nps = e[(e["type"] == "nps") & e["value"].notna()].sort_values(["timestamp", "value"])
    f["last_nps"] = nps.groupby("customer_id")["value"].last().reindex(f.index)
    f["nps_detractor"] = np.where(f["last_nps"].isna(), np.nan, (f["last_nps"] <= 6).astype(float))
    f = f[f["recency_days"] <= ACTIVE_WITHIN].reset_index()
    f.insert(1, "cutoff", cutoff)
    return f


# --- measurement --------------------------------------------------------------------------------


def _import_libraries(method: str) -> None:
    """Import what a method uses before its timer starts, as pandas is imported for all.

    The figures measure the work, not the interpreter loading a library once per process.
    """
    import duckdb  # noqa: F401
    import pyarrow.parquet  # noqa: F401

    if method.startswith("engine") or method == "spark":
        import ibis

        import churn.features  # noqa: F401

        ibis.duckdb.connect().disconnect()  # loads the backend's modules
    if method == "spark":
        import pyspark.sql  # noqa: F401  (the session's start stays inside the timer)


def child(method: str, size: str, n_cutoffs: int, memory_limit: str | None) -> None:
    """One measured run in this process; prints a JSON line."""
    folder = DATA / f"tx-{size}"
    cuts = cutoffs(n_cutoffs)
    _import_libraries(method)
    started = time.perf_counter()
    if method == "parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(
            folder / "transactions.parquet",
            columns=["customer_id", "timestamp", "amount", "category"],
        )
        events = pq.read_table(folder / "events.parquet")
        rows = table.num_rows + events.num_rows
    elif method == "sql":
        rows = run_sql(folder, cuts).num_rows
    elif method == "engine":
        rows = run_engine(folder, cuts, btyd=False, memory_limit=memory_limit).num_rows
    elif method == "engine_btyd":
        rows = run_engine(folder, cuts, btyd=True, memory_limit=memory_limit).num_rows
    elif method == "engine_parquet":
        rows = run_engine_parquet(folder, cuts, memory_limit, btyd=False)
    elif method == "engine_parquet_btyd":
        rows = run_engine_parquet(folder, cuts, memory_limit, btyd=True)
    elif method == "pandas":
        rows = len(run_pandas(folder, cuts))
    elif method == "spark":
        result, jvm = run_spark(folder, cuts)
        rows = result.num_rows
        seconds = time.perf_counter() - started
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 + jvm
        print(json.dumps({"seconds": seconds, "rss_mib": rss, "rows": rows}))
        return
    else:
        raise SystemExit(f"unknown method {method}")
    seconds = time.perf_counter() - started
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "rss_mib": rss, "rows": rows}))


def measure(
    method: str, size: str, n_cutoffs: int, repeats: int, memory_limit: str | None
) -> dict[str, float]:
    runs = []
    limit = ["--memory-limit", memory_limit] if memory_limit else []
    for _ in range(repeats):
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                method,
                "--sizes",
                size,
                "--cutoffs",
                str(n_cutoffs),
                *limit,
            ],
            check=True,
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return {
        "seconds": statistics.median(r["seconds"] for r in runs),
        "rss_mib": statistics.median(r["rss_mib"] for r in runs),
        "rows": runs[0]["rows"],
    }


def check() -> None:
    """On small data: the SQL and pandas references compute what the engine computes."""
    import tempfile

    from churn import synthetic

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "demo"
        synthetic.save(
            synthetic.generate(synthetic.WorldConfig(), n_customers=3000, seed=0), folder, seed=0
        )
        cuts = cutoffs(3)
        engine = run_engine(folder, cuts, btyd=False).to_pandas()
        for name, other in (
            ("sql", run_sql(folder, cuts).to_pandas()),
            ("pandas", run_pandas(folder, cuts)[engine.columns]),
        ):
            assert list(other.columns) == list(engine.columns), (name, list(other.columns))
            ordered = other.sort_values(["cutoff", "customer_id"], ignore_index=True)
            for column in engine.columns[2:]:
                a, b = engine[column], ordered[column]
                if column == "lifecycle_stage":
                    assert (a.astype(str) == b.astype(str)).all(), (name, column)
                else:
                    np.testing.assert_allclose(
                        a.to_numpy(float),
                        b.to_numpy(float),
                        rtol=1e-9,
                        atol=1e-9,
                        err_msg=f"{name} {column}",
                    )
            print(
                f"check: {name} computes the engine's {len(engine.columns) - 2} features, 3 cutoffs"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10m,50m")
    parser.add_argument("--cutoffs", default="1,12")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--methods", default="parquet,sql,engine,engine_btyd,pandas")
    parser.add_argument("--check", action="store_true", help="verify the references first")
    parser.add_argument(
        "--memory-limit",
        help="DuckDB's memory_limit for the engine methods (e.g. 1GB); default: DuckDB's own",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.sizes, int(args.cutoffs), args.memory_limit)
        return
    if args.check:
        check()
    methods = args.methods.split(",")
    for size in args.sizes.split(","):
        ensure_data(size)
        results: dict[tuple[str, int], dict[str, float]] = {}
        for n in (int(x) for x in args.cutoffs.split(",")):
            for method in methods:
                if method == "pandas" and (n > 1 or size != "10m"):
                    continue  # minutes per run and many GB: measured at 10M rows, one cutoff
                if method == "parquet" and n > 1:
                    continue
                results[method, n] = measure(method, size, n, args.repeats, args.memory_limit)
                r = results[method, n]
                print(
                    f"{size:>4} {n:>2} cutoffs {method:<12} {r['seconds']:7.2f} s  "
                    f"peak RSS {r['rss_mib']:6.0f} MiB  rows {int(r['rows']):,}",
                    flush=True,
                )
        report(size, results)


def report(size: str, results: dict[tuple[str, int], dict[str, float]]) -> None:
    def ratio(a: tuple[str, int], b: tuple[str, int]) -> str:
        if a in results and b in results:
            return f"{results[a]['seconds'] / results[b]['seconds']:.2f}"
        return "n/a"

    print(f"--- {size}: ratios of median wall times")
    for n in sorted({n for _, n in results}):
        print(f"  {n:>2} cutoffs: engine / hand-written SQL = {ratio(('engine', n), ('sql', n))}")
        print(f"  {n:>2} cutoffs: pandas / engine = {ratio(('pandas', n), ('engine', n))}")
        print(f"  {n:>2} cutoffs: engine / Parquet read = {ratio(('engine', n), ('parquet', 1))}")
    print(f"  engine 12 / 1 cutoffs = {ratio(('engine', 12), ('engine', 1))}")
    for n in sorted({n for m, n in results if m == "spark"}):
        spark_ratio = ratio(("spark", n), ("engine", n))
        print(f"  {n:>2} cutoffs: Spark local[2] / DuckDB engine = {spark_ratio}")
    print(
        f"  engine with BG/NBD / without, 12 cutoffs = {ratio(('engine_btyd', 12), ('engine', 12))}"
    )


if __name__ == "__main__":
    main()

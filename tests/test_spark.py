"""The same feature and label definitions on Apache Spark (local[2]) as on DuckDB.

Needs pyspark and Java 17; CI installs both. Without them these tests skip, except under
``CI=true``, where they fail.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import ibis
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from churn import engine, labels, sampling, training_table
from churn.features import FeatureConfig

pytestmark = [pytest.mark.spark, pytest.mark.slow]

SPARK = {
    "name": "spark",
    "master": "local[2]",
    "app_name": "churn-tests",
    "conf": {
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": 4,
        "spark.ui.enabled": False,
        "spark.ui.showConsoleProgress": False,
        "spark.sql.execution.arrow.pyspark.enabled": True,
    },
}


@pytest.fixture(scope="session")
def spark() -> Iterator[ibis.BaseBackend]:
    """One local[2] session for every Spark test."""
    missing = []
    try:
        import pyspark  # noqa: F401
    except ImportError:
        missing.append("pyspark")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        missing.append("java")
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Spark tests need {missing}; required in CI")
        pytest.skip(f"Spark tests need {missing}")
    con = engine.connect(SPARK)
    yield con
    con._session.stop()


def _tables(con: ibis.BaseBackend, folder: Path) -> engine.Tables:
    tx = pq.read_table(folder / "transactions.parquet")
    events = pq.read_table(folder / "events.parquet")
    return engine.register(con, tx, events=events)


def _compare(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    assert list(got.columns) == list(expected.columns)
    assert len(got) == len(expected) > 0
    for column in expected.columns:
        a, b = got[column], expected[column]
        if column in ("customer_id", "lifecycle_stage"):
            assert (a.astype(str).to_numpy() == b.astype(str).to_numpy()).all(), column
        elif column == "cutoff":
            assert (pd.to_datetime(a) == pd.to_datetime(b)).all()
        else:
            x, y = a.to_numpy(dtype=float), b.to_numpy(dtype=float)
            assert (np.isnan(x) == np.isnan(y)).all(), column
            np.testing.assert_allclose(x[~np.isnan(x)], y[~np.isnan(y)], rtol=1e-9, atol=1e-9)


def test_training_table_on_spark_equals_duckdb(
    spark: ibis.BaseBackend, small_demo_dir: Path, tmp_path: Path
) -> None:
    label_config = labels.LabelConfig(n_cutoffs=3)
    config = FeatureConfig()
    results = []
    for con in (spark, engine.connect({"name": "duckdb", "threads": 1})):
        tables = _tables(con, small_demo_dir)
        end = labels.data_end(tables.transactions)
        cutoffs = labels.cutoff_schedule(end, label_config)
        table = training_table.build(
            tables.transactions, cutoffs, config, label_config, end=end, events=tables.events
        )
        results.append(table.to_pandas())
        if con is spark:  # the batched writer (BG/NBD from its own summary query) on Spark
            path = tmp_path / "spark.parquet"
            training_table.write(
                tables.transactions,
                cutoffs,
                config,
                label_config,
                path,
                end=end,
                events=tables.events,
            )
            written = pq.read_table(path).to_pandas()

    on_spark, on_duckdb = results
    _compare(on_spark, on_duckdb)
    assert on_spark["cutoff"].nunique() == 3
    _compare(
        written.drop(columns=[c for c in written if c.startswith("btyd_")]),
        on_duckdb.drop(columns=[c for c in on_duckdb if c.startswith("btyd_")]),
    )
    for name in ("btyd_p_alive", "btyd_expected_purchases", "btyd_p_no_purchase"):
        np.testing.assert_allclose(written[name], on_duckdb[name], rtol=1e-5, atol=1e-5)


def test_training_sample_on_spark_equals_duckdb(
    spark: ibis.BaseBackend, small_demo_dir: Path
) -> None:
    """The same customers drawn (md5 keys agree) and the same sampled table on both engines."""
    label_config = labels.LabelConfig(n_cutoffs=5)
    config = FeatureConfig()
    samples, results = [], []
    for con in (spark, engine.connect({"name": "duckdb", "threads": 1})):
        tables = _tables(con, small_demo_dir)
        end = labels.data_end(tables.transactions)
        cutoffs = labels.cutoff_schedule(end, label_config)
        sample = sampling.plan_sample(
            tables.transactions,
            cutoffs,
            label_config,
            end=end,
            max_customers=200,
            min_class_rows=20,
            seed=3,
        )
        assert sample is not None
        table = training_table.build(
            tables.transactions,
            cutoffs,
            config,
            label_config,
            end=end,
            events=tables.events,
            subset=sample.subset(),
        )
        samples.append(sample)
        results.append(table.to_pandas())
    assert samples[0] == samples[1]
    _compare(*results)


def test_scoring_on_spark_equals_local_scoring(
    spark: ibis.BaseBackend, small_demo_dir: Path, tmp_path: Path
) -> None:
    from churn import bundle, monitoring, offers, scoring
    from churn.features import build_features
    from pipelines import train
    from tests.conftest import compose_config

    result = train.run(
        compose_config(
            "train",
            [
                f"data.generate.output_dir={small_demo_dir}",
                f"output_dir={tmp_path}/train",
                f"model_dir={tmp_path}/models/churn",
                "tracking=none",
                "model.n_jobs=1",
                "promotion.metrics=[brier]",
                "train.shap_rows=100",
            ],
        )
    )
    loaded = bundle.load(result.model_dir)  # the stored version
    duck = engine.connect({"name": "duckdb", "threads": 1})
    tables = _tables(duck, small_demo_dir)
    as_of = labels.data_end(tables.transactions)
    features = build_features(
        tables.transactions,
        [as_of],
        FeatureConfig(),
        events=tables.events,
        horizon_days=90,
        active_within_days=None,
    )
    tiers = scoring.TierConfig()
    catalog = offers.OfferConfig(catalog=(offers.Offer("call", 1.0, 0.1),), budget=0.0)
    local = scoring.score(
        features.to_pandas(),
        loaded.model,
        loaded.manifest,
        settings=scoring.ScoreConfig(as_of=as_of, horizon_days=90, active_within_days=365),
        tiers=tiers,
        offer_config=catalog,
        thresholds=monitoring.DriftConfig(),
    )

    on_spark = scoring.score_on_spark(
        spark._session.createDataFrame(features),
        loaded.model,
        loaded.manifest,
        tiers=tiers,
        margin=catalog.margin,
        output=tmp_path / "at_risk",
    )

    got = on_spark.toPandas().set_index("customer_id").sort_index()
    buyers = local.scores[local.scores["status"] != "no_purchase"].set_index("customer_id")
    buyers = buyers.sort_index()
    assert got.index.equals(buyers.index)
    assert (got["status"] == buyers["status"]).all()
    np.testing.assert_allclose(
        got["churn_probability"].to_numpy(float), buyers["churn_probability"].to_numpy(float)
    )
    assert (got["risk_tier"].fillna("-") == buyers["risk_tier"].fillna("-")).all()
    np.testing.assert_allclose(got["value"], buyers["value"])
    listed = local.at_risk.set_index("customer_id")
    on_list = got[got["risk_tier"].isin(tiers.at_risk)]
    assert (on_list["reason_1"] == listed.loc[on_list.index, "reason_1"]).all()
    # the same from features that never leave Spark (BG/NBD fitted on the collected summary)
    spark_tables = _tables(spark, small_demo_dir)
    lazy, finish = scoring.features_on_spark(
        spark,
        spark_tables.transactions,
        as_of,
        FeatureConfig(),
        events=spark_tables.events,
        horizon_days=90,
    )
    distributed = scoring.score_on_spark(
        lazy,
        loaded.model,
        loaded.manifest,
        tiers=tiers,
        margin=catalog.margin,
        output=tmp_path / "at_risk_lazy",
        finish=finish,
    )
    again = distributed.toPandas().set_index("customer_id").sort_index()
    assert again.index.equals(got.index)
    np.testing.assert_allclose(
        again["churn_probability"].to_numpy(float), got["churn_probability"].to_numpy(float)
    )
    assert (again["risk_tier"].fillna("-") == got["risk_tier"].fillna("-")).all()
    assert (again["reason_1"].fillna("-") == got["reason_1"].fillna("-")).all()

    written = pd.read_parquet(tmp_path / "at_risk")
    assert len(written) == len(on_list)
    assert sorted(p.name for p in (tmp_path / "at_risk").glob("risk_tier=*")) == [
        f"risk_tier={t}" for t in sorted(set(on_list["risk_tier"]))
    ]


def test_score_pipeline_distributed_equals_local(
    spark: ibis.BaseBackend, small_demo_dir: Path, tmp_path: Path
) -> None:
    from pipelines import score, train
    from tests.conftest import compose_config

    common = [f"data.generate.output_dir={small_demo_dir}", f"model_dir={tmp_path}/models/churn"]
    train.run(
        compose_config(
            "train",
            [
                *common,
                f"output_dir={tmp_path}/train",
                "tracking=none",
                "model.n_jobs=1",
                "promotion.metrics=[brier]",
            ],
        )
    )

    def run(name: str, *extra: str) -> score.ScoreResult:
        return score.run(
            compose_config(
                "score",
                [
                    *common,
                    f"output_dir={tmp_path}/{name}",
                    f"export.dir={tmp_path}/{name}-exports",
                    *extra,
                ],
            )
        )

    local = run("local")
    distributed = run("spark", "engine=spark", "score.distributed=true")

    def key(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.sort_values("customer_id").reset_index(drop=True)

    scores = key(pd.read_parquet(distributed.folder / "scores"))
    expected = key(pd.read_parquet(local.folder / "scores.parquet"))
    assert list(scores["customer_id"]) == list(expected["customer_id"])
    assert (scores["status"].astype(str) == expected["status"].astype(str)).all()
    np.testing.assert_allclose(
        scores["churn_probability"].to_numpy(float), expected["churn_probability"].to_numpy(float)
    )
    at_risk = key(pd.read_parquet(distributed.folder / "at_risk.parquet"))
    listed = key(pd.read_parquet(local.folder / "at_risk.parquet"))
    assert list(at_risk["customer_id"]) == list(listed["customer_id"])
    assert (at_risk["offer"].fillna("-") == listed["offer"].fillna("-")).all()
    assert (at_risk["reason_1"].fillna("-") == listed["reason_1"].fillna("-")).all()
    assert distributed.counts["by_tier"] == local.counts["by_tier"]
    assert distributed.counts["budget_used"] == pytest.approx(local.counts["budget_used"])
    assert (distributed.folder / "at_risk_by_tier").is_dir()
    assert distributed.drift["n_columns"] == local.drift["n_columns"]

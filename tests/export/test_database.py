"""The at-risk list in PostgreSQL: write, re-run, read back, fail without losing the old list.

Needs a server: ``.ci/run`` starts a throwaway one and sets ``CHURN_TEST_DATABASE_URL``. Without
it these tests skip, except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from churn.errors import ConfigError, DataError, ExportError
from churn.export import database
from pipelines import score, train
from tests.conftest import compose_config

URL = os.environ.get("CHURN_TEST_DATABASE_URL")
AS_OF = pd.Timestamp("2026-01-01")


@pytest.fixture
def url(request: pytest.FixtureRequest) -> Iterator[str]:
    """The test server's URL, and a fresh table name per test."""
    if not URL:
        if os.environ.get("CI") == "true":
            pytest.fail("CHURN_TEST_DATABASE_URL is not set: .ci/run must start PostgreSQL")
        pytest.skip("no PostgreSQL server (set CHURN_TEST_DATABASE_URL; .ci/run starts one)")
    yield URL
    engine = sa.create_engine(URL)
    with engine.begin() as conn:
        conn.execute(sa.text(f"DROP TABLE IF EXISTS {_table(request)}"))
    engine.dispose()


def _table(request: pytest.FixtureRequest) -> str:
    return "t_" + "".join(c if c.isalnum() else "_" for c in request.node.name)[:50].lower()


def _at_risk(ids: list[str], *, p: float = 0.8, as_of: pd.Timestamp = AS_OF) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ids,
            "as_of": as_of,
            "churn_probability": p,
            "risk_tier": pd.Series(["high"] * len(ids), dtype="string"),
            "offer": pd.Series(["win_back"] * len(ids), dtype="string"),
            "offer_cost": 3.0,
            "control_group": False,
        }
    )


def _read(url: str, table: str) -> pd.DataFrame:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return pd.read_sql(sa.text(f"SELECT * FROM {table} ORDER BY as_of, customer_id"), conn)
    finally:
        engine.dispose()


def test_write_at_risk_rerun_replaces_only_its_date(
    url: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHURN_DATABASE_URL", url)
    target = database.DatabaseConfig(table=_table(request))
    earlier = pd.Timestamp("2025-12-01")

    assert database.write_at_risk(_at_risk(["x"], as_of=earlier), target, as_of=earlier) == 1
    assert database.write_at_risk(_at_risk(["a", "b", "c"]), target, as_of=AS_OF) == 3
    assert database.write_at_risk(_at_risk(["b", "c", "d"], p=0.9), target, as_of=AS_OF) == 3

    rows = _read(url, target.table)
    latest = rows[rows["as_of"] == AS_OF.date()]
    assert latest["customer_id"].tolist() == ["b", "c", "d"]
    assert (latest["churn_probability"] == 0.9).all()
    assert rows.loc[rows["as_of"] == earlier.date(), "customer_id"].tolist() == ["x"]
    assert rows["written_at"].notna().all()


def test_write_at_risk_failure_keeps_the_previous_list(
    url: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHURN_DATABASE_URL", url)
    target = database.DatabaseConfig(table=_table(request))
    database.write_at_risk(_at_risk(["a", "b"]), target, as_of=AS_OF)
    broken = _at_risk(["c", "d"]).astype({"offer_cost": object})
    broken.loc[1, "offer_cost"] = "not a number"  # the second row fails inside the transaction

    with pytest.raises(ExportError, match="previous list is unchanged"):
        database.write_at_risk(broken, target, as_of=AS_OF)

    assert _read(url, target.table)["customer_id"].tolist() == ["a", "b"]


def test_write_at_risk_logs_no_credentials(
    url: str,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with_password = url.replace("postgres@", "postgres:s3cret-pass@")
    monkeypatch.setenv("CHURN_DATABASE_URL", with_password)
    target = database.DatabaseConfig(table=_table(request))
    with caplog.at_level(logging.INFO, logger="churn.export.database"):
        database.write_at_risk(_at_risk(["a"]), target, as_of=AS_OF)
    assert "127.0.0.1" in caplog.text
    assert "s3cret" not in caplog.text


def test_write_at_risk_unreachable_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHURN_DATABASE_URL", "postgresql+psycopg://u:secret@127.0.0.1:9/db")
    with pytest.raises(ExportError) as err:
        database.write_at_risk(_at_risk(["a"]), database.DatabaseConfig(), as_of=AS_OF)
    assert "secret" not in str(err.value)
    assert err.value.exit_code == 7


def test_write_at_risk_rejects_bad_lists() -> None:
    target = database.DatabaseConfig()
    with pytest.raises(DataError, match="duplicates"):
        database.write_at_risk(_at_risk(["a", "a"]), target, as_of=AS_OF)
    with pytest.raises(DataError, match="every row must have as_of"):
        database.write_at_risk(_at_risk(["a"]), target, as_of=pd.Timestamp("2020-01-01"))


@pytest.mark.parametrize(
    "values", [{"table": "drop table x;"}, {"schema": "a.b"}, {"password": "x"}]
)
def test_database_target_invalid(values: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        database.DatabaseConfig.from_mapping(values)


def test_score_exports_to_postgres(
    url: str,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    small_demo_dir: Path,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("CHURN_DATABASE_URL", url)
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
    overrides = [
        *common,
        f"output_dir={tmp_path}/score",
        f"export.dir={tmp_path}/exports",
        "export=postgres",
        f"export.postgres.table={_table(request)}",
    ]
    first = score.run(compose_config("score", overrides))
    score.run(compose_config("score", overrides))  # a re-run replaces, never duplicates

    stored = _read(url, _table(request))
    exported = pd.read_parquet(first.folder / "at_risk.parquet")
    assert len(stored) == len(exported) > 0
    assert set(stored["customer_id"]) == set(exported["customer_id"])
    assert {"offer", "reason_1", "expected_net_benefit", "model_version"} <= set(stored.columns)

"""End-to-end runs of the entry points, as a user or a scheduler runs them."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from pipelines import generate, training_table, validate
from tests.conftest import compose_config, run_pipeline

REPO = Path(__file__).resolve().parents[2]


def _cli(module: str, *overrides: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``python -m pipelines.<module>`` from the repository root, Hydra's folder in cwd."""
    return run_pipeline(module, *overrides, f"hydra.run.dir={cwd}/run", cwd=REPO)


def test_generate_run_writes_demo_folder(tmp_path: Path) -> None:
    cfg = compose_config(
        "generate", [f"generate.output_dir={tmp_path}/demo", "generate.n_customers=400", "seed=5"]
    )
    result = generate.run(cfg)
    assert result.output_dir == tmp_path / "demo"
    assert (result.output_dir / "future" / "transactions.parquet").is_file()
    assert result.summary["customers"] == 400
    assert json.loads((result.output_dir / "world.json").read_text())["seed"] == 5


def test_validate_run_generates_missing_demo_data(tmp_path: Path) -> None:
    cfg = compose_config(
        "validate",
        [
            f"data.generate.output_dir={tmp_path}/demo",
            "data.generate.n_customers=400",
            f"output_dir={tmp_path}/out",
        ],
    )
    result = validate.run(cfg)
    assert (tmp_path / "demo" / "transactions.parquet").is_file()
    report = result.reports["transactions"]
    assert report.input_rows == report.used_rows > 0
    assert report.rejected_rows == 0
    assert set(result.reports) == {"transactions", "customers", "events"}
    rejects = pd.read_csv(result.rejects_path)
    assert rejects.empty
    assert "reason" in rejects.columns
    summary = json.loads(result.summary_path.read_text())
    assert summary["fingerprint"]["rows"] == report.used_rows


def test_validate_run_writes_rejects_then_fails(tmp_path: Path) -> None:
    from churn.data import TooManyRejectsError

    source = tmp_path / "tx.csv"
    source.write_text(
        "customer_id,timestamp,amount\n"
        "c1,2024-01-01,10.0\n"
        "c2,not a date,5.0\n"
        ",2024-01-02,7.5\n"
        "c3,2024-01-03,abc\n"
    )
    cfg = compose_config(
        "validate", ["data=csv", f"data.path={source}", f"output_dir={tmp_path}/out"]
    )
    with pytest.raises(TooManyRejectsError, match=r"3 of 4 rows"):
        validate.run(cfg)
    rejects = pd.read_csv(tmp_path / "out" / "rejects.csv")
    assert sorted(rejects["rule"]) == ["bad_amount", "bad_timestamp", "null_id"]


def test_validate_cli_exits_with_reason_on_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.parquet"
    proc = _cli("validate", "data=parquet", f"data.path={missing}", cwd=tmp_path)
    assert proc.returncode == 3, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert "nowhere.parquet" in last
    assert "Traceback" not in proc.stderr


def test_validate_cli_exits_on_bad_config(tmp_path: Path) -> None:
    source = tmp_path / "tx.csv"
    source.write_text("customer_id,timestamp,amount\nc1,2024-01-01,10.0\n")
    proc = _cli(
        "validate", "data=csv", f"data.path={source}", "data.max_reject_fraction=2", cwd=tmp_path
    )
    assert proc.returncode == 2, proc.stderr
    assert "max_reject_fraction" in proc.stderr.strip().splitlines()[-1]


def test_generate_cli_runs(tmp_path: Path) -> None:
    proc = _cli(
        "generate", f"generate.output_dir={tmp_path}/demo", "generate.n_customers=200", cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "demo" / "ground_truth.parquet").is_file()


def test_training_table_run_writes_labelled_table(tmp_path: Path) -> None:
    cfg = compose_config(
        "training_table",
        [
            f"data.generate.output_dir={tmp_path}/demo",
            "data.generate.n_customers=1500",
            f"output_dir={tmp_path}/out",
            "label.n_cutoffs=3",
            "engine.threads=1",
        ],
    )
    result = training_table.run(cfg)
    table = pd.read_parquet(result.path)
    assert len(table) == result.rows > 0
    assert table["cutoff"].nunique() == 3
    assert set(table["churned"].unique()) == {0, 1}
    assert 0.3 < result.churn_share < 0.6
    assert (tmp_path / "out" / "rejects.csv").is_file()
    assert oct(result.path.stat().st_mode & 0o777) == "0o600"

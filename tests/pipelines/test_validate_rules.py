"""The row rules through the command line: ``python -m pipelines.validate`` (and ``report``).

Each test holds the bad rows of one reported defect in a small CSV: the validation succeeds,
``rejects.csv`` lists each bad row with its rule and reason, and where the bad row used to crash
the report, ``python -m pipelines.report`` on the same data now succeeds.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pandas as pd

from tests.conftest import run_pipeline

REPO = Path(__file__).resolve().parents[2]
HEADER = "customer_id,timestamp,amount,transaction_id\n"


def _cli(module: str, *overrides: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``python -m pipelines.<module>`` from the repository root, Hydra's folder in cwd."""
    return run_pipeline(module, *overrides, f"hydra.run.dir={cwd}", cwd=REPO)


def _good_rows(customers: int = 6, months: int = 12) -> str:
    """Monthly purchases of a few customers through 2024, one transaction id each."""
    return "".join(
        f"c{c},2024-{m:02d}-{c + 1:02d} 10:00:00,{10 + c}.50,t{c}-{m}\n"
        for c in range(customers)
        for m in range(1, months + 1)
    )


def _validate(tmp_path: Path, tx: str, *overrides: str) -> pd.DataFrame:
    """Validate ``tx`` (CSV text) through the command line; the rejects it wrote."""
    path = tmp_path / "tx.csv"
    path.write_text(HEADER + tx)
    run = tmp_path / "validate"
    proc = _cli(
        "validate",
        "data=csv",
        f"data.path={path}",
        "data.max_reject_fraction=0.5",
        *overrides,
        cwd=run,
    )
    assert proc.returncode == 0, proc.stderr
    return pd.read_csv(run / "rejects.csv", dtype=str, keep_default_na=False)


def _report(tmp_path: Path, *overrides: str) -> Path:
    """Build the report on the same data through the command line (no model, no scoring)."""
    run = tmp_path / "report"
    proc = _cli(
        "report",
        "data=csv",
        f"data.path={tmp_path / 'tx.csv'}",
        "data.max_reject_fraction=0.5",
        f"model_dir={tmp_path}/no-model",
        f"export.dir={tmp_path}/exports",
        "tracking=none",
        *overrides,
        cwd=run,
    )
    assert proc.returncode == 0, proc.stderr
    return run / "report.html"


def _listed(rejects: pd.DataFrame) -> list[tuple[str, str, str, str]]:
    columns = ["table", "source_row", "rule", "reason"]
    return list(rejects[columns].itertuples(index=False, name=None))


def test_validate_cli_rejects_nps_answers_outside_0_to_10_and_report_runs(tmp_path: Path) -> None:
    events = tmp_path / "events.csv"
    good = "".join(f"c{c},2024-02-0{c + 1},nps,{4 + c}\n" for c in range(6))
    events.write_text(
        "customer_id,timestamp,type,value\n"
        f"{good}"
        "c1,2024-03-02,nps,11\n"
        "c2,2024-03-03,nps,-1\n"
        "c3,2024-03-04,nps,7.5\n"
        "c4,2024-03-05,complaint,\n"
    )

    rejects = _validate(tmp_path, _good_rows(), f"data.events={events}")
    page = _report(tmp_path, f"data.events={events}")

    answer = "is not an NPS answer (a whole number from 0 to 10)"
    assert _listed(rejects) == [
        ("events", "6", "bad_nps_value", f"value '11' {answer}"),
        ("events", "7", "bad_nps_value", f"value '-1' {answer}"),
        ("events", "8", "bad_nps_value", f"value '7.5' {answer}"),
    ]
    assert "Net Promoter Score" in page.read_text(encoding="utf-8")


def test_validate_cli_rejects_amount_1e308(tmp_path: Path) -> None:
    rejects = _validate(
        tmp_path, _good_rows() + "c1,2024-05-05,1e308,big\nc2,2024-05-05,-2e9,ref\n"
    )

    larger = "is larger in size than max_abs_amount 1e+09"
    assert _listed(rejects) == [
        ("transactions", "72", "amount_out_of_range", f"amount '1e308' {larger}"),
        ("transactions", "73", "amount_out_of_range", f"amount '-2e9' {larger}"),
    ]


def test_validate_cli_rejects_year_1_timestamp_and_report_runs(tmp_path: Path) -> None:
    rejects = _validate(tmp_path, _good_rows() + "c1,0001-01-01 00:00:00,10.0,old\n")
    page = _report(tmp_path)

    assert _listed(rejects) == [
        (
            "transactions",
            "72",
            "early_timestamp",
            "timestamp '0001-01-01 00:00:00' is before min_timestamp 1970-01-01 00:00:00",
        )
    ]
    assert "0001-01" not in page.read_text(encoding="utf-8")


def test_validate_cli_keeps_ids_as_text_unless_asked_to_strip_a_zero_fraction(
    tmp_path: Path,
) -> None:
    tx = _good_rows() + "2,2024-06-01,5.0,a\n 2.00 ,2024-06-02,5.0,b\n002,2024-06-03,5.0,c\n"
    customers = tmp_path / "customers.csv"
    customers.write_text("customer_id,signup_date\n2,2024-01-01\n2.00,2024-01-01\n")
    summary = tmp_path / "validate" / "validation.json"

    kept = _validate(tmp_path, tx, f"data.customers={customers}")
    kept_customers = json.loads(summary.read_text())["fingerprint"]["customers"]
    stripped = _validate(
        tmp_path, tx, f"data.customers={customers}", "data.id_normalization=strip_numeric_suffix"
    )
    stripped_customers = json.loads(summary.read_text())["fingerprint"]["customers"]

    assert kept.empty
    assert kept_customers == 6 + 3  # '2', '2.00' and '002'
    assert stripped_customers == 6 + 2  # '2' (also written ' 2.00 ') and '002'
    assert _listed(stripped) == [
        (
            "customers",
            "1",
            "duplicate_id",
            f"customer_id '2.00' repeats {customers} row 0, which is kept",
        )
    ]


def test_validate_cli_tells_conflicting_duplicate_ids_from_copies(tmp_path: Path) -> None:
    tx = _good_rows() + "c0,2024-01-01 10:00:00,10.50,t0-1\nc0,2024-01-01 10:00:00,99.00,t0-1\n"

    rejects = _validate(tmp_path, tx)

    kept = "transaction_id 't0-1' repeats {} row 0, which is kept".format(tmp_path / "tx.csv")
    assert _listed(rejects) == [
        ("transactions", "72", "duplicate_id", kept),
        ("transactions", "73", "duplicate_id_conflict", f"{kept}; they differ in amount"),
    ]
    assert rejects["amount"].tolist() == ["10.50", "99.00"]

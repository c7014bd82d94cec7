"""``python -m pipelines.outcomes`` on a hand-made export and its transactions."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pandas as pd
import pytest

from churn.errors import DataError, InsufficientHistoryError
from pipelines import outcomes
from tests.conftest import compose_config, run_pipeline
from tests.outcomes.campaign_data import AS_OF, campaign, write_export


def _world(tmp_path: Path, scores: pd.DataFrame | None = None, *, until: str | None = None) -> Path:
    """The campaign's export under ``tmp_path/exports`` and its data (cut at ``until``)."""
    default_scores, tx = campaign()
    write_export(tmp_path / "exports", default_scores if scores is None else scores)
    if until is not None:
        tx = tx[tx["timestamp"] < pd.Timestamp(until)]
    tx.to_parquet(tmp_path / "tx.parquet", index=False)
    return tmp_path


def _cfg(work: Path, *extra: str) -> object:
    return compose_config(
        "outcomes",
        [
            "data=parquet",
            f"data.path={work}/tx.parquet",
            f"export.dir={work}/exports",
            f"outcomes.dir={work}/outcomes",
            f"output_dir={work}/run",
            "tracking=none",
            "engine.threads=1",
            *extra,
        ],
    )


def _digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_outcomes_measures_and_rerun_is_identical(tmp_path: Path) -> None:
    work = _world(tmp_path)
    exports = _digests(work / "exports")
    result = outcomes.run(_cfg(work))  # type: ignore[arg-type]
    assert result.measured == [AS_OF]
    (folder,) = result.folders
    assert folder == work / "outcomes" / AS_OF
    summary = json.loads((folder / "outcomes.json").read_text(encoding="utf-8"))
    assert summary["total"]["save_rate"] == pytest.approx(0.5)
    assert summary["counts"]["left_data"] == 5
    first = _digests(folder)
    outcomes.run(_cfg(work))  # type: ignore[arg-type]
    assert _digests(folder) == first
    assert _digests(work / "exports") == exports  # the export folder is never modified


def test_outcomes_named_export_not_yet_due_is_refused(tmp_path: Path) -> None:
    work = _world(tmp_path, until="2025-03-01")
    with pytest.raises(InsufficientHistoryError, match="can be measured from 2025-04-01"):
        outcomes.run(_cfg(work, f"as_of={AS_OF}"))  # type: ignore[arg-type]
    assert not (work / "outcomes").exists()


def test_outcomes_all_with_nothing_due_writes_nothing(tmp_path: Path) -> None:
    work = _world(tmp_path, until="2025-03-01")
    result = outcomes.run(_cfg(work))  # type: ignore[arg-type]
    assert result.measured == []
    assert not (work / "outcomes").exists()


def test_outcomes_missing_export_folder(tmp_path: Path) -> None:
    work = _world(tmp_path)
    with pytest.raises(DataError, match=f"{work / 'exports' / '2024-06-01'} not found"):
        outcomes.run(_cfg(work, "as_of=2024-06-01"))  # type: ignore[arg-type]


def test_outcomes_empty_control_group_is_not_measurable(tmp_path: Path) -> None:
    scores = campaign()[0]
    work = _world(tmp_path, scores[~scores["control_group"]])
    (folder,) = outcomes.run(_cfg(work)).folders  # type: ignore[arg-type]
    summary = json.loads((folder / "outcomes.json").read_text(encoding="utf-8"))
    (voucher,) = summary["by_offer"]
    assert voucher["control"] == 0
    assert voucher["measurable"] is False
    assert voucher["reason"] == "empty control group"
    assert voucher["save_rate"] is None


def test_outcomes_overlap_exclude_removes_flagged_customers(tmp_path: Path) -> None:
    scores = campaign()[0]
    flagged = scores["customer_id"].isin(["t000", "t050", "c000", "c030"])
    scores["earlier_campaign"] = pd.array(
        ["2024-11-01" if f else None for f in flagged], dtype="string"
    )
    work = _world(tmp_path, scores)
    (folder,) = outcomes.run(_cfg(work, "outcomes.overlap=exclude")).folders  # type: ignore[arg-type]
    summary = json.loads((folder / "outcomes.json").read_text(encoding="utf-8"))
    assert (summary["total"]["contacted"], summary["total"]["control"]) == (98, 48)
    assert summary["counts"]["excluded_overlap"] == 4


def test_outcomes_logs_one_mlflow_run_per_export(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = _world(tmp_path)
    monkeypatch.chdir(work)
    cfg = _cfg(work, "tracking=sqlite", f"tracking.uri=sqlite:///{work}/mlflow.db")
    result = outcomes.run(cfg)  # type: ignore[arg-type]
    assert len(result.run_ids) == 1


def test_outcomes_shorthand_export_as_of() -> None:
    assert outcomes.shorthand(["export=2025-01-01", "export.dir=x", "export=null"]) == [
        "as_of=2025-01-01",
        "export.dir=x",
        "as_of=null",
    ]


def test_outcomes_cli_not_due_exits_with_the_date(tmp_path: Path) -> None:
    work = _world(tmp_path, until="2025-03-01")
    proc = run_pipeline(
        "outcomes",
        "data=parquet",
        f"data.path={work}/tx.parquet",
        f"export.dir={work}/exports",
        f"outcomes.dir={work}/outcomes",
        f"export={AS_OF}",
        "tracking=none",
        f"hydra.run.dir={work}/run",
        cwd=work,
        env={"PYTHONPATH": os.pathsep.join([str(Path.cwd()), os.environ.get("PYTHONPATH", "")])},
    )
    assert proc.returncode == InsufficientHistoryError.exit_code, proc.stderr[-2000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("InsufficientHistoryError: outcomes: export 2025-01-01 cannot be")
    assert "can be measured from 2025-04-01" in last


def test_outcomes_counts_exit_reasons_and_rerun_is_identical(tmp_path: Path) -> None:
    work = _world(tmp_path)
    events = pd.DataFrame(
        {
            "customer_id": ["t000", "c000", "n000", "t001"],
            "timestamp": pd.to_datetime(["2025-01-20", "2025-02-01", "2025-03-01", "2025-04-05"]),
            "type": ["exit_survey", "exit_survey", "exit_survey", "complaint"],
            "value": [1.0, 3.0, 9.0, None],  # 9 is no index into data.exit_reasons: rejected
        }
    )
    events.to_parquet(work / "events.parquet", index=False)
    cfg = _cfg(work, f"data.events={work}/events.parquet", "data.max_reject_fraction=1")
    (folder,) = outcomes.run(cfg).folders  # type: ignore[arg-type]
    summary = json.loads((folder / "outcomes.json").read_text(encoding="utf-8"))
    exits = summary["exit_reasons"]
    assert exits["answered"] == 2
    arms = {r["arm"]: r for r in exits["by_arm"]}
    assert (arms["contacted"]["service"], arms["control"]["competitor"]) == (1, 1)
    assert arms["none"]["answered"] == 0
    assert (folder / "exit_reasons.csv").is_file()
    first = _digests(folder)
    outcomes.run(cfg)  # type: ignore[arg-type]
    assert _digests(folder) == first

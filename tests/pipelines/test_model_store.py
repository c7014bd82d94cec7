"""The model store through the command line: only a promoted version is served; promote and
roll back with ``python -m pipelines.promote``."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from churn import bundle
from tests.conftest import run_pipeline
from tests.pipelines.conftest import FAST, copy_store, score_cli


def _copy(store: Path, tmp_path: Path) -> Path:
    return copy_store(store, tmp_path)


def _score(demo: Path, model_dir: Path, tmp_path: Path) -> tuple[int, str]:
    proc = score_cli(demo, model_dir, tmp_path)
    return proc.returncode, proc.stderr


def _promote(model_dir: Path, tmp_path: Path, *extra: str) -> tuple[int, str, str]:
    proc = run_pipeline(
        "promote",
        f"model_dir={model_dir}",
        "tracking=none",
        f"hydra.run.dir={tmp_path}/promote",
        *extra,
        cwd=tmp_path,
    )
    return proc.returncode, proc.stdout, proc.stderr


def test_a_rejected_model_is_stored_but_never_served(
    store: Path, small_demo_dir: Path, tmp_path: Path
) -> None:
    models = bundle.ModelStore(store)
    assert models.versions() == [1, 2]
    assert (models.champion, models.latest) == (1, 2)
    weak = bundle.read_manifest(models.path(2))
    assert weak.promotion["promote"] is False
    code, stderr = _score(small_demo_dir, store, tmp_path)
    assert code == 0, stderr[-2000:]
    exported = json.loads(next((tmp_path / "exports").glob("*/manifest.json")).read_text())
    assert exported["model"]["sha256"] == bundle.read_manifest(models.path(1)).model.digest
    assert exported["model"]["sha256"] != weak.model.digest


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # nobody listens once the socket is closed


def test_a_rejected_model_with_tracking_down_exits_4_and_the_champion_is_served(
    store: Path, small_demo_dir: Path, tmp_path: Path
) -> None:
    copy = _copy(store, tmp_path)
    history = (copy / "promotions.jsonl").read_text()
    proc = run_pipeline(
        "train",
        f"data.generate.output_dir={small_demo_dir}",
        f"model_dir={copy}",
        f"hydra.run.dir={tmp_path}/train",
        *[arg for arg in FAST if not arg.startswith("tracking=")],
        "model.n_estimators=1",  # the fixture's weak version again: the gate rejects it
        "calibration=none",
        "train.selection.margin=1",
        "tracking=server",
        f"tracking.uri=http://127.0.0.1:{_closed_port()}",
        "tracking.max_retries=0",
        "tracking.timeout_s=2",
        "tracking.on_error=fail",
        cwd=tmp_path,
    )
    assert proc.returncode == 4, proc.stderr[-2000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("TrackingError: ")
    assert "127.0.0.1" in last
    assert last.endswith(f"version 3 was stored in {copy}")
    models = bundle.ModelStore(copy)
    assert models.versions() == [1, 2, 3]
    assert (models.champion, models.latest) == (1, 3)  # stored, not champion
    assert bundle.read_manifest(models.path(3)).promotion["promote"] is False
    assert (copy / "promotions.jsonl").read_text() == history
    champion = bundle.read_manifest(models.path(1))

    scored = score_cli(small_demo_dir, copy, tmp_path)
    assert scored.returncode == 0, scored.stderr[-2000:]
    exported = json.loads(next((tmp_path / "exports").glob("*/manifest.json")).read_text())
    assert exported["model"]["version"] == champion.version
    assert exported["model"]["sha256"] == champion.model.digest
    assert exported["model"]["sha256"] != bundle.read_manifest(models.path(3)).model.digest


def test_promote_lists_versions_and_changes_nothing(store: Path, tmp_path: Path) -> None:
    before = (store / "promotions.jsonl").read_text()
    code, stdout, stderr = _promote(store, tmp_path)
    assert code == 0, stderr[-2000:]
    lines = [line.split(" - ", 1)[-1] for line in stdout.splitlines()]
    assert any(line.split()[:2] == ["1", "champion"] and "passed" in line for line in lines)
    assert any(line.split()[:2] == ["2", "latest"] and "failed" in line for line in lines)
    assert bundle.ModelStore(store).champion == 1
    assert (store / "promotions.jsonl").read_text() == before


def test_promote_and_roll_back_record_the_reason(store: Path, tmp_path: Path) -> None:
    copy = _copy(store, tmp_path)
    code, _, stderr = _promote(copy, tmp_path, "version=2", "reason=try the challenger")
    assert code == 0, stderr[-2000:]
    assert bundle.ModelStore(copy).champion == 2
    assert bundle.load_served(copy).path == copy / "versions" / "2"
    code, _, stderr = _promote(copy, tmp_path, "version=1", "reason='rollback: worse lists'")
    assert code == 0, stderr[-2000:]
    history = bundle.ModelStore(copy).history()
    assert [(h["version"], h["previous"], h["by"]) for h in history] == [
        (1, None, "gate"),
        (2, 1, "manual"),
        (1, 2, "manual"),
    ]
    assert history[-1]["reason"] == "rollback: worse lists"
    assert bundle.ModelStore(copy).champion == 1


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["version=2"], "ConfigError: reason: expected why version 2 is served"),
        (["version=7", "reason=x"], "ConfigError: version: expected one of the stored versions"),
        (["version=abc", "reason=x"], "ConfigError: version: expected a stored version number"),
    ],
)
def test_promote_refuses_bad_requests(
    store: Path, tmp_path: Path, args: list[str], expected: str
) -> None:
    code, _, stderr = _promote(store, tmp_path, *args)
    assert code == 2, stderr[-2000:]
    assert stderr.strip().splitlines()[-1].startswith(expected)
    assert bundle.ModelStore(store).champion == 1


def test_promote_refuses_a_damaged_version(store: Path, tmp_path: Path) -> None:
    copy = _copy(store, tmp_path)
    model_file = next(iter(bundle.read_manifest(copy / "versions" / "2").model.files))
    with open(copy / "versions" / "2" / model_file, "ab") as handle:
        handle.write(b"\0")
    code, _, stderr = _promote(copy, tmp_path, "version=2", "reason=x")
    assert code == 5, stderr[-2000:]
    assert "sha256" in stderr.strip().splitlines()[-1]
    assert bundle.ModelStore(copy).champion == 1


def test_score_without_a_champion_names_promote(
    store: Path, small_demo_dir: Path, tmp_path: Path
) -> None:
    copy = _copy(store, tmp_path)
    (copy / "champion").unlink()
    code, stderr = _score(small_demo_dir, copy, tmp_path)
    assert code == 5
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("BundleError: model store")
    assert "python -m pipelines.promote version=N" in last
    assert not (tmp_path / "exports").exists()


def test_shadow_scoring_compares_the_challenger_without_exporting_it(
    store: Path, small_demo_dir: Path, tmp_path: Path
) -> None:
    proc = score_cli(small_demo_dir, store, tmp_path, "score.shadow=latest")
    assert proc.returncode == 0, proc.stderr[-2000:]
    (folder,) = [p for p in (tmp_path / "exports").iterdir() if p.suffix != ".lock"]
    manifest = json.loads((folder / "manifest.json").read_text())
    champion = bundle.read_manifest(bundle.ModelStore(store).path(1))
    assert manifest["model"]["sha256"] == champion.model.digest  # the champion's list only
    shadow = manifest["shadow"]
    assert shadow["version"] == "2"
    assert shadow["customers"] > 0
    assert -1.0 <= shadow["spearman"] <= 1.0
    assert set(shadow["champion"]) == {"mean", "p10", "p50", "p90"}
    moved = sum(n for row in shadow["tier_moves"].values() for n in row.values())
    assert moved == shadow["customers"]
    assert 0.0 <= shadow["at_risk_overlap"] <= 1.0
    assert shadow["test_metrics"]["test/brier"] > champion.metrics["test/brier"]  # the weak one
    assert sorted(p.name for p in folder.iterdir() if not p.name.endswith(".html")) == [
        "at_risk.csv",
        "at_risk.parquet",
        "manifest.json",
        "rejects.csv",
        "scores.parquet",
    ]


def test_shadow_without_a_challenger_is_a_note(
    store: Path, small_demo_dir: Path, tmp_path: Path
) -> None:
    copy = _copy(store, tmp_path)
    code, _, stderr = _promote(copy, tmp_path, "version=2", "reason=try it")
    assert code == 0, stderr[-2000:]
    proc = score_cli(small_demo_dir, copy, tmp_path, "score.shadow=latest")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "shadow: no challenger" in (tmp_path / "score" / "score.log").read_text()
    (folder,) = [p for p in (tmp_path / "exports").iterdir() if p.suffix != ".lock"]
    assert json.loads((folder / "manifest.json").read_text())["shadow"] is None


def test_the_training_log_is_compact(store: Path) -> None:
    log = (store.parents[1] / "good" / "train.log").read_text(encoding="utf-8")
    info = [line for line in log.splitlines() if "][INFO] - " in line]
    assert sum("churn share" in line for line in info) == 1  # one line for all cutoffs
    assert not [line for line in info if "bgnbd baseline at" in line or "wrote figure" in line]
    stages = [line for line in info if "stage " in line]
    assert all(": done in " in line for line in stages)
    assert len(info) <= 48  # about 20 stages, their headlines (CLV check: fit and result)

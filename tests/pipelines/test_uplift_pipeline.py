"""``python -m pipelines.uplift`` on exports scored at past dates, and scoring by uplift."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from churn.uplift.store import UpliftStore
from pipelines import score, uplift
from tests.conftest import compose_config, run_pipeline
from tests.pipelines.conftest import copy_store

FIRST, SECOND = "2025-07-01", "2025-10-01"  # windows of 90 days, both ended by the data end


def _common(demo: Path, work: Path) -> list[str]:
    return [
        f"data.generate.output_dir={demo}",
        f"model_dir={work}/models/churn",
        f"export.dir={work}/exports",
        f"offers.uplift_dir={work}/models/uplift",
        "tracking=none",
        "engine.threads=1",
    ]


def _score(demo: Path, work: Path, as_of: str | None, *extra: str) -> dict[str, object]:
    cfg = compose_config(
        "score",
        [
            *_common(demo, work),
            f"output_dir={work}/score",
            "offers.explore_fraction=0.5",
            "offers.control_fraction=0.3",
            "offers.budget=100000",
            "score.reasons_for=none",
            f"as_of={as_of}" if as_of else "as_of=null",
            *extra,
        ],
    )
    folder = score.run(cfg).folder
    return json.loads((Path(folder) / "manifest.json").read_text(encoding="utf-8"))


def _uplift_cfg(demo: Path, work: Path, *extra: str) -> object:
    return compose_config(
        "uplift",
        [
            *_common(demo, work),
            f"uplift.model_dir={work}/models/uplift",
            f"output_dir={work}/uplift",
            "uplift.min_rows_per_offer=20",
            "uplift.params.n_estimators=30",
            *extra,
        ],
    )


@pytest.fixture(scope="module")
def campaigns(small_demo_dir: Path, store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two exports at past dates with exploration, from the shared model store."""
    work = tmp_path_factory.mktemp("uplift")
    copy_store(store, work)
    for day in (FIRST, SECOND):
        _score(small_demo_dir, work, day)
    return work


@pytest.fixture(scope="module")
def trained(small_demo_dir: Path, campaigns: Path) -> uplift.UpliftResult:
    """``pipelines.uplift`` run once on the two campaigns."""
    return uplift.run(_uplift_cfg(small_demo_dir, campaigns))  # type: ignore[arg-type]


def test_uplift_trains_evaluates_and_stores_a_version(
    campaigns: Path, trained: uplift.UpliftResult
) -> None:
    assert trained.status == "trained"
    assert trained.version == 1
    store = UpliftStore(campaigns / "models" / "uplift")
    (manifest,) = store.manifests()
    assert manifest["evaluation"]["held_out"] == [SECOND]
    assert manifest["evaluation"]["trained_on"] == [FIRST]
    assert [c["as_of"] for c in manifest["campaigns"]] == [FIRST, SECOND]
    assert manifest["churn_model"]["horizon_days"] == 90
    assert store.champion == (1 if trained.passed else None)
    assert trained.reason == manifest["evaluation"]["reason"]


def test_score_by_uplift_uses_the_champion(
    small_demo_dir: Path, campaigns: Path, trained: uplift.UpliftResult, tmp_path: Path
) -> None:
    copy_store(campaigns / "models" / "churn", tmp_path)
    assert trained.version is not None
    stored = UpliftStore(campaigns / "models" / "uplift").load(trained.version)
    target = UpliftStore(tmp_path / "models" / "uplift")
    target.add_model(stored.model, {"features": list(stored.model.features)})
    target.promote(1, reason="test: serve it whatever the gate said")
    manifest = _score(small_demo_dir, tmp_path, None, "offers.objective=uplift")
    objective = manifest["offers"]["plan"]["objective"]  # type: ignore[index]
    assert objective["asked"] == "uplift"
    assert objective["used"] == "uplift"
    assert objective["uplift_version"] == 1
    scores = pd.read_parquet(tmp_path / "exports" / "2026-01-01" / "scores.parquet")
    covered = scores["offer"].isin(objective["uplift_offers"]).fillna(False)
    assert covered.any()


def test_score_by_uplift_without_a_model_plans_by_net_benefit(
    small_demo_dir: Path, store: Path, tmp_path: Path
) -> None:
    copy_store(store, tmp_path)
    manifest = _score(small_demo_dir, tmp_path, None, "offers.objective=uplift")
    objective = manifest["offers"]["plan"]["objective"]  # type: ignore[index]
    assert objective["used"] == "net_benefit"
    assert "no champion" in objective["reason"]


def test_uplift_with_one_campaign_says_too_little_history(
    small_demo_dir: Path, store: Path, tmp_path: Path
) -> None:
    copy_store(store, tmp_path)
    _score(small_demo_dir, tmp_path, FIRST)
    result = uplift.run(_uplift_cfg(small_demo_dir, tmp_path))  # type: ignore[arg-type]
    assert result.status == "insufficient_history"
    assert result.version is None
    assert "1 measured campaign(s)" in result.reason
    assert "at least 2" in result.reason
    assert not (tmp_path / "models" / "uplift").exists()


def test_uplift_cli_without_exports_exits_0_with_the_reason(
    small_demo_dir: Path, store: Path, tmp_path: Path
) -> None:
    copy_store(store, tmp_path)
    proc = run_pipeline(
        "uplift",
        *_common(small_demo_dir, tmp_path),
        f"uplift.model_dir={tmp_path}/models/uplift",
        f"hydra.run.dir={tmp_path}/run",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "too little campaign history" in proc.stdout + proc.stderr

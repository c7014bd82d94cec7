"""``python -m pipelines.score`` end to end on the small demo world, with a fresh bundle."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from churn import bundle, scoring
from churn.errors import BundleError, ConfigError, DataError, DriftError
from pipelines import score, train
from tests.conftest import compose_config, run_pipeline
from tests.pipelines.conftest import edit_manifest, score_cli

FAST_TRAIN = [
    "model.n_jobs=1",
    "model.params.learning_rate=0.1",
    "model.early_stopping_rounds=20",
    "train.shap_rows=200",
    "engine.threads=1",
]


@pytest.fixture(scope="module")
def trained(small_demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bundle trained on the small demo world, tracked to SQLite in its folder."""
    work = tmp_path_factory.mktemp("score")
    cwd = Path.cwd()
    os.chdir(work)
    try:
        train.run(
            compose_config(
                "train",
                [
                    f"data.generate.output_dir={small_demo_dir}",
                    f"output_dir={work}/train",
                    f"model_dir={work}/models/churn",
                    f"tracking.uri=sqlite:///{work}/mlflow.db",
                    *FAST_TRAIN,
                ],
            )
        )
    finally:
        os.chdir(cwd)
    return work


def _score(demo: Path, work: Path, out: Path, *extra: str) -> score.ScoreResult:
    cfg = compose_config(
        "score",
        [
            f"data.generate.output_dir={demo}",
            f"model_dir={work}/models/churn",
            f"export.dir={out}/exports",
            f"output_dir={out}/run",
            f"tracking.uri=sqlite:///{work}/mlflow.db",
            "engine.threads=1",
            *extra,
        ],
    )
    return score.run(cfg)


@pytest.fixture(scope="module")
def scored(
    small_demo_dir: Path, trained: Path, tmp_path_factory: pytest.TempPathFactory
) -> score.ScoreResult:
    return _score(small_demo_dir, trained, tmp_path_factory.mktemp("scored"))


def test_score_accounts_for_every_customer_once(
    scored: score.ScoreResult, small_demo_dir: Path
) -> None:
    scores = pd.read_parquet(scored.folder / "scores.parquet")
    rejects = pd.read_csv(scored.folder / "rejects.csv", dtype=str)
    tx = pd.read_parquet(small_demo_dir / "transactions.parquet", columns=["customer_id"])
    customers = pd.read_parquet(small_demo_dir / "customers.parquet", columns=["customer_id"])

    assert scores["customer_id"].is_unique
    seen = set(tx["customer_id"]) | set(customers["customer_id"])
    assert set(scores["customer_id"]) | set(rejects["customer_id"]) == seen
    assert not set(scores["customer_id"]) & set(rejects["customer_id"])
    assert list(scores.columns) == scoring.SCORE_COLUMNS
    assert set(scores["status"]) == {"scored", "lapsed", "no_purchase"}
    is_scored = scores["status"] == "scored"
    assert scores.loc[is_scored, "churn_probability"].between(0, 1).all()
    assert scores.loc[is_scored, "risk_tier"].notna().all()
    assert scores.loc[~is_scored, "churn_probability"].isna().all()
    assert scores.loc[~is_scored, "risk_tier"].isna().all()
    assert (scores["as_of"] == scored.as_of).all()
    assert scored.counts["customers"] == len(scores)


def test_score_at_risk_list(scored: score.ScoreResult) -> None:
    at_risk = pd.read_csv(scored.folder / "at_risk.csv", dtype={"customer_id": str})
    parquet = pd.read_parquet(scored.folder / "at_risk.parquet")
    manifest = json.loads((scored.folder / "manifest.json").read_text())

    assert list(at_risk.columns) == scoring.AT_RISK_COLUMNS
    assert len(at_risk) == len(parquet) == manifest["counts"]["at_risk"] > 0
    assert at_risk["customer_id"].is_unique
    # the at-risk tiers, and low-risk customers only when an offer is planned for them
    scored_rows = at_risk[at_risk["status"] == "scored"]
    low = scored_rows[~scored_rows["risk_tier"].isin(["medium", "high", "very_high"])]
    assert (low["offer"].notna() | low["control_group"]).all()
    assert set(low["offer"].dropna()) <= {"onboarding_nudge"}
    benefit = at_risk["expected_net_benefit"].dropna()
    assert (np.diff(benefit.to_numpy()) <= 1e-9).all()  # sorted by expected net benefit
    assert (parquet["expected_net_benefit"].dropna() > 0).all()  # the CSV rounds to cents
    offered = at_risk[at_risk["offer"].notna()]
    assert not offered["control_group"].any()
    assert (at_risk.loc[at_risk["status"] == "lapsed", "offer"].dropna() == "win_back").all()
    assert offered["reason_1"].notna().sum() >= len(offered[offered["status"] == "scored"])
    assert manifest["offers"]["budget_used"] <= manifest["offers"]["budget"]
    assert manifest["counts"]["budget_used"] == pytest.approx(offered["offer_cost"].sum())
    assert manifest["model"]["version"] == "1"
    assert manifest["drift"]["n_columns"] > 30
    # scores.parquet carries every customer's contact, the same as the list's
    scores = pd.read_parquet(scored.folder / "scores.parquet").set_index("customer_id")
    listed = parquet.set_index("customer_id")
    for column in ("offer", "control_group", "control_offer", "contact_status"):
        pd.testing.assert_series_equal(
            scores.loc[listed.index, column], listed[column], check_names=False
        )
    rest = scores.drop(index=listed.index)
    assert rest["offer"].isna().all()
    assert not rest["control_group"].any()
    arms = manifest["offers"]["by_offer"]
    assert sum(a["contacted"] for a in arms.values()) == len(offered)
    assert sum(a["control"] for a in arms.values()) == int(at_risk["control_group"].sum())
    for arm in arms.values():
        detectable = arm["min_detectable_save_rate"]
        assert detectable is None or 0 < detectable <= 1
    assert oct(scored.folder.stat().st_mode & 0o777) == "0o700"
    assert oct((scored.folder / "at_risk.csv").stat().st_mode & 0o777) == "0o600"


def test_score_tiers_rise_with_realised_churn(
    scored: score.ScoreResult, small_demo_dir: Path
) -> None:
    scores = pd.read_parquet(scored.folder / "scores.parquet")
    future = pd.read_parquet(small_demo_dir / "future" / "transactions.parquet")
    horizon = pd.Timedelta(days=90)
    window = future[
        (future["amount"] > 0)
        & (future["timestamp"] >= scored.as_of)
        & (future["timestamp"] < scored.as_of + horizon)
    ]
    scores = scores[scores["status"] == "scored"].copy()
    scores["churned"] = ~scores["customer_id"].isin(set(window["customer_id"]))

    by_tier = scores.groupby("risk_tier")["churned"].mean()
    shares = [by_tier[t] for t in ("low", "medium", "high", "very_high")]

    assert shares == sorted(shares)
    assert shares[-1] - shares[0] > 0.5


def test_score_rerun_replaces_with_identical_files(
    small_demo_dir: Path, trained: Path, tmp_path: Path
) -> None:
    first = _score(small_demo_dir, trained, tmp_path)
    scores = pd.read_parquet(first.folder / "scores.parquet")
    at_risk = pd.read_parquet(first.folder / "at_risk.parquet")
    (first.folder / "stale.txt").write_text("left over")

    second = _score(small_demo_dir, trained, tmp_path)

    assert second.folder == first.folder
    pd.testing.assert_frame_equal(pd.read_parquet(second.folder / "scores.parquet"), scores)
    pd.testing.assert_frame_equal(pd.read_parquet(second.folder / "at_risk.parquet"), at_risk)
    assert not (second.folder / "stale.txt").exists()
    exports = [p.name for p in (tmp_path / "exports").iterdir() if p.suffix != ".lock"]
    assert exports == [first.folder.name]


def test_score_from_registry_matches_bundle(
    scored: score.ScoreResult, small_demo_dir: Path, trained: Path, tmp_path: Path
) -> None:
    cwd = Path.cwd()
    os.chdir(trained)
    try:
        result = _score(small_demo_dir, trained, tmp_path, "source=registry")
    finally:
        os.chdir(cwd)
    pd.testing.assert_frame_equal(
        pd.read_parquet(result.folder / "scores.parquet"),
        pd.read_parquet(scored.folder / "scores.parquet"),
    )


def _registered_artifacts(work: Path) -> list[Path]:
    """The folders of the champion's registered model and of its run, in the local store."""
    from mlflow import MlflowClient

    uri = f"sqlite:///{work}/mlflow.db"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    version = client.get_model_version_by_alias("churn", "champion")
    logged = client.get_logged_model(version.source.removeprefix("models:/"))
    run = client.get_run(version.run_id)
    return [Path(logged.artifact_location), Path(run.info.artifact_uri)]


def test_the_registered_model_holds_no_pickle(trained: Path) -> None:
    model_dir, run_dir = _registered_artifacts(trained)
    files = [p for folder in (model_dir, run_dir) for p in folder.rglob("*") if p.is_file()]
    names = {p.name for p in files}
    assert {"MLmodel", "booster.txt", "model.json", "manifest.json"} <= names  # not vacuous
    assert [p for p in files if p.suffix in (".pkl", ".pickle", ".joblib", ".skops")] == []
    # nor any file in pickle's binary form (protocol 2 and later begin with 0x80, protocol)
    assert [p for p in files if p.read_bytes()[:2] in {bytes([0x80, n]) for n in range(2, 6)}] == []
    flavor = yaml.safe_load((model_dir / "MLmodel").read_text())["flavors"]["python_function"]
    assert flavor["loader_module"] == "mlflow.pyfunc.loaders.code_model"  # a model from code
    assert "python_model" not in flavor  # no pickled PythonModel


def test_score_from_registry_refuses_a_model_changed_after_registration(
    small_demo_dir: Path, trained: Path, tmp_path: Path
) -> None:
    # every copy of the registered booster in the artifact store (the model's and its run's)
    boosters = [p for d in _registered_artifacts(trained) for p in d.rglob("booster.txt")]
    assert len(boosters) == 2
    original = {path: path.read_bytes() for path in boosters}
    try:
        for path in boosters:
            path.write_bytes(original[path].replace(b"\nTree=0\n", b"\nTree=0 \n", 1))
        proc = score_cli(
            small_demo_dir,
            trained / "models" / "churn",
            tmp_path,
            "source=registry",
            f"tracking.uri=sqlite:///{trained}/mlflow.db",
        )
    finally:
        for path, content in original.items():
            path.write_bytes(content)
    assert proc.returncode == 5, proc.stderr[-2000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert re.fullmatch(
        r"BundleError: bundle \S+: booster\.txt has sha256 .*refusing to load it", last
    )
    assert not (tmp_path / "exports").exists()


def test_score_killed_mid_publish_keeps_the_previous_export_whole(
    small_demo_dir: Path, trained: Path, tmp_path: Path
) -> None:
    store = trained / "models" / "churn"
    first = score_cli(small_demo_dir, store, tmp_path, "as_of=2026-01-01")
    assert first.returncode == 0, first.stderr[-2000:]
    exports = tmp_path / "exports"
    folder = exports / "2026-01-01"
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert {"scores.parquet", "at_risk.csv", "manifest.json"} <= set(before)

    killed = score_cli(
        small_demo_dir, store, tmp_path, "as_of=2026-01-01", env={"CHURN_FAULT": "filled"}
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before  # the old one, whole
    assert [p.name for p in exports.glob(".2026-01-01.*.tmp")]  # killed mid-publish

    again = score_cli(small_demo_dir, store, tmp_path, "as_of=2026-01-01")
    assert again.returncode == 0, again.stderr[-2000:]
    assert sorted(p.name for p in exports.iterdir()) == [".2026-01-01.lock", "2026-01-01"]
    assert {p.name for p in folder.iterdir()} == set(before)
    pd.testing.assert_frame_equal(
        pd.read_parquet(folder / "scores.parquet"),
        pd.read_parquet(io.BytesIO(before["scores.parquet"])),
    )


def test_score_missing_model(small_demo_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(BundleError, match=r"manifest\.json .*not found"):
        _score(small_demo_dir, tmp_path / "nothing", tmp_path)
    assert not (tmp_path / "exports").exists()


def test_score_tampered_model(small_demo_dir: Path, trained: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(trained / "models", copy / "models", symlinks=True)
    with open(copy / "models" / "churn" / "champion" / "booster.txt", "ab") as handle:
        handle.write(b"\0")
    with pytest.raises(BundleError, match="sha256"):
        _score(small_demo_dir, copy, tmp_path)
    assert not (tmp_path / "exports").exists()


def test_score_feature_mismatch(small_demo_dir: Path, trained: Path, tmp_path: Path) -> None:
    # without the events table the complaint, ticket and NPS features cannot be built
    with pytest.raises(BundleError, match=r"feature schema mismatch.*complaints_90d"):
        _score(small_demo_dir, trained, tmp_path, "data.events=null")


def test_score_as_of_before_the_data(small_demo_dir: Path, trained: Path, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="before the data"):
        _score(small_demo_dir, trained, tmp_path, "as_of=2020-01-01")


def test_score_empty_population(small_demo_dir: Path, trained: Path, tmp_path: Path) -> None:
    result = _score(small_demo_dir, trained, tmp_path, "as_of=2028-01-01")
    scores = pd.read_parquet(result.folder / "scores.parquet")
    assert "scored" not in set(scores["status"])
    assert result.counts["by_status"]["lapsed"] > 0
    at_risk = pd.read_parquet(result.folder / "at_risk.parquet")
    assert set(at_risk["offer"].dropna()) <= {"win_back", "onboarding_nudge"}


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("tiers.edges=[0.0,0.6,0.3,1.0]", "strictly ascending"),
        ("tiers.names=[a,b]", "distinct names"),
        ("offers.catalog.discount_voucher.tiers=[urgent]", "not tiers"),
        ("offers.catalog.win_back.save_rate=1.5", "save_rate"),
        ("offers.budget=-1", "offers.budget"),
        ("score.reasons_for=some", "reasons_for"),
    ],
)
def test_score_invalid_config(
    small_demo_dir: Path, trained: Path, tmp_path: Path, override: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        _score(small_demo_dir, trained, tmp_path, override)


def test_score_budget_and_capacity(small_demo_dir: Path, trained: Path, tmp_path: Path) -> None:
    result = _score(
        small_demo_dir,
        trained,
        tmp_path,
        "offers.budget=60",
        "offers.catalog.personal_call.capacity=1",
        "offers.control_fraction=0",
    )
    at_risk = pd.read_parquet(result.folder / "at_risk.parquet")
    assert at_risk["offer_cost"].sum() <= 60 + 1e-9  # floating-point sums of the costs
    assert (at_risk["offer"] == "personal_call").sum() <= 1
    assert (at_risk["contact_status"] == "budget").any()


def test_score_cooldown_and_suppression(
    small_demo_dir: Path, trained: Path, tmp_path: Path
) -> None:
    first = _score(small_demo_dir, trained, tmp_path)
    offered = pd.read_parquet(first.folder / "at_risk.parquet").dropna(subset=["offer"])
    opt_out = offered["customer_id"].iloc[:5]
    suppression = tmp_path / "opt_out.csv"
    opt_out.to_frame().to_csv(suppression, index=False)
    later = (first.as_of + pd.Timedelta(days=7)).date()

    second = _score(
        small_demo_dir,
        trained,
        tmp_path,
        f"as_of={later}",
        f"offers.suppression_file={suppression}",
    )

    again = pd.read_parquet(second.folder / "at_risk.parquet")
    repeated = again[again["customer_id"].isin(offered["customer_id"])]
    assert repeated["offer"].isna().all()
    assert set(repeated["contact_status"]) <= {"cooldown", "suppressed"}
    assert (again.loc[again["customer_id"].isin(opt_out), "contact_status"] == "suppressed").all()


def test_score_drift_can_stop_the_run(small_demo_dir: Path, trained: Path, tmp_path: Path) -> None:
    # a month later the tenure of everyone has shifted: with tiny thresholds that is drift
    with pytest.raises(DriftError, match="drift above"):
        _score(
            small_demo_dir,
            trained,
            tmp_path,
            "drift.warn=0.00001",
            "drift.flag=0.00002",
            "drift.fail_on_flag=true",
            "as_of=2026-02-01",
        )
    assert not (tmp_path / "exports").exists()


def test_score_cli_exit_code_on_missing_model(small_demo_dir: Path, tmp_path: Path) -> None:
    proc = run_pipeline(
        "score",
        f"data.generate.output_dir={small_demo_dir}",
        f"model_dir={tmp_path}/none",
        f"export.dir={tmp_path}/exports",
        f"hydra.run.dir={tmp_path}/run",
        cwd=tmp_path,
    )
    assert proc.returncode == 5, proc.stderr[-2000:]
    assert proc.stderr.strip().splitlines()[-1].startswith("BundleError: bundle")


def test_score_logs_counts_to_mlflow(small_demo_dir: Path, trained: Path, tmp_path: Path) -> None:
    from mlflow import MlflowClient

    cwd = Path.cwd()
    os.chdir(trained)
    try:
        result = _score(small_demo_dir, trained, tmp_path, "score.log_to_mlflow=true")
    finally:
        os.chdir(cwd)
    client = MlflowClient(tracking_uri=f"sqlite:///{trained}/mlflow.db")
    experiment = client.get_experiment_by_name("churn-scoring")
    assert experiment is not None
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.data.params["as_of"] == str(result.as_of.date())
    assert run.data.metrics["customers"] == result.counts["customers"]
    assert any(key.startswith("psi/") for key in run.data.metrics)
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert artifacts == {"scoring_manifest.json"}  # counts only: no customer rows


def _formula_world(small_demo_dir: Path, folder: Path) -> tuple[str, str]:
    """The small demo world with every id starting with ``=``; one customer's rows all bad.

    Returns the id whose transactions are all rejected at load (it is left out of the customers
    table, so it cannot be scored) and one renamed id.
    """
    folder.mkdir()
    tables = {
        name: pd.read_parquet(small_demo_dir / f"{name}.parquet")
        for name in ("transactions", "customers", "events")
    }
    for table in tables.values():
        table["customer_id"] = "=" + table["customer_id"].astype(str)
    tx = tables["transactions"]
    counts = tx["customer_id"].value_counts()
    bad = str(counts.index[-1])  # the fewest rows: well under the reject limit
    tx.loc[tx["customer_id"] == bad, "amount"] = np.nan
    tables["customers"] = tables["customers"][tables["customers"]["customer_id"] != bad]
    for name, table in tables.items():
        table.to_parquet(folder / f"{name}.parquet", index=False)
    return bad, str(counts.index[0])


def test_score_cli_csv_is_safe_for_spreadsheets_and_names_rejected_rows(
    small_demo_dir: Path, tmp_path: Path
) -> None:
    from tests.pipelines.conftest import FAST

    demo = tmp_path / "demo"
    bad, renamed = _formula_world(small_demo_dir, demo)
    common = [f"data.generate.output_dir={demo}", f"model_dir={tmp_path}/models/churn"]
    trained = run_pipeline("train", *common, *FAST, f"hydra.run.dir={tmp_path}/t", cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr[-3000:]
    proc = run_pipeline(
        "score",
        *common,
        "engine.threads=1",
        f"export.dir={tmp_path}/exports",
        f"hydra.run.dir={tmp_path}/s",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (folder,) = [p for p in (tmp_path / "exports").iterdir() if p.suffix != ".lock"]

    raw = pd.read_parquet(folder / "at_risk.parquet")
    assert len(raw) > 0
    assert raw["customer_id"].str.startswith("=").all()  # the Parquet keeps the raw ids
    assert (raw["churn_probability"].dropna().round(3) != raw["churn_probability"].dropna()).any()
    text = pd.read_csv(folder / "at_risk.csv", dtype=str, keep_default_na=False)
    assert text["customer_id"].tolist() == ("'" + raw["customer_id"]).tolist()
    decimals = text["churn_probability"].str.partition(".")[2].str.len()
    assert decimals.max() <= 3
    for money in ("value", "value_at_risk", "offer_cost", "expected_net_benefit"):
        assert text[money].str.partition(".")[2].str.len().max() <= 2, money
    reasons = text[["reason_1", "reason_2", "reason_3"]].to_numpy().ravel().tolist()
    assert not [r for r in reasons if "unknown" in r or r.startswith(("=", "+", "-", "@"))]
    assert renamed in set(pd.read_parquet(folder / "scores.parquet")["customer_id"])

    rejects = pd.read_csv(folder / "rejects.csv", dtype=str)
    assert rejects["customer_id"].tolist() == ["'" + bad]
    assert "rejected at load" in rejects["reason"].iloc[0]
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    rows_file = Path(manifest["input"]["rejected_rows_file"])
    assert not rows_file.is_absolute()  # no machine paths in a file handed out
    assert (tmp_path / rows_file).resolve() == (tmp_path / "s" / "rejects.csv").resolve()
    rows = pd.read_csv(tmp_path / rows_file, dtype=str)
    assert set(rows["customer_id"]) == {"'" + bad}
    assert manifest["input"]["rows"]["transactions"]["rejected"] == len(rows)


def test_score_uses_the_bundles_purchase_rule(
    small_demo_dir: Path, trained: Path, tmp_path: Path
) -> None:
    """A customer whose only orders are free is ``no_purchase`` under ``positive`` and scored
    under ``non_negative``: scoring follows the rule stored in the bundle, not conf/."""
    demo = tmp_path / "demo"
    shutil.copytree(small_demo_dir, demo)
    tx = pd.read_parquet(demo / "transactions.parquet")
    end = tx["timestamp"].max().normalize() + pd.Timedelta(days=1)
    free = tx.iloc[:3].assign(
        customer_id="free-only",
        amount=0.0,
        timestamp=[end - pd.Timedelta(days=d) for d in (60, 30, 10)],
    )
    if "transaction_id" in free.columns:
        free["transaction_id"] = [f"free-{i}" for i in range(3)]
    pd.concat([tx, free], ignore_index=True).to_parquet(demo / "transactions.parquet")
    work = tmp_path / "work"
    shutil.copytree(trained / "models", work / "models", symlinks=True)

    def status(out: str) -> str:
        result = _score(demo, work, tmp_path / out)
        scores = pd.read_parquet(result.folder / "scores.parquet").set_index("customer_id")
        return str(scores.loc["free-only", "status"])

    assert status("positive") == "no_purchase"
    champion = (work / "models" / "churn" / "champion").resolve()
    edit_manifest(champion, lambda m: m["training"]["label"].update(purchase_rule="non_negative"))
    assert status("non_negative") == "scored"


def test_a_deployed_baseline_scores_end_to_end_with_reasons(
    small_demo_dir: Path, tmp_path: Path
) -> None:
    # margin -1: any baseline better than LightGBM + 1 in Brier replaces it, so the best does
    trained = run_pipeline(
        "train",
        f"data.generate.output_dir={small_demo_dir}",
        f"model_dir={tmp_path}/models/churn",
        f"hydra.run.dir={tmp_path}/train",
        *FAST_TRAIN,
        "tracking=none",
        "train.selection.margin=-1",
        cwd=tmp_path,
    )
    assert trained.returncode == 0, trained.stderr[-3000:]
    served = bundle.load_served(tmp_path / "models" / "churn")
    assert served.manifest.model.kind == "bgnbd"  # the best baseline on the demo world
    assert served.manifest.selection is not None
    assert served.manifest.selection.chosen == "bgnbd"
    assert list(served.manifest.model.files) == ["model.json"]

    scored = run_pipeline(
        "score",
        f"data.generate.output_dir={small_demo_dir}",
        f"model_dir={tmp_path}/models/churn",
        f"export.dir={tmp_path}/exports",
        f"hydra.run.dir={tmp_path}/score",
        "engine.threads=1",
        cwd=tmp_path,
    )

    assert scored.returncode == 0, scored.stderr[-3000:]
    at_risk = pd.concat(pd.read_parquet(p) for p in (tmp_path / "exports").rglob("at_risk.parquet"))
    scored_rows = at_risk[at_risk["status"] == "scored"]  # the lapsed get win-back, no score
    assert len(scored_rows) > 100
    assert scored_rows["reason_1"].notna().mean() > 0.9
    assert scored_rows["reason_1"].str.contains("no purchase for").any()
    assert scored_rows["reason_1"].str.contains("bought on").any()


def test_score_reasons_for_offered_explains_only_the_customers_given_an_offer(
    small_demo_dir: Path, trained: Path, tmp_path: Path
) -> None:
    result = _score(small_demo_dir, trained, tmp_path, "score.reasons_for=offered")
    listed = pd.read_parquet(result.folder / "at_risk.parquet")
    offered = listed["offer"].notna() & (listed["status"] == "scored")
    assert offered.any()
    assert listed.loc[offered, "reason_1"].notna().all()
    assert listed.loc[~offered, "reason_1"].isna().all()  # at risk without an offer: no SHAP

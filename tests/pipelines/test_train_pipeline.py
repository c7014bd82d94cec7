"""``python -m pipelines.train`` end to end on small data, tracking to SQLite in tmp_path."""

from __future__ import annotations

import dataclasses
import json
import os
import socket
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient
from mlflow.models import Model

from churn import bundle, synthetic, tracking
from churn.errors import TrackingError
from pipelines import score, train
from tests.conftest import compose_config, run_pipeline

# Small and quick: n_jobs=1 as LightGBM stalls with all cores on a busy machine.
FAST = [
    "model.n_jobs=1",
    "model.params.learning_rate=0.1",
    "model.early_stopping_rounds=20",
    "train.shap_rows=300",
    "engine.threads=1",
]


# A weak LightGBM kept by a margin no baseline can beat (else BG/NBD would be deployed, and on
# the demo world it is no worse than the champion on the test cutoff)
WEAK = ("model.n_estimators=1", "calibration=none", "train.selection.margin=1")


def _config(demo: Path, work: Path, *extra: str) -> list[str]:
    return [
        f"data.generate.output_dir={demo}",
        f"output_dir={work}/out",
        f"model_dir={work}/models/churn",
        f"tracking.uri=sqlite:///{work}/mlflow.db",
        *FAST,
        *extra,
    ]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("train")


@pytest.fixture(scope="module")
def first(small_demo_dir: Path, work: Path) -> train.TrainResult:
    """One training run; mlflow's artifacts go under the working folder (./mlruns)."""
    cwd = Path.cwd()
    os.chdir(work)
    try:
        return train.run(compose_config("train", _config(small_demo_dir, work)))
    finally:
        os.chdir(cwd)


def test_train_run_writes_the_bundle(first: train.TrainResult, work: Path) -> None:
    assert first.model_dir == work / "models" / "churn" / "versions" / "1"
    assert first.version == 1
    loaded = bundle.load_served(work / "models" / "churn")
    assert loaded.path == first.model_dir
    manifest = loaded.manifest
    assert manifest.horizon_days == 90
    assert manifest.model.files == {
        name: bundle.file_sha256(first.model_dir / name) for name in bundle.MODEL_FILES
    }
    assert not list(first.model_dir.glob("*.joblib"))  # no pickle in the bundle
    features = manifest.feature_names
    assert "recency_days" in features
    assert "customer_id" not in features
    assert {f.dtype for f in manifest.features} <= {"float64", "int64", "str", "string"}
    assert set(manifest.reference_distributions) == {*features, "churn_probability"}
    assert manifest.evaluation["target"] == manifest.deployment["calibration"]
    assert manifest.evaluation["evaluation_mode"] == "out_of_time"
    assert manifest.deployment["calibration_mode"] == "out_of_time"
    assert manifest.training.label.purchase_rule == "positive"
    # the small demo: LightGBM validates best on the calibration cutoff, and is deployed
    assert manifest.model.kind == "calibrated-lightgbm"
    assert manifest.selection is not None
    assert manifest.selection.chosen == manifest.evaluation["selected"] == "lightgbm"
    assert (
        manifest.selection.validation
        == f"the calibration cutoff {manifest.evaluation['calibration']}"
    )
    assert {c.name for c in manifest.selection.candidates} == {
        "lightgbm",
        "recency",
        "rfm_logistic",
        "bgnbd",
    }
    slices = manifest.evaluation["slices"]
    assert {s["slice"] for s in slices} >= {"lifecycle_stage", "tenure", "value", "channel"}
    assert all(s["rows"] > 0 for s in slices)
    # each test customer's main channel before the test cutoff (the demo's web, app, store)
    channels = {s["segment"]: s["rows"] for s in slices if s["slice"] == "channel"}
    assert set(channels) == {"web", "app", "store"}
    assert sum(channels.values()) == sum(s["rows"] for s in slices if s["slice"] == "value")
    assert any("roc_auc" in s and "best_baseline_roc_auc" in s for s in slices)
    assert manifest.deployment["target"] == manifest.data_end
    assert manifest.metrics["test/roc_auc"] == pytest.approx(first.metrics["test/roc_auc"])
    assert "test/oracle/roc_auc" in manifest.metrics  # demo data: the oracle is reported
    assert manifest.data_fingerprint["rows"] > 0
    assert manifest.training.horizon_days == 90
    assert {"lightgbm", "scikit-learn", "python"} <= set(manifest.libraries)
    assert manifest.mlflow is not None
    assert manifest.mlflow["version"] == "1"
    assert set(manifest.mlflow["aliases"]) == {"challenger", "champion"}
    latest = pd.DataFrame(json.loads(json.dumps(manifest.to_dict()["features"])))
    assert len(latest) == len(features)
    assert {"load", "training_table", "evaluation_fit", "deployment_fit", "tracking"} <= set(
        first.seconds
    )
    assert (work / "out" / "metrics.json").is_file()
    assert (work / "out" / "plots" / "shap_summary.png").is_file()
    # the CLV check at the test cutoff: its plot in the bundle, its totals as test metrics
    assert (work / "out" / "plots" / "clv_check.png").is_file()
    assert manifest.plots["clv_check"] == "plots/clv_check.png"
    assert (first.model_dir / "plots" / "clv_check.png").is_file()
    clv = manifest.evaluation["clv_check"]
    assert clv["cutoff"] == manifest.evaluation["target"]
    assert clv["buckets"][0]["bucket"] == "0"
    for name in ("spend_error", "purchases_error", "spend_pearson"):
        assert manifest.metrics[f"test/clv_{name}"] == pytest.approx(clv["totals"][name])
    assert abs(first.metrics["test/clv_spend_error"]) < 0.5
    assert "clv_check" in first.seconds  # timed on its own (one fit at one cutoff)


def test_train_run_is_tracked(first: train.TrainResult, work: Path) -> None:
    uri = f"sqlite:///{work}/mlflow.db"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    assert first.run is not None
    run = client.get_run(first.run.run_id)
    assert run.data.params["label.horizon_days"] == "90"
    assert run.data.params["calibration.method"] == "isotonic"
    assert run.data.metrics["test/roc_auc"] == pytest.approx(first.metrics["test/roc_auc"])
    assert "test/bgnbd/brier" in run.data.metrics
    assert "test/oracle/roc_auc" in run.data.metrics
    assert run.data.tags["horizon_days"] == "90"
    assert run.data.params["evaluation_mode"] == run.data.tags["evaluation_mode"] == "out_of_time"
    assert run.data.params["calibration_mode"] == "out_of_time"
    assert run.data.params["label.purchase_rule"] == "positive"
    assert run.data.params["selection/chosen"] == run.data.tags["selection/chosen"] == "lightgbm"
    assert run.data.params["train.selection.metric"] == "brier"
    assert {"selection/lightgbm/brier", "selection/bgnbd/roc_auc"} <= set(run.data.metrics)
    artifacts = {a.path for a in client.list_artifacts(first.run.run_id)}
    assert {
        "config.yaml",
        "data_fingerprint.json",
        "plots",
        "bundle",
        "promotion.json",
    } <= artifacts
    plots = {Path(a.path).name for a in client.list_artifacts(first.run.run_id, "plots")}
    assert {"roc.png", "reliability.png", "cumulative_gain.png", "shap_summary.png"} <= plots
    assert "clv_check.png" in plots
    assert "test/clv_spend_error" in run.data.metrics

    version = client.get_model_version_by_alias("churn", "champion")
    assert str(version.version) == "1"
    assert version.run_id == first.run.run_id
    assert str(client.get_model_version_by_alias("churn", "challenger").version) == "1"


def test_train_registered_model_predicts_probabilities(
    first: train.TrainResult, work: Path, small_training_table: pd.DataFrame
) -> None:
    mlflow.set_tracking_uri(f"sqlite:///{work}/mlflow.db")
    mlflow.set_registry_uri(f"sqlite:///{work}/mlflow.db")
    loaded = mlflow.pyfunc.load_model("models:/churn@champion")
    features = bundle.read_manifest(first.model_dir).feature_names
    rows = small_training_table[features].head(20)

    proba = loaded.predict(rows)

    local = bundle.load(first.model_dir).model.predict_proba(rows)
    assert proba.shape == (20, 2)
    pd.testing.assert_frame_equal(
        pd.DataFrame(proba).astype(float), pd.DataFrame(local).astype(float), atol=1e-9
    )
    schema = loaded.metadata.get_input_schema()
    assert schema is not None
    assert schema.input_names() == features
    local_copy = mlflow.artifacts.download_artifacts(
        artifact_uri="models:/churn@champion", dst_path=str(work / "pyfunc")
    )
    example = Model.load(local_copy).load_input_example(local_copy)
    assert list(example.columns) == features  # feature rows only: no customer id
    assert len(example) == 5


def test_train_registry_bundle_download(first: train.TrainResult, work: Path) -> None:
    config = tracking.TrackingConfig(uri=f"sqlite:///{work}/mlflow.db")
    cwd = Path.cwd()
    os.chdir(work)
    try:
        folder = tracking.download_bundle(config, "champion", work / "downloaded")
    finally:
        os.chdir(cwd)
    assert (
        bundle.load(folder).manifest.model.digest
        == bundle.read_manifest(first.model_dir).model.digest
    )


def test_train_weak_model_stays_challenger(
    first: train.TrainResult, small_demo_dir: Path, work: Path
) -> None:
    cwd = Path.cwd()
    os.chdir(work)
    try:
        weak = train.run(
            compose_config(
                "train",
                _config(small_demo_dir, work, *WEAK, "seed=1"),
            )
        )
        again = train.run(compose_config("train", _config(small_demo_dir, work)))
    finally:
        os.chdir(cwd)
    assert not weak.decision.promote
    assert any("is worse than" in reason for reason in weak.decision.reasons)
    client = MlflowClient(tracking_uri=f"sqlite:///{work}/mlflow.db")
    assert weak.run is not None
    assert weak.run.aliases == ("challenger",)
    # the same recipe again is no worse than the champion: promoted
    assert again.decision.promote
    assert any("is no worse than champion v1" in reason for reason in again.decision.reasons)
    assert str(client.get_model_version_by_alias("churn", "champion").version) == "3"
    assert str(client.get_model_version_by_alias("churn", "challenger").version) == "3"


@pytest.mark.parametrize("on_error", ["warn", "fail"])
def test_train_unreachable_tracking_keeps_the_bundle(
    small_demo_dir: Path, tmp_path: Path, on_error: str
) -> None:
    overrides = _config(
        small_demo_dir,
        tmp_path,
        "tracking=server",
        f"tracking.uri=http://127.0.0.1:{_free_port()}",
        "tracking.max_retries=0",
        "tracking.timeout_s=2",
        f"tracking.on_error={on_error}",
    )
    cfg = compose_config("train", overrides)
    if on_error == "warn":
        result = train.run(cfg)
        assert result.run is None
    else:
        with pytest.raises(TrackingError, match=r"127\.0\.0\.1.*version 1 was stored in"):
            train.run(cfg)
    assert bundle.load_served(tmp_path / "models" / "churn").manifest.horizon_days == 90


def test_a_promotion_tracking_missed_is_registered_by_the_next_run(
    small_demo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    unreachable = compose_config(
        "train",
        _config(
            small_demo_dir,
            tmp_path,
            "tracking=server",
            f"tracking.uri=http://127.0.0.1:{_free_port()}",
            "tracking.timeout_s=2",
            "tracking.on_error=fail",
        ),
    )
    with pytest.raises(TrackingError):
        train.run(unreachable)  # version 1 is promoted locally all the same
    store = bundle.ModelStore(tmp_path / "models" / "churn")
    assert store.champion == 1
    weak = train.run(compose_config("train", _config(small_demo_dir, tmp_path, *WEAK)))
    assert not weak.decision.promote
    assert store.champion == 1
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/mlflow.db")
    champion = client.get_model_version_by_alias("churn", "champion")
    challenger = client.get_model_version_by_alias("churn", "challenger")
    assert weak.run is not None
    assert challenger.version == int(weak.run.version or 0)
    assert champion.version != challenger.version
    assert client.get_run(champion.run_id).data.tags["store_version"] == "1"
    record = bundle.read_manifest(store.path(1)).mlflow
    assert record is not None
    assert str(record["version"]) == str(champion.version)
    assert bundle.load_served(store.root).path == store.path(1)


def test_train_without_tracking(small_demo_dir: Path, tmp_path: Path) -> None:
    cfg = compose_config(
        "train", _config(small_demo_dir, tmp_path, "tracking=none", "calibration=sigmoid")
    )
    result = train.run(cfg)
    assert result.run is None
    assert not (tmp_path / "mlflow.db").exists()
    manifest = bundle.read_manifest(result.model_dir)
    assert manifest.training.calibration == "sigmoid"
    assert manifest.mlflow is None


@pytest.fixture(scope="module")
def short_demo_dir(tmp_path_factory: pytest.TempPathFactory, world: synthetic.WorldConfig) -> Path:
    """A demo world of 13 months only (1,500 customers)."""
    short = dataclasses.replace(world, start_date="2024-12-01", end_date="2026-01-01")
    out = tmp_path_factory.mktemp("short") / "demo"
    synthetic.save(synthetic.generate(short, n_customers=1_500, seed=0), out, seed=0)
    return out


def test_train_short_history_evaluates_in_time_and_scores(
    short_demo_dir: Path, tmp_path: Path
) -> None:
    cfg = compose_config(
        "train", _config(short_demo_dir, tmp_path, "tracking=none", "label.horizon_days=182")
    )

    result = train.run(cfg)

    manifest = bundle.read_manifest(result.model_dir)
    assert manifest.evaluation["evaluation_mode"] == "in_time"
    assert manifest.evaluation["calibration_mode"] == "cross_fitted"
    assert manifest.evaluation["calibration"] is None
    assert manifest.deployment["evaluation_mode"] == "in_time"
    assert manifest.horizon_days == 182
    assert result.metrics["test/roc_auc"] > 0.7
    # promoted only because there is no champion yet; its in-time metrics are not compared
    assert result.decision.promote
    assert result.decision.reasons[0] == "in-time evaluation: not compared with the baselines"
    scored = score.run(
        compose_config(
            "score",
            [
                f"data.generate.output_dir={short_demo_dir}",
                f"model_dir={tmp_path}/models/churn",
                f"export.dir={tmp_path}/exports",
                f"output_dir={tmp_path}/score",
                "tracking=none",
                "engine.threads=1",
            ],
        )
    )
    scores = pd.read_parquet(scored.folder / "scores.parquet")
    assert scores.loc[scores["status"] == "scored", "churn_probability"].between(0, 1).all()
    assert (scores["status"] == "scored").sum() > 100
    # a second in-time version is stored beside the champion, not compared with it
    again = train.run(cfg)
    assert again.version == 2
    assert not again.decision.promote
    assert bundle.ModelStore(tmp_path / "models" / "churn").champion == 1


@pytest.mark.slow
def test_train_cli_multirun_sweep(small_demo_dir: Path, tmp_path: Path) -> None:
    overrides = [o for o in _config(small_demo_dir, tmp_path) if not o.startswith("output_dir")]
    proc = run_pipeline(
        "train",
        "-m",
        "model.params.num_leaves=7,15",
        "tracking=sqlite",
        f"hydra.sweep.dir={tmp_path}/multirun",
        *overrides,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/mlflow.db")
    experiment = client.get_experiment_by_name("churn")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id])
    assert sorted(r.data.params["model.params.num_leaves"] for r in runs) == ["15", "7"]
    assert (tmp_path / "multirun" / "0" / "plots" / "roc.png").is_file()
    assert (tmp_path / "multirun" / "1" / "metrics.json").is_file()


def test_train_cli_exit_code_on_too_little_history(small_demo_dir: Path, tmp_path: Path) -> None:
    # a horizon longer than the three years of history: not one labelled cutoff
    proc = run_pipeline(
        "train",
        *[o for o in _config(small_demo_dir, tmp_path) if not o.startswith("output_dir")],
        "label.horizon_days=1200",
        f"hydra.run.dir={tmp_path}/run",
        cwd=tmp_path,
    )
    assert proc.returncode == 3, proc.stderr[-2000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("InsufficientHistoryError: train: the training table is empty")
    assert "too little history for horizon 1200 days" in last
    assert "purchases from more than 1200 days before the data end" in last
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "models" / "churn").exists()

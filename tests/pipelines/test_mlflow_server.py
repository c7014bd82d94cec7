"""Training against a real ``mlflow server``: register, load the champion by alias, score with it.

The server runs on 127.0.0.1 at a free port with a SQLite backend and one worker, from its own
temporary folder, and is stopped by its PID. Training also works while the server is down: the
bundle is written and the message says so.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient

from churn import bundle
from churn.errors import TrackingError
from pipelines import score, train
from tests.conftest import compose_config

FAST = ["model.n_jobs=1", "train.shap_rows=100", "engine.threads=1", "promotion.metrics=[brier]"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _healthy(url: str) -> bool:
    """Whether the server answers its health check (not yet, while it starts: False)."""
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real tracking server; yields its URL."""
    folder = tmp_path_factory.mktemp("mlflow-server")
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--backend-store-uri",
            f"sqlite:///{folder}/server.db",
            "--artifacts-destination",
            str(folder / "artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=open(folder / "server.log", "wb"),  # noqa: SIM115 - closed with the process
        env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while not _healthy(url):
            if process.poll() is not None or time.monotonic() > deadline:
                log = (folder / "server.log").read_text(errors="replace")[-2000:]
                pytest.fail(f"mlflow server did not become healthy: {log}")
            time.sleep(0.5)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.mark.slow
def test_train_against_server_then_score_from_registry(
    server: str,
    small_demo_dir: Path,
    small_training_table: pd.DataFrame,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    common = [f"data.generate.output_dir={small_demo_dir}", f"model_dir={tmp_path}/models/churn"]
    result = train.run(
        compose_config(
            "train",
            [
                *common,
                f"output_dir={tmp_path}/train",
                "tracking=server",
                f"tracking.uri={server}",
                *FAST,
            ],
        )
    )
    assert result.run is not None
    assert "champion" in result.run.aliases

    client = MlflowClient(tracking_uri=server, registry_uri=server)
    version = client.get_model_version_by_alias("churn", "champion")
    assert version.run_id == result.run.run_id
    mlflow.set_tracking_uri(server)
    mlflow.set_registry_uri(server)
    model = mlflow.pyfunc.load_model("models:/churn@champion")
    features = bundle.read_manifest(result.model_dir).feature_names
    rows = small_training_table[features].head(50)
    local = bundle.load(result.model_dir).model.predict_proba(rows)
    assert abs(model.predict(rows) - local).max() < 1e-9

    scored = score.run(
        compose_config(
            "score",
            [
                *common,
                f"output_dir={tmp_path}/score",
                f"export.dir={tmp_path}/exports",
                "source=registry",
                "tracking=server",
                f"tracking.uri={server}",
            ],
        )
    )
    scores = pd.read_parquet(scored.folder / "scores.parquet")
    assert (scores["status"] == "scored").sum() > 0


@pytest.mark.slow
def test_train_with_server_down_keeps_the_bundle(
    small_demo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    down = f"http://127.0.0.1:{_free_port()}"
    cfg = compose_config(
        "train",
        [
            f"data.generate.output_dir={small_demo_dir}",
            f"model_dir={tmp_path}/models/churn",
            f"output_dir={tmp_path}/train",
            "tracking=server",
            f"tracking.uri={down}",
            "tracking.max_retries=0",
            *FAST,
        ],
    )
    with pytest.raises(TrackingError, match="version 1 was stored in"):
        train.run(cfg)
    assert bundle.load_served(tmp_path / "models" / "churn").manifest.horizon_days == 90


@pytest.mark.slow
def test_a_password_in_the_tracking_uri_is_never_sent_to_mlflow(
    server: str, small_demo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    password = "pw-5e1d-never-logged"
    uri = server.replace("http://", f"http://alice:{password}@")
    monkeypatch.chdir(tmp_path)
    result = train.run(
        compose_config(
            "train",
            [
                f"data.generate.output_dir={small_demo_dir}",
                f"model_dir={tmp_path}/models/churn",
                f"output_dir={tmp_path}/train",
                "tracking=server",
                f"tracking.uri={uri}",
                "tracking.registered_model=churn-secret",
                *FAST,
            ],
        )
    )
    assert result.run is not None
    client = MlflowClient(tracking_uri=server)
    run = client.get_run(result.run.run_id)
    assert run.data.params["tracking.uri"] == server.replace("http://", "http://alice:***@")
    assert all(password not in value for value in run.data.params.values())
    mlflow.set_tracking_uri(server)
    config = mlflow.artifacts.load_text(f"runs:/{run.info.run_id}/config.yaml")
    assert "alice:***@" in config
    assert password not in config
    manifest = bundle.read_manifest(result.model_dir)
    assert manifest.mlflow is not None
    assert password not in json.dumps(manifest.to_dict())

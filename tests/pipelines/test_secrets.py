"""Credentials in URIs never reach a file the run writes: logs, Hydra's run config, manifests."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from churn import secrets
from tests.conftest import run_pipeline
from tests.pipelines.conftest import FAST

PASSWORD = "pw-7f3a9c-secret"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _files_holding(root: Path, text: str) -> list[str]:
    found = []
    for path in root.rglob("*"):
        if path.is_file() and text.encode() in path.read_bytes():
            found.append(str(path.relative_to(root)))
    return found


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("http://alice:s3cr3t@host:5000/x", "http://alice:***@host:5000/x"),
        ("postgresql+psycopg://u:p%40ss@h:5432/db", "postgresql+psycopg://u:***@h:5432/db"),
        ("failed at https://a:b@h/api", "failed at https://a:***@h/api"),
        ("s3://bucket/key?token=abc&x=1", "s3://bucket/key?token=***&x=1"),
        ("sqlite:///mlflow.db", "sqlite:///mlflow.db"),
        ("http://user@host", "http://user@host"),
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert secrets.redact(text) == expected


def test_redact_values_walks_nested_values() -> None:
    nested = {"tracking": {"uri": "http://a:b@h"}, "list": ["x://u:p@h", 3]}
    assert secrets.redact_values(nested) == {
        "tracking": {"uri": "http://a:***@h"},
        "list": ["x://u:***@h", 3],
    }


def test_no_password_in_any_file_a_run_writes(small_demo_dir: Path, tmp_path: Path) -> None:
    tracking_uri = f"http://alice:{PASSWORD}@127.0.0.1:{_closed_port()}"
    train = run_pipeline(
        "train",
        f"data.generate.output_dir={small_demo_dir}",
        f"model_dir={tmp_path}/models/churn",
        f"hydra.run.dir={tmp_path}/train",
        *FAST,
        "tracking=server",
        f"tracking.uri={tracking_uri}",
        "tracking.timeout_s=2",
        "tracking.on_error=warn",  # the failure is logged, with the URI in its message
        cwd=tmp_path,
    )
    assert train.returncode == 0, train.stderr[-2000:]
    assert "alice:***@127.0.0.1" in train.stdout + train.stderr
    database_url = f"postgresql+psycopg://bob:{PASSWORD}@127.0.0.1:{_closed_port()}/churn"
    score = run_pipeline(
        "score",
        f"data.generate.output_dir={small_demo_dir}",
        f"model_dir={tmp_path}/models/churn",
        f"export.dir={tmp_path}/exports",
        f"hydra.run.dir={tmp_path}/score",
        "export=postgres",
        f"tracking.uri={tracking_uri}",
        cwd=tmp_path,
        env={"CHURN_DATABASE_URL": database_url},
    )
    assert score.returncode == 7, score.stderr[-2000:]  # unreachable: found before any work
    assert PASSWORD not in train.stdout + train.stderr + score.stdout + score.stderr
    assert _files_holding(tmp_path, PASSWORD) == []
    assert (tmp_path / "train" / ".hydra" / "overrides.yaml").is_file()
    log_file = tmp_path / "train" / "train.log"
    assert log_file.stat().st_mode & 0o077 == 0

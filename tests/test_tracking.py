"""Tracking configuration, flattening and failure on an unreachable server."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from churn import bundle, promotion, tracking
from churn.errors import ConfigError, TrackingError


def test_flatten_nested_config() -> None:
    nested = {"a": 1, "b": {"c": [1, 2], "d": {"e": None}}}
    assert tracking.flatten(nested) == {"a": 1, "b.c": [1, 2], "b.d.e": None}


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"on_error": "ignore"}, "on_error"),
        ({"uri": ""}, "tracking.uri"),
        ({"timeout_s": 0}, "timeout_s"),
        ({"colour": "red"}, "unknown keys"),
    ],
)
def test_tracking_config_invalid(values: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        tracking.TrackingConfig.from_mapping(values)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_log_training_run_unreachable_server_fails_fast(tmp_path: Path) -> None:
    from tests.bundle.test_store import MANIFEST, _data, _model

    config = tracking.TrackingConfig(
        uri=f"http://127.0.0.1:{_closed_port()}", timeout_s=2, max_retries=0
    )
    model = _model()
    saved = bundle.save(model, MANIFEST, tmp_path / "m")
    frame = _data()[list(model.features)].head(4)
    run = tracking.TrainingRun(
        run_name="unreachable",
        params={"a": 1},
        config_yaml="a: 1\n",
        fingerprint={"rows": 4},
        metrics={"test/roc_auc": 1.0},
        model=model,
        bundle_dir=saved.path,
        input_example=frame,
        horizon_days=90,
    )
    started = time.perf_counter()

    with pytest.raises(TrackingError, match=r"tracking at http://127\.0\.0\.1:\d+ failed"):
        tracking.log_training_run(config, run, decision=promotion.Decision(False))

    assert time.perf_counter() - started < 30
    assert TrackingError.exit_code == 4


def test_fetch_champion_unreachable_server_raises_tracking_error() -> None:
    config = tracking.TrackingConfig(
        uri=f"http://127.0.0.1:{_closed_port()}", timeout_s=2, max_retries=0
    )

    with pytest.raises(TrackingError, match=r"tracking at http://127\.0\.0\.1:\d+ failed"):
        tracking.fetch_champion(config)


def test_fetch_champion_empty_registry_is_none(tmp_path: Path) -> None:
    config = tracking.TrackingConfig(uri=f"sqlite:///{tmp_path / 'mlflow.db'}")

    assert tracking.fetch_champion(config) is None

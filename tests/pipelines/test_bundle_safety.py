"""Bundles through the command line: a swapped file never runs code, an edited manifest is
refused under ``CHURN_BUNDLE_KEY``, and ``score.require_signature`` refuses unsigned runs."""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path
from typing import Any

import pytest

from churn import bundle
from tests.conftest import run_pipeline
from tests.pipelines.conftest import FAST, copy_store, edit_manifest, score_cli

KEY = "a-test-key"


class _Payload:
    """Unpickling this creates a marker file: the proof that a load ran code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (self.marker,))


@pytest.fixture(scope="module")
def signed(small_demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model store trained with CHURN_BUNDLE_KEY set (its champion's manifest is signed)."""
    work = tmp_path_factory.mktemp("signed")
    proc = run_pipeline(
        "train",
        f"data.generate.output_dir={small_demo_dir}",
        f"model_dir={work}/models/churn",
        f"hydra.run.dir={work}/train",
        *FAST,
        cwd=work,
        env={bundle.KEY_VARIABLE: KEY},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return work / "models" / "churn"


def _copy(store: Path, tmp_path: Path) -> Path:
    return copy_store(store, tmp_path) / "champion"


def _score(demo: Path, store: Path, tmp_path: Path, key: str | None, *extra: str) -> list[str]:
    proc = score_cli(demo, store, tmp_path, *extra, env={bundle.KEY_VARIABLE: key})
    assert proc.returncode == 5, (proc.returncode, proc.stderr[-2000:])
    assert not (tmp_path / "exports").exists()
    return proc.stderr.strip().splitlines()


def test_a_signed_store_scores(signed: Path, small_demo_dir: Path, tmp_path: Path) -> None:
    proc = score_cli(
        small_demo_dir,
        signed,
        tmp_path,
        "score.require_signature=true",
        env={bundle.KEY_VARIABLE: KEY},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]


@pytest.mark.parametrize("target", ["booster.txt", "model.joblib"])
def test_a_swapped_model_file_never_runs_code(
    signed: Path, small_demo_dir: Path, tmp_path: Path, target: str
) -> None:
    folder = _copy(signed, tmp_path)
    marker = tmp_path / "pickle-ran"
    payload = pickle.dumps(_Payload(marker))
    (folder / target).write_bytes(payload)
    digest = hashlib.sha256(payload).hexdigest()
    # the attacker also updates the digest in the manifest (no key: no signature to forge)
    edit_manifest(folder, lambda m: m["model"]["files"].update({target: digest}))
    last = _score(small_demo_dir, folder.parent, tmp_path, None)[-1]
    assert last.startswith("BundleError: bundle")
    assert not marker.exists()


@pytest.mark.parametrize(
    "edit",
    [
        lambda m: m["training"]["label"].update(horizon_days=45, active_within_days=180),
        lambda m: m.update(reference_distributions={}),
        lambda m: m["features"].pop(),
    ],
    ids=["horizon-and-population", "no-drift-references", "a-feature-less"],
)
def test_an_edited_manifest_is_refused_under_the_key(
    signed: Path, small_demo_dir: Path, tmp_path: Path, edit: Any
) -> None:
    folder = _copy(signed, tmp_path)
    edit_manifest(folder, edit)
    last = _score(small_demo_dir, folder.parent, tmp_path, KEY)[-1]
    assert last.startswith("BundleError: bundle")
    assert "manifest.sig is not valid" in last


def test_require_signature_refuses_without_the_key(
    signed: Path, small_demo_dir: Path, tmp_path: Path
) -> None:
    last = _score(small_demo_dir, signed, tmp_path, None, "score.require_signature=true")[-1]
    assert "score.require_signature is true but CHURN_BUNDLE_KEY is not set" in last


def test_require_signature_refuses_an_unsigned_bundle(
    signed: Path, small_demo_dir: Path, tmp_path: Path
) -> None:
    folder = _copy(signed, tmp_path)
    (folder / bundle.SIGNATURE_FILE).unlink()
    last = _score(small_demo_dir, folder.parent, tmp_path, KEY, "score.require_signature=true")[-1]
    assert "manifest.sig is missing" in last

"""Model bundles: round trip, checksum and HMAC checks, atomic replacement, private modes."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from churn import bundle
from churn.errors import BundleError

MANIFEST = {"horizon_days": 90, "features": ["recency_days", "frequency"], "cutoff": "2024-06-01"}


@pytest.fixture(autouse=True)
def _no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests start without a bundle key whatever the caller's environment holds."""
    monkeypatch.delenv(bundle.KEY_VARIABLE, raising=False)


def _data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(200, 2))
    y = (x[:, 0] + 0.5 * rng.normal(size=200) > 0).astype(int)
    return x, y


def _model(seed: int = 0) -> LogisticRegression:
    x, y = _data(seed)
    return LogisticRegression().fit(x, y)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_save_load_round_trip(tmp_path: Path) -> None:
    model = _model()
    folder = tmp_path / "models" / "churn"
    bundle.save(model, MANIFEST, folder)

    loaded = bundle.load(folder)

    x, _ = _data(1)
    np.testing.assert_array_equal(loaded.model.predict_proba(x), model.predict_proba(x))
    assert loaded.path == folder
    assert {k: loaded.manifest[k] for k in MANIFEST} == MANIFEST


def test_save_adds_checksum_libraries_and_format(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    saved = bundle.save(_model(), MANIFEST, folder)

    manifest = bundle.read_manifest(folder)
    assert manifest == saved.manifest
    assert manifest["format_version"] == bundle.FORMAT_VERSION
    assert manifest["model_file"] == bundle.MODEL_FILE
    assert manifest["model_sha256"] == bundle.file_sha256(folder / bundle.MODEL_FILE)
    assert {"python", "numpy", "scikit-learn", "joblib"} <= set(manifest["libraries"])
    assert "model_hmac" not in manifest


def test_save_replaces_folder_without_leftovers(tmp_path: Path) -> None:
    parent = tmp_path / "models"
    folder = parent / "churn"
    bundle.save(_model(0), {"run": 1}, folder)
    (folder / "stray.txt").write_text("from an older bundle", encoding="utf-8")

    bundle.save(_model(1), {"run": 2}, folder)

    assert [p.name for p in parent.iterdir()] == ["churn"]
    assert sorted(p.name for p in folder.iterdir()) == [bundle.MANIFEST_FILE, bundle.MODEL_FILE]
    loaded = bundle.load(folder)
    assert loaded.manifest["run"] == 2
    np.testing.assert_array_equal(loaded.model.coef_, _model(1).coef_)


def test_save_writes_private_files(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    bundle.save(_model(), MANIFEST, folder)

    assert _mode(folder) == 0o700
    assert _mode(folder / bundle.MODEL_FILE) == 0o600
    assert _mode(folder / bundle.MANIFEST_FILE) == 0o600


def test_load_rejects_tampered_model_file(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    bundle.save(_model(), MANIFEST, folder)
    with (folder / bundle.MODEL_FILE).open("ab") as handle:
        handle.write(b"\x00extra")

    with pytest.raises(BundleError, match=r"sha256.*changed or damaged"):
        bundle.load(folder)


def test_load_rejects_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match=r"expected manifest\.json .*not found"):
        bundle.load(tmp_path / "nowhere")


def test_load_rejects_missing_manifest(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    bundle.save(_model(), MANIFEST, folder)
    (folder / bundle.MANIFEST_FILE).unlink()

    with pytest.raises(BundleError, match=r"expected manifest\.json .*not found"):
        bundle.load(folder)


def test_load_rejects_missing_model_file(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    bundle.save(_model(), MANIFEST, folder)
    (folder / bundle.MODEL_FILE).unlink()

    with pytest.raises(BundleError, match=r"expected the model file model\.joblib; not found"):
        bundle.load(folder)


def test_read_manifest_rejects_unreadable_json(tmp_path: Path) -> None:
    (tmp_path / bundle.MANIFEST_FILE).write_text("{not json", encoding="utf-8")

    with pytest.raises(BundleError, match=r"manifest\.json is unreadable"):
        bundle.read_manifest(tmp_path)


def test_read_manifest_rejects_manifest_without_checksum(tmp_path: Path) -> None:
    (tmp_path / bundle.MANIFEST_FILE).write_text('{"horizon_days": 90}', encoding="utf-8")

    with pytest.raises(BundleError, match=r"lacks model_sha256"):
        bundle.read_manifest(tmp_path)


def test_save_with_key_adds_hmac_and_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(bundle.KEY_VARIABLE, "first-key")
    folder = tmp_path / "m"
    bundle.save(_model(), MANIFEST, folder)

    manifest = bundle.read_manifest(folder)
    assert isinstance(manifest["model_hmac"], str)
    assert len(manifest["model_hmac"]) == 64
    assert bundle.load(folder).manifest["model_hmac"] == manifest["model_hmac"]


def test_load_rejects_hmac_of_another_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(bundle.KEY_VARIABLE, "first-key")
    folder = tmp_path / "m"
    bundle.save(_model(), MANIFEST, folder)
    monkeypatch.setenv(bundle.KEY_VARIABLE, "second-key")

    with pytest.raises(BundleError, match=r"model_hmac is not valid for this key"):
        bundle.load(folder)


def test_load_with_key_rejects_unsigned_bundle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "m"
    bundle.save(_model(), MANIFEST, folder)
    monkeypatch.setenv(bundle.KEY_VARIABLE, "a-key")

    with pytest.raises(BundleError, match=r"CHURN_BUNDLE_KEY is set but .*model_hmac is missing"):
        bundle.load(folder)


def test_update_manifest_merges_and_keeps_model_file(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    bundle.save(_model(), MANIFEST, folder)
    model_path = folder / bundle.MODEL_FILE
    before_sha = bundle.file_sha256(model_path)
    before_mtime = model_path.stat().st_mtime_ns

    merged = bundle.update_manifest(folder, {"stage": "champion", "horizon_days": 60})

    assert bundle.file_sha256(model_path) == before_sha
    assert model_path.stat().st_mtime_ns == before_mtime
    assert merged["stage"] == "champion"
    assert merged["horizon_days"] == 60
    assert merged["features"] == MANIFEST["features"]
    assert merged["model_sha256"] == before_sha
    assert bundle.read_manifest(folder) == merged
    assert _mode(folder / bundle.MANIFEST_FILE) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["m"]
    assert sorted(p.name for p in folder.iterdir()) == [bundle.MANIFEST_FILE, bundle.MODEL_FILE]
    assert bundle.load(folder).manifest["stage"] == "champion"


def test_update_manifest_rejects_missing_bundle(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match=r"not found"):
        bundle.update_manifest(tmp_path / "nowhere", {"stage": "champion"})


def test_file_sha256_matches_hashlib(tmp_path: Path) -> None:
    path = tmp_path / "blob.bin"
    payload = bytes(range(256)) * 5000  # more than one read block
    path.write_bytes(payload)

    assert bundle.file_sha256(path) == hashlib.sha256(payload).hexdigest()


def test_file_sha256_rejects_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        bundle.file_sha256(tmp_path / "missing.bin")


def test_library_versions_lists_python_and_installed_libraries() -> None:
    versions = bundle.library_versions()

    assert {"python", "numpy", "pandas", "scikit-learn", "joblib"} <= set(versions)
    assert all(isinstance(v, str) and v for v in versions.values())

"""Model bundles: round trip, digest and signature checks, atomic replacement, private modes,
and no pickle anywhere."""

from __future__ import annotations

import hashlib
import json
import stat
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churn import bundle, calibration, model
from churn.errors import BundleError
from churn.features import FeatureConfig
from churn.labels import LabelConfig


def _manifest(**changes: object) -> bundle.Manifest:
    manifest = bundle.Manifest(
        name="churn",
        created_at="2024-06-02T00:00:00+00:00",
        data_end="2024-06-01",
        model=bundle.ModelSpec(kind=bundle.MODEL_KIND, files={}, params={"C": 1.0}),
        features=(bundle.FeatureSpec("recency_days", "float64"), bundle.FeatureSpec("f", "int64")),
        training=bundle.TrainingSettings(
            label=LabelConfig(horizon_days=90), features=FeatureConfig(), calibration="isotonic"
        ),
        metrics={"test/roc_auc": 0.8},
    )
    return manifest.with_updates(**changes)


MANIFEST = _manifest()


@pytest.fixture(autouse=True)
def _no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests start without a bundle key whatever the caller's environment holds."""
    monkeypatch.delenv(bundle.KEY_VARIABLE, raising=False)


def _data(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = 600
    frame = pd.DataFrame(
        {
            "customer_id": [f"c{seed}-{i}" for i in range(n)],
            "recency_days": rng.exponential(60.0, n),
            "f": rng.integers(0, 12, n),
        }
    )
    odds = frame["recency_days"] / 60.0 - frame["f"] / 6.0 + rng.normal(0.0, 0.5, n)
    frame["churned"] = (odds > 0).astype(int)
    return frame


def _model(seed: int = 0) -> model.ChurnModel:
    """A small calibrated LightGBM churn model on two features, as training deploys it."""
    frame = _data(seed)
    config = model.ModelConfig(n_estimators=30, early_stopping_rounds=5, n_jobs=1)
    fitted = model.fit_lightgbm(frame, ["recency_days", "f"], config, seed=seed)
    calibrated = calibration.calibrate(
        fitted.pipeline, frame[["recency_days", "f"]], frame["churned"], method="isotonic"
    )
    return model.ChurnModel.from_fitted(calibrated)


FILES = sorted(bundle.MODEL_FILES)
BOOSTER = model.BOOSTER_FILE


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_save_load_round_trip(tmp_path: Path) -> None:
    fitted = _model()
    folder = tmp_path / "models" / "churn"
    bundle.save(fitted, MANIFEST, folder)

    loaded = bundle.load(folder)

    rows = _data(1)[["recency_days", "f"]]
    np.testing.assert_array_equal(loaded.model.predict_proba(rows), fitted.predict_proba(rows))
    assert loaded.path == folder
    assert loaded.manifest.features == MANIFEST.features
    assert loaded.manifest.training == MANIFEST.training
    assert loaded.manifest.horizon_days == 90
    assert loaded.manifest.model.params == {"C": 1.0}


def test_manifest_round_trips_through_its_dict() -> None:
    manifest = _manifest(
        model=bundle.ModelSpec(bundle.MODEL_KIND, {name: "0" * 64 for name in FILES}, {"C": 1.0}),
        mlflow={"version": "3"},
        plots={"roc": "plots/roc.png"},
    )

    again = bundle.Manifest.from_dict(json.loads(json.dumps(manifest.to_dict())))

    assert again == manifest
    assert again.version == "3"
    assert again.feature_names == ["recency_days", "f"]


def test_manifest_is_written_as_canonical_json(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    bundle.save(_model(), MANIFEST, folder)

    text = (folder / bundle.MANIFEST_FILE).read_text(encoding="utf-8")
    payload = json.loads(text)
    assert text == json.dumps(payload, indent=2, sort_keys=True, separators=(",", ": ")) + "\n"
    assert payload["schema_version"] == bundle.SCHEMA_VERSION
    assert set(payload["model"]) == {"kind", "files", "params"}
    assert "config" not in payload  # no dumped Hydra config: the settings are typed fields


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda m: m.pop("training"), r"training: expected a mapping"),
        (lambda m: m["training"].pop("label"), r"training\.label: expected a mapping"),
        (lambda m: m.update(features=[]), r"features: expected a non-empty list"),
        (lambda m: m["features"][0].pop("dtype"), r"features: expected items with name and dtype"),
        (lambda m: m.update(schema_version=1), r"expected schema_version 2; got 1"),
        (lambda m: m["model"].update(files={"booster.txt": "x"}), r"model\.files: expected"),
        (lambda m: m["training"]["label"].update(horizon_days=0), r"label\.horizon_days"),
    ],
)
def test_read_manifest_names_the_broken_field(tmp_path: Path, edit: object, message: str) -> None:
    folder = tmp_path / "m"
    bundle.save(_model(), MANIFEST, folder)
    payload = json.loads((folder / bundle.MANIFEST_FILE).read_text(encoding="utf-8"))
    edit(payload)  # type: ignore[operator]
    (folder / bundle.MANIFEST_FILE).write_text(json.dumps(payload), encoding="utf-8")

    with pytest.raises(BundleError, match=message):
        bundle.load(folder)


def test_save_adds_checksum_libraries_and_format(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    saved = bundle.save(_model(), MANIFEST, folder)

    manifest = bundle.read_manifest(folder)
    assert manifest == saved.manifest
    assert manifest.schema_version == bundle.SCHEMA_VERSION
    assert manifest.model.kind == bundle.MODEL_KIND
    assert manifest.model.files == {name: bundle.file_sha256(folder / name) for name in FILES}
    assert {"python", "numpy", "scikit-learn", "lightgbm"} <= set(manifest.libraries)
    assert not (folder / bundle.SIGNATURE_FILE).exists()


def test_save_replaces_folder_without_leftovers(tmp_path: Path) -> None:
    parent = tmp_path / "models"
    folder = parent / "churn"
    bundle.save(_model(0), _manifest(name="first"), folder)
    (folder / "stray.txt").write_text("from an older bundle", encoding="utf-8")

    bundle.save(_model(1), _manifest(name="second"), folder)

    assert [p.name for p in parent.iterdir() if p.suffix != ".lock"] == ["churn"]
    assert sorted(p.name for p in folder.iterdir()) == sorted([bundle.MANIFEST_FILE, *FILES])
    loaded = bundle.load(folder)
    assert loaded.manifest.name == "second"
    rows = _data(2)[["recency_days", "f"]]
    np.testing.assert_array_equal(loaded.model.predict_proba(rows), _model(1).predict_proba(rows))


def test_save_writes_private_files(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    bundle.save(_model(), MANIFEST, folder)

    assert _mode(folder) == 0o700
    assert all(_mode(folder / name) == 0o600 for name in FILES)
    assert _mode(folder / bundle.MANIFEST_FILE) == 0o600


def test_load_rejects_tampered_model_file(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    bundle.save(_model(), MANIFEST, folder)
    with (folder / BOOSTER).open("ab") as handle:
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
    (folder / BOOSTER).unlink()

    with pytest.raises(BundleError, match=r"expected the model file booster\.txt; not found"):
        bundle.load(folder)


def test_read_manifest_rejects_unreadable_json(tmp_path: Path) -> None:
    (tmp_path / bundle.MANIFEST_FILE).write_text("{not json", encoding="utf-8")

    with pytest.raises(BundleError, match=r"manifest\.json is unreadable"):
        bundle.read_manifest(tmp_path)


def test_read_manifest_rejects_manifest_without_model_files(tmp_path: Path) -> None:
    payload = {**MANIFEST.to_dict(), "model": {"kind": bundle.MODEL_KIND, "files": {}}}
    (tmp_path / bundle.MANIFEST_FILE).write_text(json.dumps(payload), encoding="utf-8")

    with pytest.raises(BundleError, match=r"model\.files: expected file names with their sha256"):
        bundle.read_manifest(tmp_path)


def test_save_with_key_signs_the_manifest_and_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(bundle.KEY_VARIABLE, "first-key")
    folder = tmp_path / "m"
    bundle.save(_model(), MANIFEST, folder)

    signature = (folder / bundle.SIGNATURE_FILE).read_text(encoding="utf-8").strip()
    assert len(signature) == 64
    assert _mode(folder / bundle.SIGNATURE_FILE) == 0o600
    assert bundle.load(folder).manifest == bundle.read_manifest(folder)


def test_load_with_key_rejects_an_edited_manifest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(bundle.KEY_VARIABLE, "a-key")
    folder = tmp_path / "m"
    bundle.save(_model(), MANIFEST, folder)
    payload = json.loads((folder / bundle.MANIFEST_FILE).read_text(encoding="utf-8"))
    payload["training"]["label"]["horizon_days"] = 45  # the model file is untouched
    (folder / bundle.MANIFEST_FILE).write_text(json.dumps(payload), encoding="utf-8")

    with pytest.raises(BundleError, match=r"manifest\.sig is not valid"):
        bundle.load(folder)


def test_load_rejects_hmac_of_another_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(bundle.KEY_VARIABLE, "first-key")
    folder = tmp_path / "m"
    bundle.save(_model(), MANIFEST, folder)
    monkeypatch.setenv(bundle.KEY_VARIABLE, "second-key")

    with pytest.raises(BundleError, match=r"manifest\.sig is not valid for this key"):
        bundle.load(folder)


def test_load_with_key_rejects_unsigned_bundle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "m"
    bundle.save(_model(), MANIFEST, folder)
    monkeypatch.setenv(bundle.KEY_VARIABLE, "a-key")

    with pytest.raises(
        BundleError, match=r"CHURN_BUNDLE_KEY is set but .*manifest\.sig is missing"
    ):
        bundle.load(folder)


def test_update_manifest_replaces_fields_and_keeps_model_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(bundle.KEY_VARIABLE, "a-key")
    folder = tmp_path / "m"
    bundle.save(_model(), MANIFEST, folder)
    model_path = folder / BOOSTER
    before_sha = bundle.file_sha256(model_path)
    before_mtime = model_path.stat().st_mtime_ns

    merged = bundle.update_manifest(folder, mlflow={"version": "7"})

    assert bundle.file_sha256(model_path) == before_sha
    assert model_path.stat().st_mtime_ns == before_mtime
    assert merged.mlflow == {"version": "7"}
    assert merged.features == MANIFEST.features
    assert merged.model.files[BOOSTER] == before_sha
    assert bundle.read_manifest(folder) == merged
    assert _mode(folder / bundle.MANIFEST_FILE) == 0o600
    assert [p.name for p in tmp_path.iterdir() if p.suffix != ".lock"] == ["m"]
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [bundle.MANIFEST_FILE, bundle.SIGNATURE_FILE, *FILES]
    )
    assert bundle.load(folder).manifest.version == "7"  # the signature was renewed


def test_update_manifest_refuses_the_model_fields(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    bundle.save(_model(), MANIFEST, folder)

    with pytest.raises(ValueError, match=r"\['model'\] are written by save\(\) only"):
        bundle.update_manifest(folder, model=MANIFEST.model)


def test_update_manifest_rejects_missing_bundle(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match=r"not found"):
        bundle.update_manifest(tmp_path / "nowhere", mlflow={"version": "1"})


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

    assert {"python", "numpy", "pandas", "scikit-learn", "lightgbm"} <= set(versions)
    assert all(isinstance(v, str) and v for v in versions.values())


def test_a_bundle_holds_no_pickle(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    bundle.save(_model(), MANIFEST, folder)
    for path in folder.rglob("*"):
        if path.is_file():
            head = path.read_bytes()[:2]
            assert head[:1] != b"\x80", f"{path.name} looks like a pickle"
            path.read_text(encoding="utf-8")  # text only: LightGBM's format and JSON


def test_save_refuses_what_it_cannot_store_without_pickle(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="expected a ChurnModel; got LogisticRegression"):
        from sklearn.linear_model import LogisticRegression

        bundle.save(LogisticRegression(), MANIFEST, tmp_path / "m")


def test_load_refuses_model_json_that_does_not_match_the_manifest(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    bundle.save(_model(), MANIFEST.with_updates(features=MANIFEST.features[::-1]), folder)
    with pytest.raises(BundleError, match=r"the model's features .* differ from the manifest's"):
        bundle.load(folder)


def test_manifest_selection_round_trips_and_refuses_a_broken_record() -> None:
    score = bundle.CandidateScore("recency", 0.1, float("nan"), 0.02, 50)
    selection = bundle.Selection("recency", "brier", 0.0, "a cutoff", 50, "rule", "why", (score,))
    files = {model.MODEL_JSON: "0" * 64}
    manifest = _manifest(selection=selection, model=bundle.ModelSpec("recency", files))
    older = _manifest(model=bundle.ModelSpec(bundle.MODEL_KIND, files))

    again = bundle.Manifest.from_dict(json.loads(json.dumps(manifest.to_dict())))

    assert again.selection is not None
    assert again.selection.to_dict() == selection.to_dict()
    assert again.selection.to_dict()["candidates"][0]["roc_auc"] is None
    written_before = {k: v for k, v in older.to_dict().items() if k != "selection"}
    assert bundle.Manifest.from_dict(written_before).selection is None
    broken = {**manifest.to_dict(), "selection": {"chosen": "recency"}}
    with pytest.raises(BundleError, match="selection: expected the selection record"):
        bundle.Manifest.from_dict(broken)

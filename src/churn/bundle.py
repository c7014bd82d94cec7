"""Model bundles: ``models/<name>/model.joblib`` + ``manifest.json`` (docs/training.md).

The manifest describes the model well enough to score without a tracking server: features and
dtypes, cutoffs and training window, horizon, evaluation metrics, the resolved config, the sha256
of the model file, library versions and training reference distributions for drift checks.

A joblib file is a pickle: load bundles only from trusted places. The checksum catches a changed
or damaged model file; when the environment variable ``CHURN_BUNDLE_KEY`` is set, the manifest
also carries an HMAC-SHA256 of the model's digest under that key, and :func:`load` refuses a
bundle without a valid one.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib.metadata
import json
import logging
import os
import platform
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib

from churn.errors import BundleError
from churn.files import atomic_directory, atomic_file

log = logging.getLogger(__name__)

MODEL_FILE = "model.joblib"
MANIFEST_FILE = "manifest.json"
KEY_VARIABLE = "CHURN_BUNDLE_KEY"
FORMAT_VERSION = 1
# Written by save() only: a caller's manifest cannot set or keep them.
_INTEGRITY_KEYS = frozenset(
    {"format_version", "model_file", "model_sha256", "model_hmac", "libraries", "files"}
)
_LIBRARIES = (
    "numpy",
    "pandas",
    "pyarrow",
    "scikit-learn",
    "lightgbm",
    "scipy",
    "duckdb",
    "ibis-framework",
    "joblib",
    "mlflow",
)


@dataclass(frozen=True)
class Bundle:
    """A loaded, verified bundle."""

    path: Path
    model: Any
    manifest: dict[str, Any]


def library_versions() -> dict[str, str]:
    """Versions of Python and the libraries a model depends on."""
    versions = {"python": platform.python_version()}
    for name in _LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _signature(sha256: str, key: str) -> str:
    return hmac.new(key.encode(), sha256.encode(), hashlib.sha256).hexdigest()


def save(
    model: Any,
    manifest: Mapping[str, Any],
    directory: str | os.PathLike[str],
    *,
    extra_files: Mapping[str, str | os.PathLike[str]] | None = None,
) -> Bundle:
    """Write the bundle folder atomically (all files appear together, replacing an old bundle).

    Adds ``format_version``, ``model_file``, ``model_sha256``, ``libraries`` and, when
    ``CHURN_BUNDLE_KEY`` is set, ``model_hmac`` to the manifest. ``extra_files`` maps relative
    names inside the bundle (e.g. ``plots/roc.png``) to files copied in (listed as ``files``).
    """
    final = Path(directory)
    extra = dict(extra_files or {})
    for name in extra:
        relative = Path(name)
        if relative.is_absolute() or ".." in relative.parts or name in (MODEL_FILE, MANIFEST_FILE):
            raise ValueError(
                f"bundle.save: extra file names must stay inside the bundle; got {name}"
            )
    with atomic_directory(final) as tmp:
        joblib.dump(model, tmp / MODEL_FILE)
        for name, source in extra.items():
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, tmp / name)
        sha256 = file_sha256(tmp / MODEL_FILE)
        described = {k: v for k, v in manifest.items() if k not in _INTEGRITY_KEYS}
        full = {
            **described,
            "format_version": FORMAT_VERSION,
            "model_file": MODEL_FILE,
            "model_sha256": sha256,
            "files": sorted(extra),
            "libraries": library_versions(),
        }
        key = os.environ.get(KEY_VARIABLE)
        if key:
            full["model_hmac"] = _signature(sha256, key)
        _write_json(tmp / MANIFEST_FILE, full)
    log.info("bundle written to %s (model sha256 %s)", final, sha256[:12])
    return Bundle(final, model, full)


def read_manifest(directory: str | os.PathLike[str]) -> dict[str, Any]:
    """The bundle's manifest, without loading the model.

    Raises:
        BundleError: when the folder or its manifest is missing or unreadable.
    """
    path = Path(directory) / MANIFEST_FILE
    if not path.is_file():
        raise BundleError(
            f"bundle {directory}: expected {MANIFEST_FILE} (a trained model); not found. "
            "Train one with python -m pipelines.train"
        )
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise BundleError(f"bundle {directory}: {MANIFEST_FILE} is unreadable: {err}") from err
    if not isinstance(manifest, dict) or "model_sha256" not in manifest:
        raise BundleError(f"bundle {directory}: {MANIFEST_FILE} lacks model_sha256")
    return manifest


def update_manifest(
    directory: str | os.PathLike[str], updates: Mapping[str, Any]
) -> dict[str, Any]:
    """Merge ``updates`` into the manifest (atomic rewrite); the model file is untouched.

    Raises:
        ValueError: when ``updates`` would change the checksum, HMAC or model file fields.
    """
    protected = sorted(_INTEGRITY_KEYS & set(updates))
    if protected:
        raise ValueError(f"update_manifest: {protected} are written by save() only")
    manifest = read_manifest(directory) | dict(updates)
    _write_json(Path(directory) / MANIFEST_FILE, manifest)
    return manifest


def load(directory: str | os.PathLike[str]) -> Bundle:
    """Verify the model file's checksum (and HMAC when ``CHURN_BUNDLE_KEY`` is set), then load.

    Raises:
        BundleError: missing files, a checksum or HMAC mismatch.
    """
    root = Path(directory)
    manifest = read_manifest(root)
    name = str(manifest.get("model_file", MODEL_FILE))
    if Path(name).name != name or name in ("", ".", ".."):
        raise BundleError(f"bundle {root}: model_file must be a file name; got {name!r}")
    model_path = root / name
    if not model_path.is_file():
        raise BundleError(f"bundle {root}: expected the model file {model_path.name}; not found")
    sha256 = file_sha256(model_path)
    if sha256 != manifest["model_sha256"]:
        raise BundleError(
            f"bundle {root}: {model_path.name} has sha256 {sha256[:12]}..., the manifest expects "
            f"{str(manifest['model_sha256'])[:12]}...: the file was changed or damaged; "
            "refusing to load it"
        )
    key = os.environ.get(KEY_VARIABLE)
    if key:
        recorded = manifest.get("model_hmac")
        if not isinstance(recorded, str) or not hmac.compare_digest(
            recorded, _signature(sha256, key)
        ):
            raise BundleError(
                f"bundle {root}: {KEY_VARIABLE} is set but the manifest's model_hmac is "
                f"{'missing' if recorded is None else 'not valid for this key'}; refusing to load"
            )
    model = joblib.load(model_path)
    log.info("bundle loaded from %s (model sha256 %s)", root, sha256[:12])
    return Bundle(root, model, manifest)


def _write_json(path: Path, payload: Mapping[str, Any]) -> None:
    with atomic_file(path) as tmp:
        tmp.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")

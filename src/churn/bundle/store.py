"""Model bundles on disk: a folder with the model's files and ``manifest.json``.

:func:`save` writes the folder atomically and records each model file's sha256 in the typed
manifest (``model.files``); :func:`load` checks every digest before it reads anything. When the
environment variable ``CHURN_BUNDLE_KEY`` is set, an HMAC-SHA256 of the whole canonical manifest
(which holds the files' digests) is kept in ``manifest.sig`` beside it, renewed whenever the
manifest is updated, and :func:`load` refuses a bundle without a valid one.

No file of a bundle is a pickle: the model is LightGBM's text format and JSON, or JSON alone for
a deployed baseline (:class:`churn.model.ChurnModel`), so loading a bundle never runs code from
it.
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
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import lightgbm as lgb

from churn.bundle.manifest import Manifest
from churn.errors import BundleError
from churn.features.config import DEFINITIONS_VERSION
from churn.files import atomic_directory, atomic_file, canonical_json
from churn.model.deployed import BOOSTER_FILE, LIGHTGBM_KIND, MODEL_JSON, MODEL_KINDS, ChurnModel

log = logging.getLogger(__name__)

MANIFEST_FILE = "manifest.json"
SIGNATURE_FILE = "manifest.sig"
KEY_VARIABLE = "CHURN_BUNDLE_KEY"
FEATURES_KEY = "churn-features"  # in ``libraries``: the feature definitions' version
MODEL_KIND = LIGHTGBM_KIND
MODEL_FILES = (BOOSTER_FILE, MODEL_JSON)  # a LightGBM model's; a baseline's is model.json alone
_RESERVED = (*MODEL_FILES, MANIFEST_FILE, SIGNATURE_FILE)


def model_files(kind: str) -> tuple[str, ...]:
    """The files a model of ``kind`` is stored in."""
    return MODEL_FILES if kind == LIGHTGBM_KIND else (MODEL_JSON,)


_LIBRARIES = (
    "numpy",
    "pandas",
    "pyarrow",
    "scikit-learn",
    "lightgbm",
    "scipy",
    "duckdb",
    "ibis-framework",
    "mlflow",
)


@dataclass(frozen=True)
class Bundle:
    """A loaded, verified bundle."""

    path: Path
    model: ChurnModel
    manifest: Manifest


def library_versions() -> dict[str, str]:
    """Versions of Python and the libraries a model depends on."""
    versions = {"python": platform.python_version(), FEATURES_KEY: DEFINITIONS_VERSION}
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


def _signature(text: str, key: str) -> str:
    return hmac.new(key.encode(), text.encode(), hashlib.sha256).hexdigest()


def save(
    model: ChurnModel,
    manifest: Manifest,
    directory: str | os.PathLike[str],
    *,
    extra_files: Mapping[str, str | os.PathLike[str]] | None = None,
) -> Bundle:
    """Write the bundle folder atomically (all files appear together, replacing an old bundle).

    The saved manifest gets the model's files and digests, the library versions and the
    ``plots`` (``extra_files`` maps names inside the bundle, e.g. ``plots/roc.png``, to files
    copied in; each plot is listed under its file's stem).
    """
    final = Path(directory)
    extra = dict(extra_files or {})
    for name in extra:
        relative = Path(name)
        if relative.is_absolute() or ".." in relative.parts or name in _RESERVED:
            raise ValueError(
                f"bundle.save: extra file names must stay inside the bundle; got {name}"
            )
    if not isinstance(model, ChurnModel):
        raise TypeError(f"bundle.save: expected a ChurnModel; got {type(model).__name__}")
    with atomic_directory(final) as tmp:
        names = model.save(tmp)
        for name, source in extra.items():
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, tmp / name)
        saved = manifest.with_updates(
            model=replace(
                manifest.model,
                kind=model.kind,
                files={name: file_sha256(tmp / name) for name in names},
            ),
            plots={Path(name).stem: name for name in sorted(extra)},
            libraries=library_versions(),
        )
        _write(tmp, saved)
    log.debug("bundle written to %s (model %s)", final, saved.model.digest[:12])
    return Bundle(final, model, saved)


def read_manifest(directory: str | os.PathLike[str]) -> Manifest:
    """The bundle's manifest, without loading the model.

    Raises:
        BundleError: when the folder or its manifest is missing, unreadable or malformed.
    """
    path = Path(directory) / MANIFEST_FILE
    if not path.is_file():
        raise BundleError(
            f"bundle {directory}: expected {MANIFEST_FILE} (a trained model); not found. "
            "Train one with python -m pipelines.train"
        )
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise BundleError(f"bundle {directory}: {MANIFEST_FILE} is unreadable: {err}") from err
    return Manifest.from_dict(payload, where=f"bundle {directory}: {MANIFEST_FILE}")


def update_manifest(directory: str | os.PathLike[str], **changes: Any) -> Manifest:
    """Replace some manifest fields (atomic rewrite, signature renewed); the model is untouched.

    Raises:
        ValueError: when ``changes`` would change the model's files, kind or library versions.
    """
    protected = sorted({"model", "libraries", "schema_version"} & set(changes))
    if protected:
        raise ValueError(f"update_manifest: {protected} are written by save() only")
    manifest = read_manifest(directory).with_updates(**changes)
    _write(Path(directory), manifest)
    return manifest


def load(directory: str | os.PathLike[str], *, require_signature: bool = False) -> Bundle:
    """Verify every model file's digest (and the signature with ``CHURN_BUNDLE_KEY``), then load.

    Args:
        directory: the bundle folder.
        require_signature: refuse to load when ``CHURN_BUNDLE_KEY`` is not set (so an unsigned
            bundle is never served by accident).

    Raises:
        BundleError: missing files, a digest or signature mismatch, a malformed manifest, or no
            key while a signature is required.
    """
    root = Path(directory)
    if require_signature and not os.environ.get(KEY_VARIABLE):
        raise BundleError(
            f"bundle {root}: score.require_signature is true but {KEY_VARIABLE} is not set; set "
            "the key the bundle was signed with"
        )
    manifest = read_manifest(root)
    for name, expected in manifest.model.files.items():
        if Path(name).name != name or name in ("", ".", "..", MANIFEST_FILE, SIGNATURE_FILE):
            raise BundleError(f"bundle {root}: model.files must name files; got {name!r}")
        path = root / name
        if not path.is_file():
            raise BundleError(f"bundle {root}: expected the model file {name}; not found")
        sha256 = file_sha256(path)
        if sha256 != expected:
            raise BundleError(
                f"bundle {root}: {name} has sha256 {sha256[:12]}..., the manifest expects "
                f"{expected[:12]}...: the file was changed or damaged; refusing to load it"
            )
    _verify_signature(root)
    kind = manifest.model.kind
    expected_files = model_files(kind)
    if kind not in MODEL_KINDS or sorted(manifest.model.files) != sorted(expected_files):
        raise BundleError(
            f"bundle {root}: expected a model of kind {MODEL_KINDS} in its files "
            f"({', '.join(MODEL_FILES)} for {MODEL_KIND}, {MODEL_JSON} for a baseline); the "
            f"manifest describes {kind!r} with {sorted(manifest.model.files)}"
        )
    try:
        model = ChurnModel.load(root)
    except (ValueError, KeyError, TypeError, lgb.basic.LightGBMError) as err:
        raise BundleError(f"bundle {root}: the model files do not describe a model: {err}") from err
    if model.kind != kind:
        raise BundleError(
            f"bundle {root}: the manifest describes a {kind} model, {MODEL_JSON} a {model.kind} one"
        )
    if list(model.features) != manifest.feature_names:
        raise BundleError(
            f"bundle {root}: the model's features {list(model.features)[:5]}... differ from the "
            f"manifest's {manifest.feature_names[:5]}..."
        )
    log.info("bundle loaded from %s (model %s)", root, manifest.model.digest[:12])
    return Bundle(root, model, manifest)


def _verify_signature(root: Path) -> None:
    key = os.environ.get(KEY_VARIABLE)
    if not key:
        return
    signature = root / SIGNATURE_FILE
    recorded = signature.read_text(encoding="utf-8").strip() if signature.is_file() else None
    text = (root / MANIFEST_FILE).read_text(encoding="utf-8")
    if recorded is None or not hmac.compare_digest(recorded, _signature(text, key)):
        raise BundleError(
            f"bundle {root}: {KEY_VARIABLE} is set but {SIGNATURE_FILE} is "
            f"{'missing' if recorded is None else 'not valid for this key and manifest'}; "
            "refusing to load"
        )


def _write(folder: Path, manifest: Manifest) -> None:
    """Write the canonical manifest, and its signature when ``CHURN_BUNDLE_KEY`` is set."""
    text = canonical_json(manifest.to_dict())
    key = os.environ.get(KEY_VARIABLE)
    with atomic_file(folder / MANIFEST_FILE) as tmp:
        tmp.write_text(text, encoding="utf-8")
    if key:
        with atomic_file(folder / SIGNATURE_FILE) as tmp:
            tmp.write_text(_signature(text, key) + "\n", encoding="utf-8")
    else:
        (folder / SIGNATURE_FILE).unlink(missing_ok=True)

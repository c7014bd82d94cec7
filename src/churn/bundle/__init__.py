"""Model bundles and the model store (docs/training.md, the bundle and the model store).

A bundle is the model's files and a typed ``manifest.json``; the store (:class:`ModelStore`)
keeps every training's bundle as a version, and its ``champion`` pointer decides what is served.

The manifest (:class:`Manifest`) describes the model well enough to score without a tracking
server: features and dtypes, the training settings scoring repeats, the training window,
evaluation metrics, the digest of every model file, library versions and the training
reference distributions for drift checks.
"""

from churn.bundle.manifest import (
    SCHEMA_VERSION,
    CandidateScore,
    FeatureSpec,
    Manifest,
    ModelSpec,
    Selection,
    TrainingSettings,
)
from churn.bundle.store import (
    KEY_VARIABLE,
    MANIFEST_FILE,
    MODEL_FILES,
    MODEL_KIND,
    SIGNATURE_FILE,
    Bundle,
    file_sha256,
    library_versions,
    load,
    model_files,
    read_manifest,
    save,
    update_manifest,
)
from churn.bundle.versions import (
    ModelStore,
    VersionInfo,
    bundle_folder,
    load_served,
    load_shadow,
    read_served_manifest,
    version_table,
)

__all__ = [
    "KEY_VARIABLE",
    "MANIFEST_FILE",
    "MODEL_FILES",
    "MODEL_KIND",
    "SCHEMA_VERSION",
    "SIGNATURE_FILE",
    "Bundle",
    "CandidateScore",
    "FeatureSpec",
    "Manifest",
    "ModelSpec",
    "ModelStore",
    "Selection",
    "TrainingSettings",
    "VersionInfo",
    "bundle_folder",
    "file_sha256",
    "library_versions",
    "load",
    "load_served",
    "load_shadow",
    "model_files",
    "read_manifest",
    "read_served_manifest",
    "save",
    "update_manifest",
    "version_table",
]

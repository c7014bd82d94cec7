"""Model bundles: the model's files and a typed ``manifest.json`` (docs/training.md, the bundle).

The manifest (:class:`Manifest`) describes the model well enough to score without a tracking
server: features and dtypes, the training settings scoring repeats, the training window,
evaluation metrics, the digest of every model file, library versions and the training
reference distributions for drift checks.
"""

from churn.bundle.manifest import (
    SCHEMA_VERSION,
    FeatureSpec,
    Manifest,
    ModelSpec,
    TrainingSettings,
)
from churn.bundle.store import (
    KEY_VARIABLE,
    MANIFEST_FILE,
    MODEL_FILE,
    MODEL_KIND,
    SIGNATURE_FILE,
    Bundle,
    file_sha256,
    library_versions,
    load,
    read_manifest,
    save,
    update_manifest,
)

__all__ = [
    "KEY_VARIABLE",
    "MANIFEST_FILE",
    "MODEL_FILE",
    "MODEL_KIND",
    "SCHEMA_VERSION",
    "SIGNATURE_FILE",
    "Bundle",
    "FeatureSpec",
    "Manifest",
    "ModelSpec",
    "TrainingSettings",
    "file_sha256",
    "library_versions",
    "load",
    "read_manifest",
    "save",
    "update_manifest",
]

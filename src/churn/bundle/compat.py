"""Whether a bundle still fits this installation: feature definitions and library versions.

Checked before scoring (:func:`check_compatibility`):

1. the feature definitions' version (``churn-features`` in the manifest's ``libraries``) must
   equal this installation's :data:`churn.features.DEFINITIONS_VERSION`; a change refuses the
   bundle, as its features would mean something else;
2. lightgbm, scikit-learn, numpy, pandas, duckdb and ibis-framework: another minor version is a
   warning; another major version refuses the bundle unless ``score.allow_library_change``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from churn.bundle.manifest import Manifest
from churn.bundle.store import FEATURES_KEY, library_versions
from churn.errors import BundleError

log = logging.getLogger(__name__)

CHECKED = ("lightgbm", "scikit-learn", "numpy", "pandas", "duckdb", "ibis-framework")


def _major_minor(version: str) -> tuple[str, str]:
    parts = [*version.split("."), "0"][:2]
    return parts[0], parts[1]


def check_compatibility(
    manifest: Manifest,
    *,
    where: str,
    allow_library_change: bool = False,
    installed: Mapping[str, str] | None = None,
) -> list[str]:
    """Refuse a bundle whose features or libraries no longer fit; returns the warnings logged.

    Raises:
        BundleError: other feature definitions, or another major library version (unless
            allowed).
    """
    current = dict(library_versions() if installed is None else installed)
    recorded = dict(manifest.libraries)
    trained_features, features_now = recorded.get(FEATURES_KEY), current.get(FEATURES_KEY)
    if trained_features != features_now:
        raise BundleError(
            f"{where}: trained with feature definitions version {trained_features}, this "
            f"installation computes version {features_now}: the features would mean something "
            "else; train the model again"
        )
    warnings: list[str] = []
    for name in CHECKED:
        old, new = recorded.get(name), current.get(name)
        if old is None or new is None or old == new:
            continue
        (old_major, old_minor), (new_major, new_minor) = _major_minor(old), _major_minor(new)
        change = f"{name} {old} at training, {new} installed"
        if old_major != new_major and not allow_library_change:
            raise BundleError(
                f"{where}: {change}: a major version change can change predictions; train the "
                "model again, or set score.allow_library_change=true to score anyway"
            )
        if old_major != new_major or old_minor != new_minor:
            warnings.append(change)
    if warnings:
        log.warning("%s: library versions changed since training: %s", where, "; ".join(warnings))
    return warnings

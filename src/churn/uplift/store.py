"""The uplift model store: ``models/uplift/``, versions and pointers like the churn model's.

Each training of the uplift model is a new ``versions/<n>/`` folder (written atomically): the
learner's boosters in LightGBM's text format and ``uplift.json`` (:meth:`UpliftModel.to_files`),
and ``manifest.json``: the sha256 of every model file, the features and the churn model's
feature settings they were computed with, the campaigns it learnt from, its out-of-time
evaluation and the gate's decision. ``latest`` points at the newest version, ``champion`` at the
version the planner may use, set only when the gate passed (:class:`churn.bundle.ModelStore`'s
pointers, lock and promotion history). Loading checks every digest and never unpickles.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from churn import files
from churn.bundle.store import file_sha256
from churn.bundle.versions import CHAMPION, LATEST, ModelStore
from churn.errors import BundleError
from churn.uplift.learners import UpliftModel

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
FORMAT = 1


@dataclass(frozen=True)
class StoredUplift:
    """A loaded uplift model with its manifest and where it came from."""

    model: UpliftModel
    manifest: dict[str, Any]
    path: Path
    version: int


class UpliftStore(ModelStore):
    """The versions of the uplift model in ``root`` (``uplift.model_dir``)."""

    def add_model(
        self, model: UpliftModel, manifest: Mapping[str, Any], *, keep: int | None = None
    ) -> int:
        """Store a new version (``latest`` points at it, never ``champion``); its number."""
        with self.lock():
            number = max(self.versions(), default=0) + 1
            (self.root / "versions").mkdir(exist_ok=True, mode=0o700)
            with files.atomic_directory(self.path(number)) as tmp:
                names = model.to_files(tmp)
                record = {
                    "format": FORMAT,
                    "version": number,
                    **dict(manifest),
                    "files": {name: file_sha256(tmp / name) for name in sorted(names)},
                }
                (tmp / MANIFEST).write_text(
                    json.dumps(record, indent=2, sort_keys=True, default=str) + "\n",
                    encoding="utf-8",
                )
            self._point(LATEST, number)
            if keep is not None:
                self._prune(keep)
        log.info("uplift store %s: version %d stored", self.root, number)
        return number

    def load(self, number: int | None = None) -> StoredUplift:
        """The version ``number`` (default: the champion), its digests checked.

        Raises:
            BundleError: no such version, no champion, or a file that does not match its digest.
        """
        if number is None:
            number = self.champion
            if number is None:
                raise BundleError(
                    f"uplift store {self.root}: no champion (no uplift model has passed its gate; "
                    "train one with pipelines.uplift)"
                )
        folder = self.path(number)
        try:
            manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        except FileNotFoundError as err:
            raise BundleError(f"uplift store {self.root}: no version {number}") from err
        except json.JSONDecodeError as err:
            raise BundleError(f"uplift store {folder / MANIFEST}: not JSON: {err}") from err
        digests = manifest.get("files")
        if not isinstance(digests, Mapping) or not digests:
            raise BundleError(f"uplift store {folder / MANIFEST}: expected files and digests")
        for name, digest in digests.items():
            path = folder / str(name)
            if Path(name).name != name or not path.is_file():
                raise BundleError(f"uplift store {folder}: model file {name!r} is missing")
            if file_sha256(path) != digest:
                raise BundleError(
                    f"uplift store {folder}: {name} does not match the digest in its manifest "
                    "(changed after training); refusing to load it"
                )
        return StoredUplift(UpliftModel.from_files(folder), manifest, folder, number)

    def manifests(self) -> list[dict[str, Any]]:
        """Every version's manifest, oldest first, with ``champion`` and ``latest`` flags."""
        champion, latest = self.champion, self.latest
        out = []
        for n in self.versions():
            record = json.loads((self.path(n) / MANIFEST).read_text(encoding="utf-8"))
            out.append({**record, CHAMPION: n == champion, LATEST: n == latest})
        return out

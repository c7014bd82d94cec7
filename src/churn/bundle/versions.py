"""The local model store: every training a new version, and pointers to what may be served.

``models/<name>/`` (``model_dir``) holds::

    versions/1/        a bundle (model files, manifest.json, manifest.sig, plots/), never changed
    versions/2/        ... except its manifest's ``mlflow`` record, added after registration
    champion -> versions/2   the version scoring serves (``source=bundle``)
    latest -> versions/3     the newest version, promoted or not
    promotions.jsonl   every change of champion: version, previous, reason, time

Each pointer is a relative symbolic link, replaced in one step: a new link is created under a
temporary name and renamed over the old one, so a reader sees the old or the new version, never
none. Writers take the store's lock (``.lock``, an ``flock`` that the system releases when its
holder dies), so two trainings cannot claim the same version number.

A folder that still holds a bundle directly (``manifest.json`` at its top, the layout before the
store) is served as it is until the next training, which moves it into ``versions/1`` (champion
when its manifest records a promotion and its files are of the current format) and stores the
new model beside it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from churn import files
from churn.bundle.manifest import Manifest
from churn.bundle.store import MANIFEST_FILE, Bundle, load, model_files, read_manifest, save
from churn.errors import BundleError

log = logging.getLogger(__name__)

VERSIONS = "versions"
CHAMPION = "champion"
LATEST = "latest"
HISTORY = "promotions.jsonl"
LOCK = ".lock"
_NUMBER = re.compile(r"[1-9][0-9]*")


@dataclass(frozen=True)
class VersionInfo:
    """One stored version, as ``pipelines.promote`` lists it."""

    number: int
    path: Path
    manifest: Manifest
    champion: bool
    latest: bool


class ModelStore:
    """The versions of one model in ``root`` (``model_dir``) and its two pointers."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def versions(self) -> list[int]:
        """The stored version numbers, ascending."""
        folder = self.root / VERSIONS
        if not folder.is_dir():
            return []
        numbers = [int(p.name) for p in folder.iterdir() if _NUMBER.fullmatch(p.name)]
        return sorted(n for n in numbers if (folder / str(n) / MANIFEST_FILE).is_file())

    def path(self, number: int) -> Path:
        """The folder of version ``number``."""
        return self.root / VERSIONS / str(number)

    def pointer(self, name: str) -> int | None:
        """The version ``champion`` or ``latest`` points to, None when it is not set."""
        link = self.root / name
        if not link.is_symlink():
            return None
        target = Path(os.readlink(link))
        if len(target.parts) != 2 or target.parts[0] != VERSIONS:
            raise BundleError(f"model store {self.root}: {name} points outside {VERSIONS}/")
        number = int(target.name) if _NUMBER.fullmatch(target.name) else None
        if number is None or not (self.path(number) / MANIFEST_FILE).is_file():
            raise BundleError(
                f"model store {self.root}: {name} points to {target}, which holds no bundle"
            )
        return number

    @property
    def champion(self) -> int | None:
        """The version scoring serves."""
        return self.pointer(CHAMPION)

    @property
    def latest(self) -> int | None:
        """The newest version."""
        return self.pointer(LATEST)

    def add(
        self,
        model: Any,
        manifest: Manifest,
        *,
        extra_files: Mapping[str, str | os.PathLike[str]] | None = None,
        keep: int | None = None,
    ) -> tuple[int, Bundle]:
        """Store a new version and point ``latest`` at it (never ``champion``).

        Args:
            model: the deployed model.
            manifest: its manifest (files and digests are filled in by :func:`save`).
            extra_files: files copied into the bundle (the plots).
            keep: prune to this many versions afterwards (the champion is always kept).
        """
        with self.lock():
            self._adopt_legacy()
            number = max(self.versions(), default=0) + 1
            (self.root / VERSIONS).mkdir(exist_ok=True, mode=0o700)
            saved = save(model, manifest, self.path(number), extra_files=extra_files)
            self._point(LATEST, number)
            if keep is not None:
                self._prune(keep)
        log.info("model store %s: version %d stored", self.root, number)
        return number, saved

    def promote(
        self, number: int, *, reason: str, by: str = "gate", at: str | None = None
    ) -> int | None:
        """Point ``champion`` at version ``number`` and record why; returns the previous one.

        Args:
            number: the version to serve.
            reason: why, recorded in ``promotions.jsonl``.
            by: ``gate`` (training) or ``manual`` (``pipelines.promote``).
            at: the time recorded (default now, UTC).

        Raises:
            BundleError: the version is not in the store.
        """
        if not reason.strip():
            raise ValueError("ModelStore.promote: a reason is required")
        with self.lock():
            if number not in self.versions():
                raise BundleError(
                    f"model store {self.root}: no version {number}; the store holds "
                    f"{self.versions() or 'no versions'}"
                )
            previous = self.champion
            self._point(CHAMPION, number)
            entry = {
                "at": at or pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
                "version": number,
                "previous": previous,
                "reason": reason,
                "by": by,
            }
            flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
            with open(os.open(self.root / HISTORY, flags, 0o600), "a", encoding="utf-8") as handle:
                handle.write(json.dumps(entry, sort_keys=True) + "\n")
        log.info("model store %s: champion is version %d (was %s)", self.root, number, previous)
        return previous

    def history(self) -> list[dict[str, Any]]:
        """Every change of champion, oldest first."""
        path = self.root / HISTORY
        if not path.is_file():
            return []
        lines = path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def describe(self) -> list[VersionInfo]:
        """Every stored version with its manifest and pointers."""
        champion, latest = self.champion, self.latest
        return [
            VersionInfo(n, self.path(n), read_manifest(self.path(n)), n == champion, n == latest)
            for n in self.versions()
        ]

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the store's write lock.

        Raises:
            LockedError: another process holds it (its pid is named).
        """
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        with files.lock(self.root / LOCK, what=f"model store {self.root}"):
            yield

    def _adopt_legacy(self) -> None:
        """Move a bundle saved directly in ``root`` (before the store) into ``versions/1``."""
        if not (self.root / MANIFEST_FILE).is_file() or self.versions():
            return
        manifest = read_manifest(self.root)
        staging = self.root / VERSIONS / ".1.tmp"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True, mode=0o700)
        names = [p.name for p in self.root.iterdir() if p.name not in (VERSIONS, LOCK)]
        for name in sorted(names, key=lambda n: n == MANIFEST_FILE):  # the manifest last
            os.replace(self.root / name, staging / name)
        os.replace(staging, self.path(1))
        self._point(LATEST, 1)
        # a bundle of an older format (a pickle) is kept, but never served again
        current = sorted(manifest.model.files) == sorted(model_files(manifest.model.kind))
        promoted = current and bool(manifest.promotion.get("promote"))
        if promoted:
            self._point(CHAMPION, 1)
        log.info(
            "model store %s: the bundle saved before the store is now version 1%s",
            self.root,
            " (champion)" if promoted else "",
        )

    def _point(self, name: str, number: int) -> None:
        link = self.root / name
        for stale in self.root.glob(f".{name}.*.tmp"):  # left by a run killed mid-swap
            stale.unlink()
        tmp = self.root / f".{name}.{os.getpid()}.tmp"
        os.symlink(Path(VERSIONS) / str(number), tmp)
        os.replace(tmp, link)

    def _prune(self, keep: int) -> list[int]:
        protected = {self.champion, self.latest}
        numbers = self.versions()
        removable = [n for n in numbers if n not in protected]
        excess = len(numbers) - max(keep, 1)
        removed = removable[: max(excess, 0)]
        for number in removed:
            shutil.rmtree(self.path(number))
        if removed:
            log.info("model store %s: pruned versions %s", self.root, removed)
        return removed


def version_table(infos: list[VersionInfo], metrics: tuple[str, ...]) -> list[str]:
    """One line per version: number, pointers, data end, horizon, test metrics, gate decision."""
    header = ["version", "serves", "trained", "data_end", "horizon", *metrics, "gate"]
    rows = [header]
    for info in infos:
        manifest = info.manifest
        marks = "+".join(n for n, on in ((CHAMPION, info.champion), (LATEST, info.latest)) if on)
        passed = manifest.promotion.get("promote")
        rows.append(
            [
                str(info.number),
                marks or "-",
                manifest.created_at[:19],
                manifest.data_end,
                f"{manifest.horizon_days}d",
                *(f"{manifest.metrics.get(f'test/{m}', float('nan')):.4f}" for m in metrics),
                "-" if passed is None else ("passed" if passed else "failed"),
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return [line.rstrip() for line in lines]


def bundle_folder(directory: str | os.PathLike[str]) -> Path:
    """The bundle folder that ``directory`` serves: itself, or its store's champion.

    Raises:
        BundleError: a store without a champion (promote one with ``pipelines.promote``), or
            nothing trained there yet.
    """
    root = Path(directory)
    store = ModelStore(root)
    if (root / MANIFEST_FILE).is_file() and not store.versions():
        return root
    champion = store.champion
    if champion is not None:
        return store.path(champion)
    versions = store.versions()
    if versions:
        raise BundleError(
            f"model store {root}: no champion yet (versions {versions}, none promoted); "
            "promote one with python -m pipelines.promote version=N reason=..."
        )
    raise BundleError(
        f"bundle {root}: expected a model store or {MANIFEST_FILE} (a trained model); not "
        "found. Train one with python -m pipelines.train"
    )


def load_served(directory: str | os.PathLike[str], *, require_signature: bool = False) -> Bundle:
    """:func:`load` of the bundle ``directory`` serves (its champion, for a store)."""
    return load(bundle_folder(directory), require_signature=require_signature)


def read_served_manifest(directory: str | os.PathLike[str]) -> tuple[Path, Manifest]:
    """The served bundle's folder and manifest, without loading the model."""
    folder = bundle_folder(directory)
    return folder, read_manifest(folder)


def load_shadow(
    directory: str | os.PathLike[str], which: str, *, require_signature: bool = False
) -> Bundle | None:
    """The challenger to score beside the champion: ``latest`` or a version number; None when
    it is the champion itself or the store holds no other version."""
    store = ModelStore(directory)
    number = store.latest if which == "latest" else int(which)
    if number is None or number == store.champion:
        log.info("shadow: no challenger in %s (latest is the champion)", store.root)
        return None
    if number not in store.versions():
        raise BundleError(
            f"score.shadow: model store {store.root} holds no version {number}; it holds "
            f"{store.versions()}"
        )
    return load(store.path(number), require_signature=require_signature)

"""The model store: versions, the champion and latest pointers, pruning, the lock."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from churn import bundle
from churn.bundle import versions
from churn.errors import BundleError, LockedError
from tests.bundle.test_store import MANIFEST, _model


@pytest.fixture(autouse=True)
def _no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(bundle.KEY_VARIABLE, raising=False)


def _store(tmp_path: Path, n: int = 0) -> bundle.ModelStore:
    store = bundle.ModelStore(tmp_path / "churn")
    for i in range(n):
        store.add(_model(i), MANIFEST)
    return store


def test_add_stores_versions_and_points_latest_only(tmp_path: Path) -> None:
    store = _store(tmp_path)
    assert store.versions() == []
    number, saved = store.add(_model(), MANIFEST)
    assert number == 1
    assert saved.path == store.path(1)
    assert (store.latest, store.champion) == (1, None)
    assert store.add(_model(1), MANIFEST)[0] == 2
    assert (store.latest, store.champion) == (2, None)
    assert os.readlink(store.root / "latest") == "versions/2"  # relative: the store can move
    assert stat.S_IMODE(store.root.stat().st_mode) == 0o700
    assert stat.S_IMODE((store.root / "versions").stat().st_mode) == 0o700


def test_nothing_is_served_before_a_promotion(tmp_path: Path) -> None:
    store = _store(tmp_path, 1)
    with pytest.raises(BundleError, match=r"no champion yet .*pipelines\.promote version=N"):
        bundle.load_served(store.root)
    store.promote(1, reason="first")
    assert bundle.load_served(store.root).path == store.path(1)


def test_an_empty_folder_says_train_first(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match=r"not found\. Train one with python -m pipelines\.train"):
        bundle.bundle_folder(tmp_path / "nothing")


def test_promote_records_history_and_refuses_unknown_versions(tmp_path: Path) -> None:
    store = _store(tmp_path, 2)
    assert store.promote(2, reason="gate", at="2024-06-02T00:00:00+00:00") is None
    assert store.promote(1, reason="rollback", by="manual") == 2
    assert [(h["version"], h["previous"], h["by"]) for h in store.history()] == [
        (2, None, "gate"),
        (1, 2, "manual"),
    ]
    assert stat.S_IMODE((store.root / "promotions.jsonl").stat().st_mode) == 0o600
    with pytest.raises(BundleError, match="no version 9"):
        store.promote(9, reason="x")
    with pytest.raises(ValueError, match="reason is required"):
        store.promote(1, reason=" ")
    assert store.champion == 1


def test_prune_keeps_the_champion_and_latest(tmp_path: Path) -> None:
    store = _store(tmp_path, 2)
    store.promote(1, reason="first")
    for i in range(4):
        store.add(_model(i), MANIFEST, keep=3)
    assert store.champion == 1
    assert store.latest == 6
    assert store.versions() == [1, 5, 6]
    assert store.add(_model(), MANIFEST, keep=1)[0] == 7  # numbers are never reused
    assert store.versions() == [1, 7]


def test_a_pointer_swap_killed_halfway_leaves_the_old_pointer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _store(tmp_path, 2)
    store.promote(1, reason="first")

    def killed(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(versions.os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        store.promote(2, reason="second")
    monkeypatch.undo()
    assert store.champion == 1
    assert bundle.load_served(store.root).path == store.path(1)
    store.promote(2, reason="second")  # the stale temporary link does not get in the way
    assert store.champion == 2
    assert [p.name for p in store.root.iterdir() if p.name.endswith(".tmp")] == []


def test_the_lock_refuses_a_second_writer_and_names_the_holder(tmp_path: Path) -> None:
    store = _store(tmp_path, 1)
    with store.lock():
        with pytest.raises(LockedError, match=rf"locked by another run \(pid {os.getpid()}, lock "):
            store.add(_model(), MANIFEST)
        with pytest.raises(LockedError):
            store.promote(1, reason="x")
    assert store.add(_model(), MANIFEST)[0] == 2
    assert LockedError.exit_code == 9


def test_a_pointer_outside_the_store_is_refused(tmp_path: Path) -> None:
    store = _store(tmp_path, 1)
    os.symlink("/etc", store.root / "champion")
    with pytest.raises(BundleError, match="points outside versions/"):
        bundle.load_served(store.root)


def test_a_bundle_saved_before_the_store_is_adopted(tmp_path: Path) -> None:
    root = tmp_path / "churn"
    promoted = MANIFEST.with_updates(promotion={"promote": True, "reasons": []})
    bundle.save(_model(), promoted, root)
    assert bundle.bundle_folder(root) == root  # served as it is until the next training
    store = bundle.ModelStore(root)
    number, _ = store.add(_model(1), MANIFEST)
    assert number == 2
    assert store.champion == 1
    assert store.latest == 2
    assert not (root / "manifest.json").exists()
    assert bundle.load_served(root).path == store.path(1)
    assert json.loads((store.path(1) / "manifest.json").read_text())["promotion"]["promote"]

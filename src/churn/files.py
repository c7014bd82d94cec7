"""Atomic, private file and folder writes, and the locks that keep two runs apart.

Every write goes to a temporary sibling that is renamed into place (a folder is exchanged with
the old one in one step), so a reader sees the old content or the new one, never a half-written
file or a missing folder. Customer data is written without world (or group) permissions.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import json
import logging
import os
import shutil
import signal
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from churn.errors import LockedError

log = logging.getLogger(__name__)

PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700
_LIBC = ctypes.CDLL(None, use_errno=True)
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
FAULT_VARIABLE = "CHURN_FAULT"  # the test seam of :func:`_fault`


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike[str], *, private: bool = True) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path`` in one rename.

    Args:
        path: the final file path; its parent folder is created when missing.
        private: give the file mode 0600 (customer data); otherwise 0644.

    On an exception the temporary file is removed and ``path`` is left untouched.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, PRIVATE_FILE_MODE if private else 0o644)
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def lock(path: str | os.PathLike[str], *, what: str) -> Iterator[None]:
    """Hold an exclusive ``flock(2)`` on the file ``path`` (created, mode 0600) while inside.

    The system releases the lock when its holder dies, so a killed run never leaves it held.

    Raises:
        LockedError: another process holds it; the message names ``what`` and the holder's pid.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(target, os.O_RDWR | os.O_CREAT, PRIVATE_FILE_MODE)
    with open(descriptor, "r+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as err:
            holder = handle.read().strip() or "unknown"
            raise LockedError(
                f"{what}: locked by another run (pid {holder}, lock {target}); try again when it "
                "has finished"
            ) from err
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)


def _fault(step: str) -> None:
    """A seam for tests: called between the filesystem calls of :func:`atomic_directory`.

    With the environment variable ``CHURN_FAULT`` set to a step's name (``filled``,
    ``exchanged``, ``moved aside``, ``published``), the process kills itself (``SIGKILL``: no
    cleanup, no ``finally``) when it reaches that step, so a test can kill a pipeline command
    mid-publish. Tests running in-process replace this function instead. Not for production.
    """
    if os.environ.get(FAULT_VARIABLE) == step:
        log.warning("%s=%s: killing this process (a test seam)", FAULT_VARIABLE, step)
        os.kill(os.getpid(), signal.SIGKILL)


def exchange(first: Path, second: Path) -> None:
    """Swap two paths in one atomic step (Linux ``renameat2`` with ``RENAME_EXCHANGE``).

    Raises:
        OSError: the system or filesystem cannot (``ENOSYS``, ``EINVAL``), or the call failed.
    """
    function = getattr(_LIBC, "renameat2", None)
    if function is None:
        raise OSError(errno.ENOSYS, "renameat2 is not available", str(second))
    result = function(
        _AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE
    )
    if result != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), str(second))


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike[str], *, private: bool = True) -> Iterator[Path]:
    """Yield a temporary folder to fill; on success it replaces the folder ``path`` as a whole.

    The run holds the target's lock (``.<name>.lock`` beside it; :class:`LockedError` when
    another run holds it) and first removes what a killed run left (``.<name>.*.tmp``). A new
    folder is renamed into place; an existing one is exchanged with the new one in one atomic
    step (:func:`exchange`), and the old content, now under the temporary name, is deleted. So a
    reader of ``path`` sees the whole old folder or the whole new one, never none and never a
    mix. On a filesystem that cannot exchange (some network filesystems), the old folder is
    moved aside first (``.<name>.*.old``) and a run killed between the two renames is repaired
    by the next one, which moves it back.

    Args:
        path: the final folder; its parent is created when missing.
        private: give the folder mode 0700 and its files 0600 (customer data).
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    with lock(final.parent / f".{final.name}.lock", what=str(final)):
        _clean_stale(final)
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
        try:
            yield tmp
            _set_modes(tmp, private=private)
            _fault("filled")
            if not os.path.lexists(final):
                os.rename(tmp, final)
            else:
                _swap(tmp, final)
            _fault("published")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)  # the new folder on failure, else the old


def _swap(tmp: Path, final: Path) -> None:
    try:
        exchange(tmp, final)
        _fault("exchanged")
        return
    except OSError as err:
        if err.errno not in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
            raise
        log.warning(
            "%s: this filesystem cannot exchange two folders in one step (%s); replacing with "
            "two renames",
            final,
            err.strerror,
        )
    old = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".old", dir=final.parent))
    os.rename(final, old / final.name)
    _fault("moved aside")
    os.rename(tmp, final)
    shutil.rmtree(old, ignore_errors=True)


def _clean_stale(final: Path) -> None:
    """Remove what killed runs left beside ``final``; restore it when only its old copy is left."""
    parent = final.parent
    olds = sorted(parent.glob(f".{final.name}.*.old"), key=lambda p: p.stat().st_mtime)
    if not os.path.lexists(final):
        for old in reversed(olds):
            if (old / final.name).is_dir():
                os.rename(old / final.name, final)
                log.warning("%s: restored the folder a killed run had moved aside", final)
                break
    for stale in [*olds, *parent.glob(f".{final.name}.*.tmp")]:
        shutil.rmtree(stale, ignore_errors=True)
        log.info("removed %s, left by a run that did not finish", stale)


def _set_modes(root: Path, *, private: bool) -> None:
    dir_mode, file_mode = (PRIVATE_DIR_MODE, PRIVATE_FILE_MODE) if private else (0o755, 0o644)
    os.chmod(root, dir_mode)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames:
            os.chmod(Path(dirpath) / name, dir_mode)
        for name in filenames:
            os.chmod(Path(dirpath) / name, file_mode)


def canonical_json(payload: Mapping[str, Any]) -> str:
    """``payload`` as canonical JSON: sorted keys, fixed separators and indent, a final newline.

    The same content always gives the same text, so a digest or signature over it is stable.
    """
    return json.dumps(payload, indent=2, sort_keys=True, separators=(",", ": "), default=str) + "\n"


def write_json(
    path: str | os.PathLike[str], payload: Mapping[str, Any], *, private: bool = True
) -> None:
    """Write ``payload`` as canonical JSON, atomically."""
    with atomic_file(path, private=private) as tmp:
        tmp.write_text(canonical_json(payload), encoding="utf-8")

"""Atomic, private file and folder writes.

Every write goes to a temporary sibling that is renamed into place, so a reader sees the old
content or the new one, never a half-written file. Customer data is written without world (or
group) permissions.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700


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
def atomic_directory(path: str | os.PathLike[str], *, private: bool = True) -> Iterator[Path]:
    """Yield a temporary folder to fill; on success it replaces the folder ``path`` as a whole.

    An existing folder at ``path`` is moved aside, the new one renamed into place, then the old
    one deleted, so all files appear together or not at all, and re-running replaces them.

    Args:
        path: the final folder; its parent is created when missing.
        private: give the folder mode 0700 and its files 0600 (customer data).
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    try:
        yield tmp
        _set_modes(tmp, private=private)
        old: Path | None = None
        if final.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".old", dir=final.parent))
            os.replace(final, old / final.name)
        os.replace(tmp, final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


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

"""The project's own exceptions.

Pipelines catch :class:`ChurnError` around ``run(cfg)`` to exit with the error's ``exit_code``
and a one-line reason as the last line of stderr, so a scheduler can act on the failure without
reading a traceback. Any other exception is a bug and exits with code 1 and a traceback.
"""

import errno
import os


class ChurnError(Exception):
    """A known failure: bad input, bad configuration, missing or tampered model, too little data."""

    exit_code = 2


class ConfigError(ChurnError, ValueError):
    """A configuration value that cannot work."""

    exit_code = 2


class DataError(ChurnError, ValueError):
    """Input data that breaks the data contract (docs/data-contract.md)."""

    exit_code = 3


class InsufficientHistoryError(DataError):
    """Too little history for the chosen horizon and cutoff step."""


class TrackingError(ChurnError):
    """The tracking server could not be reached or refused a write (the bundle is still saved)."""

    exit_code = 4


class BundleError(ChurnError):
    """A model bundle that is missing, tampered with or does not fit the data."""

    exit_code = 5


class DriftError(DataError):
    """Scoring data drifted from the training reference beyond the configured flag level."""

    exit_code = 6


class ExportError(ChurnError):
    """An export target (a database) refused the at-risk list; the files were written."""

    exit_code = 7


class StorageError(ChurnError):
    """A file or folder that cannot be read or written: read-only, full, no permission."""

    exit_code = 8


# The operating system's errors that are a storage failure rather than a bug.
STORAGE_ERRNOS = frozenset(
    {
        errno.EACCES,
        errno.EPERM,
        errno.EROFS,
        errno.ENOSPC,
        errno.EDQUOT,
        errno.EFBIG,
        errno.EIO,
        errno.ENOTDIR,
        errno.EISDIR,
        errno.ENAMETOOLONG,
        errno.EMFILE,
    }
)


def storage_error(err: OSError) -> StorageError | None:
    """The :class:`StorageError` an operating system error stands for, None when it is not one.

    The reason names the path and what went wrong, e.g. ``cannot write exports/2026-01-01: No
    space left on device``.
    """
    code = err.errno
    if code is None:  # pyarrow and others raise OSError with the reason in the text only
        text = str(err)
        code = next((c for c in STORAGE_ERRNOS if os.strerror(c) in text), None)
        if code is None:
            return None
    elif code not in STORAGE_ERRNOS:
        return None
    path = err.filename or "(a file)"
    if err.filename2:
        path = f"{path} -> {err.filename2}"
    reason = f"{os.strerror(code)} ({errno.errorcode[code]})"
    return StorageError(f"cannot read or write {path}: {reason}")


class LockedError(ChurnError):
    """Another run holds the lock of the target this run would write (a model store, an export)."""

    exit_code = 9

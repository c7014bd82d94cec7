"""Credentials kept out of everything the pipeline writes: logs, run configs, manifests, MLflow.

:func:`redact` replaces the password of any ``scheme://user:password@host`` URI and the value of
credential-like query parameters (``password``, ``token``, ``secret``, ``key``, ...) with
``***``. The real value is used only to connect; every text the pipeline logs, saves or sends to
a tracking server goes through :func:`redact` (or :func:`redact_values` for nested values), and
:class:`RedactingFilter` does it for every log record.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

log = logging.getLogger(__name__)

MASK = "***"
_USERINFO = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s:/@'\"]*):[^\s@/'\"]+@")
_QUERY = re.compile(
    r"(?i)(?P<head>[?&;](?:password|passwd|pwd|token|access_token|secret|api_key|key|sig)=)"
    r"[^&\s'\"]+"
)


def redact(text: str) -> str:
    """``text`` with every URI password and credential query value replaced by ``***``."""
    if "://" not in text and "=" not in text:
        return text
    return _QUERY.sub(rf"\g<head>{MASK}", _USERINFO.sub(rf"\g<head>:{MASK}@", text))


def redact_values(value: Any) -> Any:
    """A copy of ``value`` (mappings, lists, tuples, strings) with every string redacted."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {key: redact_values(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact_values(item) for item in value)
    return value


class RedactingFilter(logging.Filter):
    """A handler filter that redacts each record's message (arguments included)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Replace the message by its redacted text; never drops a record."""
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def install_log_filter() -> None:
    """Add :class:`RedactingFilter` to every handler of the root logger (once each)."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())

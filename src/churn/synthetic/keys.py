"""Stable per-customer keys for the simulators' own random streams."""

from __future__ import annotations

import hashlib
import logging

log = logging.getLogger(__name__)


def customer_key(customer_id: str) -> int:
    """A stable 64-bit hash of a customer id (the same on every machine and Python run)."""
    return int.from_bytes(hashlib.sha256(customer_id.encode()).digest()[:8], "little")

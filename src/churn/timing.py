"""Per-stage wall-clock timings, logged as each stage ends and kept for the run's records."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)


class Stopwatch:
    """Times named stages; ``seconds`` maps each finished stage to its wall time."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._started = time.perf_counter()

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the block and log one line when it ends: ``done`` or, when it raised, ``failed``."""
        started = time.perf_counter()
        log.debug("stage %s: started", name)
        try:
            yield
        except BaseException as err:
            elapsed = self._add(name, started)
            log.error("stage %s: failed after %.2f s (%s)", name, elapsed, type(err).__name__)
            raise
        elapsed = self._add(name, started)
        log.info("stage %s: done in %.2f s", name, elapsed)

    def _add(self, name: str, started: float) -> float:
        elapsed = time.perf_counter() - started
        self.seconds[name] = self.seconds.get(name, 0.0) + elapsed
        return elapsed

    @property
    def total(self) -> float:
        """Seconds since the stopwatch was created."""
        return time.perf_counter() - self._started

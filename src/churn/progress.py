"""Progress of long work: a bar on a terminal, a compact line in a scheduler's log otherwise.

On a terminal (standard error is a TTY) a :mod:`tqdm` bar is drawn on standard error. Anywhere
else (a scheduler, a pipe, a file) no bar is drawn: at most one log line per stage every
``interval`` seconds (30 by default) says how far it is, with the rate and the time left, so
logs stay compact; a stage that ends sooner logs nothing. ``CHURN_PROGRESS`` overrides the
choice: ``bar``, ``log`` or ``off``.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import IO, Any

log = logging.getLogger(__name__)

INTERVAL_SECONDS = 30.0
MODES = ("bar", "log", "off")


def _mode(stream: IO[str]) -> str:
    chosen = os.environ.get("CHURN_PROGRESS", "").strip().lower()
    if chosen in MODES:
        return chosen
    isatty = getattr(stream, "isatty", None)
    return "bar" if callable(isatty) and isatty() else "log"


class Progress:
    """Progress of one stage, updated with the work done since the last update.

    Use as a context manager::

        with Progress("scoring", total=len(frame), unit="customers") as bar:
            for batch in batches:
                ...
                bar.update(len(batch))
    """

    def __init__(
        self,
        what: str,
        total: int | None = None,
        *,
        unit: str = "rows",
        interval: float = INTERVAL_SECONDS,
        stream: IO[str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.what, self.total, self.unit = what, total, unit
        self.interval, self.clock = interval, clock
        self.done = 0
        self.lines = 0  # log lines written
        self.mode = _mode(stream if stream is not None else sys.stderr)
        self._started = self._last = clock()
        self._bar: Any = None
        if self.mode == "bar":
            from tqdm import tqdm

            self._bar = tqdm(
                total=total,
                desc=what,
                unit=f" {unit}",
                unit_scale=True,
                file=stream if stream is not None else sys.stderr,
                leave=False,
                dynamic_ncols=True,
            )

    def update(self, n: int) -> None:
        """Count ``n`` more units done."""
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
            return
        if self.mode != "log":
            return
        now = self.clock()
        if now - self._last < self.interval:
            return
        self._last = now
        self.lines += 1
        log.info("%s: %s", self.what, self.describe(now))

    def describe(self, now: float | None = None) -> str:
        """How far the stage is: done (of total), rate, and the time left when known."""
        elapsed = max((self.clock() if now is None else now) - self._started, 1e-9)
        rate = self.done / elapsed
        text = f"{self.done:,} {self.unit}"
        if self.total:
            text += f" of {self.total:,} ({100 * self.done / self.total:.0f}%)"
        text += f", {rate:,.0f} {self.unit}/s"
        if self.total and rate > 0:
            text += f", about {max(self.total - self.done, 0) / rate:,.0f} s left"
        return text

    def close(self) -> None:
        """End the bar (a terminal's bar disappears; logs get no closing line)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

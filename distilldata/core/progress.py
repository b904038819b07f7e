"""Progress lines for long steps: done/total, rate and ETA, at most every `every` seconds."""

from __future__ import annotations

import logging
import time


class Progress:
    def __init__(self, total: int, unit: str, logger: logging.Logger, every: float = 10.0):
        self.total = total
        self.unit = unit
        self.logger = logger
        self.every = every
        self.done = 0
        self.start = time.monotonic()
        self._last = self.start

    def update(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if now - self._last >= self.every or self.done >= self.total:
            self._last = now
            self.logger.info("%s", self.line(now))

    def line(self, now: float | None = None) -> str:
        elapsed = max((now or time.monotonic()) - self.start, 1e-9)
        rate = self.done / elapsed
        left = (self.total - self.done) / rate if rate > 0 else float("inf")
        return (
            f"{self.done:,}/{self.total:,} {self.unit} ({rate:,.0f} {self.unit}/s, "
            f"elapsed {elapsed:,.1f}s, ETA {left:,.0f}s)"
        )

"""What every backend of the LLM layer shares: settings, a tokenizer, and an engine that loads
once, on first use (so a fully cached run never starts a model), with its load time logged."""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod

log = logging.getLogger(__name__)


class LazyEngine(ABC):
    name = "?"

    def __init__(self, settings):
        self.settings = settings
        self.tokenizer = None
        self.loaded = False
        self.load_seconds = 0.0

    @abstractmethod
    def _load(self) -> None:
        """Load the engine and set self.tokenizer."""

    def load(self) -> None:
        if not self.loaded:
            started = time.monotonic()
            self._load()
            self.loaded = True
            self.load_seconds = time.monotonic() - started
            log.info("%s: loaded %s in %.1fs", self.name, self.settings.model, self.load_seconds)

    def close(self) -> None:  # noqa: B027 - only engines with a process of their own need it
        """Release the engine; callers close what they loaded when their job is done."""

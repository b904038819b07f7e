"""Which module renamed each file into place: every artifact must come from the store
(`distilldata.core.store`)."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def spy_renames(monkeypatch) -> dict[Path, str]:
    """Record `{final path: module that called os.replace}` for the rest of the test."""
    seen: dict[Path, str] = {}
    real = os.replace

    def replace(src, dst, *args, **kwargs):
        seen[Path(dst).resolve()] = sys._getframe(1).f_globals.get("__name__", "?")
        return real(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)
    return seen


def written_by_store(seen: dict[Path, str], *paths: str | Path) -> dict[str, str | None]:
    """For each path, the module that renamed it into place (None: written in place)."""
    return {str(p): seen.get(Path(p).resolve()) for p in paths}


def all_by_store(seen: dict[Path, str], *paths: str | Path) -> bool:
    return all(v == "distilldata.core.store" for v in written_by_store(seen, *paths).values())

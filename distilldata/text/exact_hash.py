"""Exact-duplicate keys: xxh3-128 of a normalized string (case folded, whitespace collapsed).

Numbers and punctuation are kept: "2+3" and "7+9" are different rows.
"""

from __future__ import annotations

import re

import xxhash

_WS = re.compile(r"\s+")


def normalize_key(text: str) -> str:
    return _WS.sub(" ", text.casefold()).strip()


def exact_hash(text: str) -> tuple[int, int]:
    """(high, low) 64-bit halves of xxh3-128 of the normalized text (two uint64 columns)."""
    digest = xxhash.xxh3_128_intdigest(normalize_key(text).encode("utf-8"))
    return digest >> 64, digest & 0xFFFFFFFFFFFFFFFF

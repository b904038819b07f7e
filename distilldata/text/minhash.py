"""MinHash signatures and LSH band keys, vectorised with numpy (no per-permutation Python loop).

Shingles are word n-grams of the lower-cased text (numbers are *not* normalized away). Word
hashes come from one polynomial prefix hash over the code points, an n-gram's hash combines its
words' hashes with a multiply-xor chain, so shingling is array arithmetic. Permutations are
bijective uint32 mixes of the 32-bit shingle hash, computed for a batch of documents at once and
reduced per document with `np.minimum.reduceat`. Band keys are a multiply-xor hash of
each band's `rows` signature values; two documents are candidates when any band key matches.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

_WORD = re.compile("[0-9a-z_\u0080-\U0010ffff]+")
_MIX = np.uint64(0x9E3779B97F4A7C15)
_BASE = 0x100000001B3  # odd, so it has an inverse mod 2^64
_EMPTY = np.uint32(0xFFFFFFFF)
MAX_CELLS = 1 << 19  # shingles x permutations evaluated at once (2 MB of uint32: cache-sized)
BATCH_CHARS = 1 << 20  # code points hashed at once by `batch_shingles`
_WORD_CHAR = np.ones(0x110000, dtype=bool)  # every non-ASCII code point is a word character
_WORD_CHAR[:128] = False
for _c in "0123456789abcdefghijklmnopqrstuvwxyz_":
    _WORD_CHAR[ord(_c)] = True


@dataclass(frozen=True)
class MinHashConfig:
    ngram: int = 5
    bands: int = 14
    rows: int = 8
    seed: int = 1

    @property
    def num_perm(self) -> int:
        return self.bands * self.rows

    @property
    def threshold(self) -> float:
        """Jaccard at which a pair becomes a candidate with probability ~0.5: (1/b)^(1/r)."""
        return (1.0 / self.bands) ** (1.0 / self.rows)

    def candidate_probability(self, jaccard: float) -> float:
        return 1.0 - (1.0 - jaccard**self.rows) ** self.bands


def words(text: str) -> list[str]:
    """Words: runs of ASCII letters/digits/underscore or any non-ASCII character, lower-cased."""
    return _WORD.findall(text.lower())


def shingle_strings(text: str, ngram: int) -> list[bytes]:
    """The same shingles as `shingle_hashes`, as byte strings (for reference implementations)."""
    w = words(text)
    if len(w) < ngram:
        return [" ".join(w).encode("utf-8")] if w else []
    return sorted({" ".join(w[i : i + ngram]).encode("utf-8") for i in range(len(w) - ngram + 1)})


class _Powers:
    """BASE^i and BASE^-i mod 2^64, grown on demand."""

    def __init__(self):
        self.pow = np.empty(0, dtype=np.uint64)
        self.inv = np.empty(0, dtype=np.uint64)

    def get(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        if len(self.pow) < n:
            size = max(n, 2 * len(self.pow), 1 << 16)
            with np.errstate(over="ignore"):
                base = np.full(size, _BASE, dtype=np.uint64)
                base[0] = 1
                self.pow = np.cumprod(base, dtype=np.uint64)
                inv = np.full(size, pow(_BASE, -1, 1 << 64), dtype=np.uint64)
                inv[0] = 1
                self.inv = np.cumprod(inv, dtype=np.uint64)
        return self.pow[:n], self.inv[:n]


_POWERS = _Powers()


def word_hashes(text: str) -> np.ndarray:
    """64-bit hashes of `words(text)`, in order, computed with array arithmetic: a polynomial
    prefix hash over the code points, each word's slice shifted back to position 0."""
    return _word_spans(text.lower())[0]


def _word_spans(lowered: str) -> tuple[np.ndarray, np.ndarray]:
    """(word hashes, word start offsets in code points) of an already lower-cased string."""
    cps = np.frombuffer(lowered.encode("utf-32-le"), dtype=np.uint32)
    if len(cps) == 0:
        return np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.int64)
    is_word = _WORD_CHAR[cps]
    edges = np.diff(is_word.view(np.int8), prepend=np.int8(0), append=np.int8(0))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    if len(starts) == 0:
        return np.empty(0, dtype=np.uint64), starts
    powers, inverse = _POWERS.get(len(cps) + 1)
    with np.errstate(over="ignore"):
        prefix = np.concatenate(
            [[np.uint64(0)], np.cumsum((cps.astype(np.uint64) + np.uint64(1)) * powers[:-1])]
        )
        h = (prefix[ends] - prefix[starts]) * inverse[starts]
        h ^= h >> np.uint64(31)
        h *= _MIX
        h ^= h >> np.uint64(29)
    return h, starts


def _combine(h: np.ndarray, n: int) -> np.ndarray:
    """32-bit hashes of the n-word windows of a word-hash array (len(h) - n + 1 of them)."""
    count = len(h) - n + 1
    acc = h[:count].copy()
    with np.errstate(over="ignore"):
        for k in range(1, n):
            acc = (acc * _MIX) ^ h[k : k + count]
        acc ^= acc >> np.uint64(29)
    return (acc & np.uint64(0xFFFFFFFF)).astype(np.uint32)


def batch_shingles(texts: Sequence[str], ngram: int) -> tuple[np.ndarray, np.ndarray]:
    """(shingle hashes of all texts concatenated, shingles per text); equal to calling
    `shingle_hashes` on each text, but hashed over joined chunks of ~BATCH_CHARS code points so
    that per-document numpy overhead disappears."""
    values, sizes = [], np.zeros(len(texts), dtype=np.int64)
    start = 0
    while start < len(texts):
        stop, chars = start, 0
        while stop < len(texts) and (stop == start or chars + len(texts[stop]) < BATCH_CHARS):
            chars += len(texts[stop]) + 1
            stop += 1
        lowered = [t.lower() for t in texts[start:stop]]
        h, word_starts = _word_spans("\n".join(lowered))
        bounds = np.cumsum([len(t) + 1 for t in lowered])
        doc = np.searchsorted(bounds, word_starts, side="right")
        counts = np.bincount(doc, minlength=len(lowered))
        grams, owner = np.empty(0, dtype=np.uint32), np.empty(0, dtype=np.int64)
        if len(h) >= ngram:
            grams = _combine(h, ngram)
            first, last = doc[: len(grams)], doc[ngram - 1 :]
            keep = first == last
            grams, owner = grams[keep], first[keep]
        short = np.flatnonzero((counts > 0) & (counts < ngram))  # short texts: one shingle
        if len(short):
            extra = [shingle_hashes(texts[start + i], ngram) for i in short]
            grams = np.concatenate([grams, *extra])
            owner = np.concatenate([owner, np.repeat(short, [len(e) for e in extra])])
            order = np.argsort(owner, kind="stable")
            grams, owner = grams[order], owner[order]
        values.append(grams)
        sizes[start:stop] = np.bincount(owner, minlength=len(lowered))
        start = stop
    if not values:
        return np.empty(0, dtype=np.uint32), sizes
    return np.concatenate(values), sizes


def shingle_hashes(text: str, ngram: int) -> np.ndarray:
    """32-bit hashes of the word n-grams of `text` (uint32 array, repeats kept: they do not
    change a minimum)."""
    h = word_hashes(text)
    if len(h) == 0:
        return np.empty(0, dtype=np.uint32)
    return _combine(h, min(ngram, len(h)))


class MinHasher:
    """Permutation k maps a 32-bit shingle hash x to (x ^ b_k) * a_k mod 2^32 (a_k odd): a
    bijection of the 32-bit space, two SIMD-friendly uint32 passes per permutation. Checked
    against exact Jaccard on real-text pairs: unbiased, with the binomial error of k = b x r
    permutations (bench/RESULTS.md)."""

    def __init__(self, config: MinHashConfig):
        self.config = config
        rng = np.random.default_rng(config.seed)
        a = rng.integers(0, 1 << 31, size=config.num_perm, dtype=np.uint32)
        self.a = (a * np.uint32(2) + np.uint32(1))[:, None]
        self.b = rng.integers(0, 1 << 32, size=config.num_perm, dtype=np.uint32)[:, None]

    def signatures(self, shingles: Sequence[np.ndarray]) -> np.ndarray:
        """(docs x num_perm) uint32 signatures; an empty document gets all-max values."""
        sizes = np.array([len(s) for s in shingles], dtype=np.int64)
        flat = np.concatenate(list(shingles)) if len(shingles) else np.empty(0, np.uint32)
        return self.signatures_flat(flat.astype(np.uint32, copy=False), sizes)

    def signatures_for_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Signatures straight from texts (batched shingling; see `batch_shingles`)."""
        return self.signatures_flat(*batch_shingles(texts, self.config.ngram))

    def band_keys_for_texts(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(docs x bands) band keys and a boolean mask of the documents that have shingles. A
        document without shingles (no word character) has the all-max signature, so its keys
        equal every other empty document's: callers must not bucket it."""
        values, sizes = batch_shingles(texts, self.config.ngram)
        return self.band_keys(self.signatures_flat(values, sizes)), sizes > 0

    def signatures_flat(self, values: np.ndarray, sizes: np.ndarray) -> np.ndarray:
        """Signatures of documents whose shingles are `values`, `sizes[i]` for document i."""
        out = np.full((len(sizes), self.config.num_perm), _EMPTY, dtype=np.uint32)
        ends = np.cumsum(sizes)
        budget = max(1, MAX_CELLS // self.config.num_perm)
        doc = 0
        while doc < len(sizes):
            base = ends[doc] - sizes[doc]
            stop = max(doc + 1, int(np.searchsorted(ends, base + budget, side="right")))
            self._fill(values[base : ends[stop - 1]], sizes[doc:stop], doc, out)
            doc = stop
        return out

    def _fill(self, values: np.ndarray, sizes: np.ndarray, first: int, out: np.ndarray) -> None:
        nonempty = np.flatnonzero(sizes)
        if len(nonempty) == 0:
            return
        offsets = np.concatenate([[0], np.cumsum(sizes[nonempty])[:-1]])
        with np.errstate(over="ignore"):
            h = values[None, :] ^ self.b  # (perm x shingles): reduce along the contiguous axis
            h *= self.a
        out[first + nonempty] = np.minimum.reduceat(h, offsets, axis=1).T

    def band_keys(self, signatures: np.ndarray) -> np.ndarray:
        """(docs x bands) uint64 keys: a multiply-xor hash of each band's `rows` values."""
        r = self.config.rows
        keys = np.empty((signatures.shape[0], self.config.bands), dtype=np.uint64)
        with np.errstate(over="ignore"):
            for band in range(self.config.bands):
                acc = np.full(signatures.shape[0], np.uint64(band + 1) * _MIX, dtype=np.uint64)
                for j in range(band * r, (band + 1) * r):
                    acc = (acc ^ signatures[:, j].astype(np.uint64)) * _MIX
                    acc ^= acc >> np.uint64(31)
                keys[:, band] = acc
        return keys


def candidate_pairs(keys: np.ndarray, valid: np.ndarray | None = None) -> set[tuple[int, int]]:
    """Index pairs (i < j) sharing at least one band key (star edges to each bucket's first);
    rows outside `valid` (e.g. documents without shingles) pair with nothing."""
    rows = np.arange(keys.shape[0]) if valid is None else np.flatnonzero(valid)
    pairs: set[tuple[int, int]] = set()
    for band in range(keys.shape[1]):
        for first, other in bucket_edges(keys[rows, band]):
            a, b = int(rows[first]), int(rows[other])
            pairs.add((min(a, b), max(a, b)))
    return pairs


def bucket_edges(column: np.ndarray) -> list[tuple[int, int]]:
    """For one band: (first row, other row) for every row whose key an earlier row has."""
    order = np.argsort(column, kind="stable")
    ordered = column[order]
    if len(ordered) < 2:
        return []
    same = np.concatenate([[False], ordered[1:] == ordered[:-1]])
    group_start = np.maximum.accumulate(np.where(~same, np.arange(len(ordered)), 0))
    idx = np.nonzero(same)[0]
    return list(zip(order[group_start[idx]].tolist(), order[idx].tolist(), strict=True))


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Exact Jaccard similarity of two shingle-hash arrays (0 when either is empty: a text
    without words is similar to nothing, not even to another such text)."""
    a, b = np.unique(a), np.unique(b)
    if len(a) == 0 or len(b) == 0:
        return 0.0
    inter = len(np.intersect1d(a, b, assume_unique=True))
    return inter / (len(a) + len(b) - inter)

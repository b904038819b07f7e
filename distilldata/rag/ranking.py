"""Ranked hit lists and the one interface every retriever implements.

The ranking rule, everywhere (per part, after merging parts, after fusion): descending score,
ties broken by corpus order: (part, row) of the chunk, i.e. its position in the corpus read part
by part. So results are deterministic and a sharded search gives exactly the unsharded top-k.
(ScaleDown's order for ties is whatever `np.argsort(scores)[-k:][::-1]` leaves: argsort's
unstable quicksort, reversed.) A search returns `top_k` hits when the corpus has that many
chunks, zero-score ones included, as ScaleDown's dense argsort does.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass
class TopK:
    """Hits of a query batch: `rows[i]` are positions in the index (corpus order), best first,
    `scores[i]` their scores. Every query has min(k, corpus size) hits."""

    scores: np.ndarray  # float32 [n_queries, k]
    rows: np.ndarray  # int64 [n_queries, k]


def top_k_row(scores: np.ndarray, k: int) -> np.ndarray:
    """Positions of the k best scores of one query (descending score, then ascending position).

    O(n): argpartition finds the k-th best value; every position above it is in, and ties at it
    are filled from the lowest positions, so the result never depends on argpartition's order."""
    n = scores.shape[0]
    k = min(k, n)
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    kth = scores[np.argpartition(-scores, k - 1)[k - 1]]
    above = np.flatnonzero(scores > kth)
    ties = np.flatnonzero(scores == kth)[: k - len(above)]
    chosen = np.concatenate([above, ties])
    return chosen[np.lexsort((chosen, -scores[chosen]))].astype(np.int64)


def top_k_dense(scores: np.ndarray, k: int) -> TopK:
    """The top-k rule over a (queries x chunks) score matrix."""
    rows = np.stack([top_k_row(row, k) for row in scores]) if len(scores) else None
    if rows is None:
        return TopK(np.zeros((0, 0), np.float32), np.zeros((0, 0), np.int64))
    return TopK(np.take_along_axis(scores, rows, axis=1).astype(np.float32), rows)


def top_k_sparse_row(columns: np.ndarray, values: np.ndarray, n: int, k: int) -> np.ndarray:
    """The top-k rule over one sparse score row (every stored value > 0, the rest 0): the best
    stored entries, then, if fewer than k, the lowest positions that scored 0."""
    k = min(k, n)
    if len(columns) >= k:
        order = np.lexsort((columns, -values))
        return columns[order[:k]].astype(np.int64)
    best = columns[np.lexsort((columns, -values))].astype(np.int64)
    zeros = np.setdiff1d(np.arange(min(n, k + len(columns)), dtype=np.int64), columns)
    return np.concatenate([best, zeros[: k - len(best)]])


def merge_ranked(
    scores: Sequence[np.ndarray], keys: Sequence[np.ndarray], k: int
) -> tuple[np.ndarray, np.ndarray]:
    """One query's candidates from several lists -> (indices into the concatenation, scores) of
    its top k. `keys[j]` is a (n_j x m) array of corpus-order keys (e.g. part, row), compared
    lexicographically to break ties."""
    s = np.concatenate(scores) if len(scores) else np.zeros(0, np.float32)
    key = np.concatenate(keys) if len(keys) else np.zeros((0, 1), np.int64)
    order = np.lexsort((*[key[:, c] for c in range(key.shape[1] - 1, -1, -1)], -s))[:k]
    return order, s[order]


def document_text(title: str, text: str) -> str:
    """What a retriever encodes for a chunk: ScaleDown's `f"{title} {text}"`."""
    return f"{title} {text}"


class Retriever(ABC):
    """A retriever: build an index over chunk texts, search it with queries.

    Per-part retrievers (SPLADE, dense) build one index per corpus part and are searched part by
    part (the parts' top-k merged by `merge_ranked`); a `corpus_wide` retriever (BM25, whose
    scores depend on corpus-wide statistics) builds one index over all parts.
    """

    kind: str = ""
    corpus_wide: bool = False

    @abstractmethod
    def build(self, texts: Sequence[str]):
        """An index over `texts` (chunk i = row i)."""

    @abstractmethod
    def save(self, index, path) -> None:
        """Write an index (atomically)."""

    @abstractmethod
    def load(self, path):
        """Read an index written by `save`."""

    @abstractmethod
    def search(self, index, queries: Sequence[str], top_k: int) -> TopK:
        """The top-k rows of the index for every query."""

    def retrieve(
        self, queries: Sequence[str], document_corpus: Sequence[dict], top_k: int = 20
    ) -> list[list[dict]]:
        """The seed's Python API: for each query, copies of its top-k documents (`{"id",
        "title", "text"}` dicts) with a `retrieval_score`, best first."""
        texts = [document_text(d["title"], d["text"]) for d in document_corpus]
        hits = self.search(self.build(texts), list(queries), top_k)
        return [
            [
                {**document_corpus[row], "retrieval_score": float(score)}
                for row, score in zip(rows, scores, strict=True)
            ]
            for rows, scores in zip(hits.rows, hits.scores, strict=True)
        ]

"""Hybrid retrieval: reciprocal-rank fusion (Cormack et al. 2009) of any retrievers' hit lists.

score(chunk) = sum over lists of 1 / (rrf_k + rank), rank counted from 1, over the lists the
chunk appears in (each list is one retriever's top-k); ranked by the module-wide rule
(descending score, ties by corpus order).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np

from distilldata.rag.ranking import Retriever, TopK

RRF_K = 60


def rrf_fuse(
    lists: Sequence[Sequence[Hashable]],
    order: dict[Hashable, tuple] | None = None,
    rrf_k: int = RRF_K,
    top_k: int | None = None,
) -> list[tuple[Hashable, float]]:
    """Fuse ranked lists of keys into one: [(key, RRF score)], best first.

    `order[key]` is the key's corpus position (any sortable tuple) for ties; without it the key
    itself is compared."""
    fused: dict[Hashable, float] = {}
    for ranked in lists:
        for rank, key in enumerate(ranked, start=1):
            fused[key] = fused.get(key, 0.0) + 1.0 / (rrf_k + rank)
    position = (lambda key: order[key]) if order is not None else (lambda key: key)
    ranked = sorted(fused.items(), key=lambda item: (-item[1], position(item[0])))
    return ranked[:top_k] if top_k is not None else ranked


class HybridRetriever(Retriever):
    """RRF over component retrievers, each asked for `depth` hits (default: top_k)."""

    kind = "hybrid"

    def __init__(self, retrievers: Sequence[Retriever], rrf_k: int = RRF_K, depth: int = 0):
        if not retrievers:
            raise ValueError("a hybrid retriever needs at least one component retriever")
        self.retrievers, self.rrf_k, self.depth = list(retrievers), rrf_k, depth
        self.corpus_wide = any(r.corpus_wide for r in self.retrievers)

    def build(self, texts: Sequence[str]):
        return [r.build(texts) for r in self.retrievers]

    def save(self, index, path) -> None:
        raise NotImplementedError("a hybrid index is its components' indexes; save those")

    def load(self, path):
        raise NotImplementedError("a hybrid index is its components' indexes; load those")

    def search(self, index, queries: Sequence[str], top_k: int) -> TopK:
        depth = max(top_k, self.depth)
        hits = [r.search(i, queries, depth) for r, i in zip(self.retrievers, index, strict=True)]
        fused = [
            rrf_fuse([h.rows[q].tolist() for h in hits], rrf_k=self.rrf_k, top_k=top_k)
            for q in range(len(queries))
        ]
        k = max((len(f) for f in fused), default=0)
        rows = np.zeros((len(queries), k), dtype=np.int64)
        scores = np.zeros((len(queries), k), dtype=np.float32)
        for q, ranked in enumerate(fused):
            rows[q] = [key for key, _ in ranked]
            scores[q] = [s for _, s in ranked]
        return TopK(scores, rows)

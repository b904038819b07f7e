"""Retrievers on real text: SPLADE against ScaleDown's dense formula and a brute-force dot
product, sharded search + merge against unsharded search (every retriever), the tie rule, RRF,
faiss against numpy, and the seed's Python API."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import scipy.sparse as sp

from conftest import DATA
from distilldata.core.errors import InputError
from distilldata.rag.chunking import Chunker
from distilldata.rag.corpus import read_documents, to_document
from distilldata.rag.corpus_parts import CHUNK_SCHEMA, load_tokenizer
from distilldata.rag.dense import faiss_top_k, numpy_top_k
from distilldata.rag.hybrid import rrf_fuse
from distilldata.rag.kilt import squad_kilt_records
from distilldata.rag.queries import QUERY_SCHEMA
from distilldata.rag.ranking import merge_ranked, top_k_dense, top_k_row, top_k_sparse_row
from distilldata.rag.retrieval import (
    HybridRetriever,
    SPLADERetriever,
    build_index,
    fuse_hits,
    make_retriever,
    merge_hits,
    read_chunk_texts,
    search_shard,
)
from distilldata.rag.splade import inverted_index
from distilldata.rag.squad import read_squad

SPLADE_TINY = "package:cognition/model"
SQUAD = DATA / "squad" / "dev-v2.0.json"


@pytest.fixture(scope="module")
def chunks():
    """Paper chunks of the first three SQuAD articles (real Wikipedia text), as KILT lines."""
    chunker = Chunker("paper", load_tokenizer(SPLADE_TINY), "en", 128)
    records = list(squad_kilt_records(SQUAD))[:2]
    docs = [to_document(r, "kilt", f"article {i}") for i, r in enumerate(records)]
    return [c.__dict__ for doc in docs for c in chunker.chunks(doc)]


@pytest.fixture(scope="module")
def questions():
    articles = list(read_squad(SQUAD))[:2]
    qs = [q for a in articles for q in a.questions if q.answers]
    return [q.question for q in qs[::16]][:30]


@pytest.fixture(scope="module")
def splade():
    return SPLADERetriever(SPLADE_TINY, screen="on")


@pytest.fixture(scope="module")
def dense():
    return make_retriever("dense")


@pytest.fixture(scope="module")
def texts(chunks):
    return [f"{c['title']} {c['text']}" for c in chunks]


def scaledown_vectors(texts, model=SPLADE_TINY, batch_size=32):
    """ScaleDown's SPLADERetriever.encode_documents, as in scaledown/data/retrieval.py."""
    import torch
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    from distilldata.core.models import resolve_model

    tok = AutoTokenizer.from_pretrained(resolve_model(model))
    mlm = AutoModelForMaskedLM.from_pretrained(resolve_model(model)).eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(texts), batch_size):
            enc = tok(
                texts[i : i + batch_size],
                return_tensors="pt",
                padding=True,
                truncation=True,
                max_length=256,
            )
            logits = mlm(**enc).logits
            pooled = torch.log1p(torch.relu(logits)) * enc["attention_mask"].unsqueeze(-1)
            out.append(torch.max(pooled, dim=1).values.numpy())
    return np.vstack(out)


def test_splade_vectors_equal_scaledown_s_dense_formula(splade, texts):
    sample = texts[:48] + ["", "Normans"]
    reference = scaledown_vectors(sample)
    for screen in (True, False):
        splade.encoder.screen = screen
        ours = splade.encoder.encode(sample).toarray()
        np.testing.assert_allclose(ours, reference, atol=2e-5)
        differ = (ours > 0) != (reference > 0)
        assert np.all(reference[differ] < 1e-5) and np.all(ours[differ] < 1e-5)
    splade.encoder.screen = True
    assert 50 < np.mean((reference > 0).sum(axis=1)) < 400  # sparse: ~0.6% of 30,522


def test_sparse_search_equals_a_brute_force_dot_product(splade, texts, questions):
    vectors = splade.encoder.encode(texts)
    arrays = inverted_index([vectors[:17], vectors[17:]])
    index = sp.csr_matrix((arrays["data"], arrays["indices"], arrays["indptr"]), arrays["shape"])
    hits = splade.search(index, questions, 10)
    docs = vectors.toarray()
    queries = splade.encoder.encode(questions).toarray()
    brute = queries @ docs.T
    expected = top_k_dense(brute, 10)
    np.testing.assert_allclose(hits.scores, expected.scores, rtol=1e-5)
    assert (hits.rows == expected.rows).mean() > 0.99  # equal up to float near-ties
    same = np.take_along_axis(brute, hits.rows, axis=1)
    np.testing.assert_allclose(same, hits.scores, rtol=1e-5)


def test_top_k_breaks_ties_by_corpus_order():
    scores = np.array([0.5, 2.0, 0.5, 2.0, 0.5, 1.0, 0.5], dtype=np.float32)
    assert top_k_row(scores, 4).tolist() == [1, 3, 5, 0]
    assert top_k_row(scores, 5).tolist() == [1, 3, 5, 0, 2]
    assert top_k_row(scores, 99).tolist() == [1, 3, 5, 0, 2, 4, 6]
    # sparse rows: stored entries first, then the lowest positions that scored zero
    cols, vals = np.array([4, 6, 9]), np.array([1.0, 3.0, 1.0], np.float32)
    assert top_k_sparse_row(cols, vals, n=10, k=5).tolist() == [6, 4, 9, 0, 1]
    assert top_k_sparse_row(cols, vals, n=10, k=2).tolist() == [6, 4]
    order, best = merge_ranked(
        [np.array([3.0, 1.0], np.float32), np.array([3.0, 2.0], np.float32)],
        [np.array([[1, 0], [1, 5]]), np.array([[0, 7], [0, 2]])],
        3,
    )
    assert order.tolist() == [2, 0, 3] and best.tolist() == [3.0, 3.0, 2.0]


def test_rrf_on_constructed_lists():
    fused = rrf_fuse([["a", "b", "c"], ["b", "d"]], rrf_k=60)
    assert [k for k, _ in fused] == ["b", "a", "d", "c"]
    assert fused[0][1] == pytest.approx(1 / 62 + 1 / 61)
    assert fused[1][1] == pytest.approx(1 / 61) and fused[2][1] == pytest.approx(1 / 62)
    # equal fused scores are ordered by corpus position
    order = {"x": (1, 0), "y": (0, 3)}
    assert [k for k, _ in rrf_fuse([["x"], ["y"]], order)] == ["y", "x"]
    assert [k for k, _ in rrf_fuse([["x", "y"], ["y", "x"]], order, top_k=1)] == ["y"]


def write_parts(tmp_path, chunks, n_parts):
    parts = []
    for p in range(n_parts):
        rows = chunks[p * len(chunks) // n_parts : (p + 1) * len(chunks) // n_parts]
        path = tmp_path / f"part-{p:05d}.parquet"
        pq.write_table(pa.Table.from_pylist(rows, schema=CHUNK_SCHEMA), path)
        parts.append(path)
    return parts


def write_queries(tmp_path, questions):
    rows = [
        {"qid": f"q{i}", "query": q, "source": "t", "lang": "en", "answers": [], "gold": []}
        for i, q in enumerate(questions)
    ]
    path = tmp_path / "queries.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=QUERY_SCHEMA), path)
    return path


WHOLE_INDEX: dict = {}  # retriever -> its index over all test chunks (built once)


def sharded_hits(retriever, tmp_path, chunks, questions, n_parts, n_batches, k, suffix):
    folder = tmp_path / f"{suffix}-{n_parts}x{n_batches}"
    folder.mkdir()
    parts = write_parts(folder, chunks, n_parts)
    queries = write_queries(folder, questions)
    shards = []
    if retriever.corpus_wide:
        build_index(retriever, parts, folder / "index")
        for b in range(n_batches):
            shards.append(folder / f"b{b}.parquet")
            search_shard(
                retriever,
                folder / "index",
                queries,
                f"{b}/{n_batches}",
                parts,
                list(range(n_parts)),
                k,
                shards[-1],
            )
    else:
        # Each part's index is its slice of one index over all chunks: encoding a part alone
        # batches its texts differently (float noise ~1e-6); search and merge must be exact.
        if retriever not in WHOLE_INDEX:
            WHOLE_INDEX[retriever] = retriever.build(read_chunk_texts(parts))
        whole = WHOLE_INDEX[retriever]
        bounds = np.cumsum([0] + [pq.ParquetFile(p).metadata.num_rows for p in parts])
        for p in range(n_parts):
            lo, hi = bounds[p], bounds[p + 1]
            piece = whole[:, lo:hi] if retriever.kind == "splade" else whole[lo:hi]
            retriever.save(piece, folder / f"index-{p}")
        for b in range(n_batches):
            for p, part in enumerate(parts):
                shards.append(folder / f"b{b}-p{p}.parquet")
                search_shard(
                    retriever,
                    folder / f"index-{p}",
                    queries,
                    f"{b}/{n_batches}",
                    [part],
                    [p],
                    k,
                    shards[-1],
                )
    merge_hits(shards, queries, n_batches, k, folder / "hits.parquet")
    return pq.read_table(folder / "hits.parquet").to_pylist(), parts, queries


@pytest.mark.parametrize("kind", ["splade", "bm25", "dense"])
def test_sharded_top_k_equals_unsharded(kind, splade, dense, chunks, questions, tmp_path):
    """3 corpus parts x 2 query batches == 1 part x 2 batches, bit for bit; against 1 x 1 the
    query vectors come from other encoder batches (float noise ~1e-7), so scores agree to that
    and the hit lists are the same."""
    retriever = {"splade": splade, "dense": dense}.get(kind) or make_retriever(kind)
    whole, _, _ = sharded_hits(retriever, tmp_path, chunks, questions, 1, 2, 10, kind)
    many, _, _ = sharded_hits(retriever, tmp_path, chunks, questions, 3, 2, 10, kind)
    single, _, _ = sharded_hits(retriever, tmp_path, chunks, questions, 1, 1, 10, kind)
    assert [r["qid"] for r in many] == [f"q{i}" for i in range(len(questions))]
    assert many == whole
    assert [r["chunk_ids"] for r in many] == [r["chunk_ids"] for r in single]
    np.testing.assert_allclose(
        [r["scores"] for r in many], [r["scores"] for r in single], rtol=1e-6
    )
    assert all(len(r["chunk_ids"]) == 10 for r in many)
    assert all(r["scores"] == sorted(r["scores"], reverse=True) for r in many)


def test_fusion_of_hit_files_and_missing_queries(splade, chunks, questions, tmp_path):
    bm25 = make_retriever("bm25")
    hits_s, parts, queries = sharded_hits(splade, tmp_path, chunks, questions, 2, 1, 10, "s")
    hits_b, _, _ = sharded_hits(bm25, tmp_path, chunks, questions, 2, 1, 10, "b")
    out = tmp_path / "hybrid.parquet"
    fuse_hits([tmp_path / "s-2x1/hits.parquet", tmp_path / "b-2x1/hits.parquet"], parts, 5, out)
    fused = pq.read_table(out).to_pylist()
    for row, s, b in zip(fused, hits_s, hits_b, strict=True):
        expected = rrf_fuse(
            [s["chunk_ids"], b["chunk_ids"]],
            {c: (0, i) for i, c in enumerate(x["chunk_id"] for x in chunks)},
            top_k=5,
        )
        assert row["chunk_ids"] == [c for c, _ in expected]
    partial = tmp_path / "partial.parquet"
    pq.write_table(pq.read_table(tmp_path / "s-2x1" / "b0-p0.parquet").slice(0, 1), partial)
    with pytest.raises(InputError, match=r"queries of .*queries.parquet .* in no search shard"):
        merge_hits([partial], queries, 1, 5, tmp_path / "x.parquet")


def test_faiss_and_numpy_agree(dense, texts, questions):
    index = dense.build(texts)
    queries = dense.encode(questions)
    a, b = faiss_top_k(index, queries, 10), numpy_top_k(index, queries, 10)
    assert (a.rows == b.rows).all()
    np.testing.assert_allclose(a.scores, b.scores, atol=1e-5)
    tied = np.vstack([index, index[:5]])  # exact duplicates: ties faiss orders its own way
    a, b = faiss_top_k(tied, queries, 10), numpy_top_k(tied, queries, 10)
    assert (a.rows == b.rows).all()


def test_the_seed_s_python_api(splade):
    corpus = [
        {"id": d.doc_id, "title": d.title, "text": d.paragraphs[1]}
        for d in read_documents([DATA / "rag" / "flashrag" / "sample_data.jsonl"])
    ][:40]
    corpus.append({"id": "norm", "title": "Normans", "text": "The Normans lived in Normandy."})
    for retriever in (
        splade,
        make_retriever("bm25"),
        make_retriever("hybrid", retrievers=[splade, {"kind": "bm25"}]),
        HybridRetriever([make_retriever("bm25"), make_retriever("bm25", stemmer="none")]),
    ):
        results = retriever.retrieve(["Where did the Normans live?", "Evan Morris"], corpus, 3)
        assert len(results) == 2 and all(len(r) == 3 for r in results)
        assert results[0][0]["id"] == "norm"
        assert set(results[0][0]) == {"id", "title", "text", "retrieval_score"}
        scores = [d["retrieval_score"] for d in results[1]]
        assert scores == sorted(scores, reverse=True)
    with pytest.raises(InputError, match="unknown retriever kind"):
        make_retriever("colbert")


def test_read_chunk_texts_is_scaledown_s_document_text(tmp_path, chunks):
    (part,) = write_parts(tmp_path, chunks[:3], 1)
    assert read_chunk_texts([part]) == [f"{c['title']} {c['text']}" for c in chunks[:3]]

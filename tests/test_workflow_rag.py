"""The RAG-compression chain on config/tiny.yaml through the real snakemake CLI: SQuAD articles
as KILT lines, 2 corpus shards x 2 query batches, SPLADE-tiny + BM25 + RRF, tiny cross-encoder,
tiny causal LM teacher in 2 shards -> train_data.json."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from conftest import REPO, run_snakemake

pytestmark = pytest.mark.workflow


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    path = tmp_path_factory.mktemp("rag_wf")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PYTHONPATH", str(REPO))  # jobs import this checkout's distilldata
        run_snakemake(path, "rag")
    return path


def test_kilt_lines_queries_and_corpus_parts(workdir):
    kilt = (workdir / "resources/rag/kilt/squad_en.jsonl").read_text().splitlines()
    assert len(kilt) == 16 and json.loads(kilt[0])["text"][0] == "Normans\n"
    stats = json.loads((workdir / "results/rag/queries/squad_en.stats.json").read_text())
    assert stats["rows_out"] == 120 and stats["rows_in"] == 6078
    manifest = json.loads((workdir / "results/rag/corpus/squad_en/manifest.json").read_text())
    assert manifest["documents"] == 16 and len(manifest["parts"]) == 2
    parts = [
        pq.read_table(workdir / f"results/rag/corpus/squad_en/part-0000{k}.parquet") for k in (0, 1)
    ]
    assert sum(p.num_rows for p in parts) == manifest["chunks"] and all(p.num_rows for p in parts)


def test_hits_of_every_retriever(workdir):
    qids = pq.read_table(workdir / "results/rag/queries/squad_en.parquet")["qid"].to_pylist()
    for name in ("splade", "bm25", "hybrid"):
        hits = pq.read_table(workdir / f"results/rag/hits/squad_en/{name}.parquet").to_pylist()
        assert [h["qid"] for h in hits] == qids
        assert all(len(h["chunk_ids"]) == 20 == len(h["scores"]) for h in hits)
        assert all(h["scores"] == sorted(h["scores"], reverse=True) for h in hits)
    assert not (workdir / "results/rag/search").exists() or not any(
        (workdir / "results/rag/search").rglob("*.parquet")
    )  # search shards are temporary


def test_train_data_has_the_seed_s_format(workdir):
    data = json.loads((workdir / "results/rag/squad_en/train_data.json").read_text())
    assert data and all(
        set(r) == {"query", "documents", "answer", "reranking_scores"} for r in data
    )
    for record in data:
        assert len(record["documents"]) == 5 == len(record["reranking_scores"])
        assert record["reranking_scores"] == sorted(record["reranking_scores"], reverse=True)
        assert all(isinstance(d, str) and d for d in record["documents"])
        assert isinstance(record["answer"], str) and record["answer"]
    provenance = pq.read_table(workdir / "results/rag/squad_en/train_data.parquet")
    assert provenance.num_rows == len(data)
    report = (workdir / "results/rag/squad_en/report.md").read_text()
    assert "hybrid" in report and (workdir / "results/rag/squad_en/report.png").stat().st_size


def test_a_second_run_has_nothing_to_do(workdir):
    proc = run_snakemake(workdir, "rag", "-n")
    assert "Nothing to be done" in proc.stdout + proc.stderr

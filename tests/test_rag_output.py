"""Assembling train_data.json (the seed's format) and its provenance from the answer shards."""

from __future__ import annotations

import json
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from rag_teacher_fixtures import write_inputs
from tiny_models import build_cross_encoder

from conftest import REPO, offline_env
from distilldata.core.errors import InputError
from distilldata.rag.output import assemble
from distilldata.rag.rerank import build_documents
from distilldata.rag.teacher import INFO_KEY, TeacherSettings, answer_shard, answers_info


@pytest.fixture(scope="module")
def run(tmp_path_factory, tiny_causal_lm):
    """Reranked documents (top 3) and 2 answer shards of a 7-query sample; plain documents."""
    root = tmp_path_factory.mktemp("rag")
    inputs = write_inputs(root / "inputs")
    ce = build_cross_encoder(root / "ce")
    reranked = root / "squad_en" / "documents.parquet"
    build_documents(inputs["queries"], inputs["hits"], inputs["corpus"], reranked,
                    enable_reranking=True, reranker_model=str(ce), top_k_reranking=3)  # fmt: skip
    plain = root / "plain" / "documents.parquet"
    build_documents(inputs["queries"], inputs["hits"], inputs["corpus"], plain)
    settings = TeacherSettings(model=str(tiny_causal_lm), prompt="scaledown", temperature=1.0,
                               max_new_tokens=6, max_prompt_tokens=400)  # fmt: skip
    shards = []
    for k in range(2):
        shards.append(root / f"shard{k}-of-2.parquet")
        answer_shard(reranked, shards[-1], settings, k, 2, max_queries=7, group_size=2,
                     cache_root=root / "cache")  # fmt: skip
    return {"root": root, "documents": reranked, "plain": plain, "shards": shards}


def outputs(tmp_path):
    return tmp_path / "train_data.json", tmp_path / "train_data.parquet", tmp_path / "stats.json"


def test_train_data_is_the_seeds_json_array_with_aligned_scores(run, tmp_path):
    json_path, prov_path, stats_path = outputs(tmp_path)
    stats = assemble(run["documents"], run["shards"], json_path, prov_path, stats_path)
    text = json_path.read_text("utf-8")
    assert text.startswith('[\n  {\n    "query": ')  # pretty-printed like ScaleDown's indent=2
    records = json.loads(text)
    assert len(records) == 7 and all(
        list(r) == ["query", "documents", "answer", "reranking_scores"] for r in records
    )
    docs = {r["query"]: r for r in pq.read_table(run["documents"]).to_pylist()}
    answers = {r["qid"]: r for s in run["shards"] for r in pq.read_table(s).to_pylist()}
    for record in records:
        row = docs[record["query"]]
        assert record["documents"] == row["texts"] and len(record["documents"]) == 3
        assert record["reranking_scores"] == pytest.approx(row["reranking_scores"])
        assert record["reranking_scores"] == sorted(record["reranking_scores"], reverse=True)
        assert record["answer"] == answers[row["qid"]]["answer"]
    order = [r["qid"] for r in docs.values() if r["qid"] in answers]
    provenance = pq.read_table(prov_path).to_pylist()
    assert [p["qid"] for p in provenance] == order  # documents order, row i = record i
    assert [p["query"] for p in provenance] == [r["query"] for r in records]
    first = provenance[0]
    assert first["chunk_ids"] == docs[first["query"]]["chunk_ids"]
    assert first["prompt_kind"] == "scaledown" and json.loads(first["generation"])["top_p"] == 0.9
    assert stats == json.loads(stats_path.read_text())
    assert stats["rows_in"] == 20 and stats["rows_out"] == 7
    assert stats["dropped"] == {"not_in_sample": 13} and stats["reranking_scores"]


def test_without_reranking_there_are_no_reranking_scores(run, tmp_path, tiny_causal_lm):
    shard = tmp_path / "answers.parquet"
    answer_shard(run["plain"], shard, TeacherSettings(backend="none", model="x"), max_queries=0,
                 cache_root=tmp_path / "c")  # fmt: skip
    json_path, prov_path, stats_path = outputs(tmp_path)
    stats = assemble(run["plain"], [shard], json_path, prov_path, stats_path)
    records = json.loads(json_path.read_text())
    assert len(records) == 20 and all(list(r) == ["query", "documents", "answer"] for r in records)
    assert all(r["answer"] is None and len(r["documents"]) == 5 for r in records)
    assert stats["dropped"] == {} and not stats["reranking_scores"]
    assert pq.read_table(prov_path).column("reranking_scores").null_count == 20


def test_empty_teacher_answers_are_dropped_and_counted(run, tmp_path):
    table = pq.read_table(run["shards"][0])
    answers = table.column("answer").to_pylist()
    answers[0] = "   "
    edited = table.set_column(1, "answer", pa.array(answers, pa.string()))
    path = tmp_path / "shard0-of-2.parquet"
    pq.write_table(edited, path)
    stats = assemble(run["documents"], [path, run["shards"][1]], *outputs(tmp_path))
    assert stats["rows_out"] == 6 and stats["dropped"] == {"empty_answer": 1, "not_in_sample": 13}


def test_a_missing_shard_is_named(run, tmp_path):
    with pytest.raises(InputError, match=r"the answers of shard 1/2 are missing \(3 queries, e.g."):
        assemble(run["documents"], run["shards"][:1], *outputs(tmp_path))
    with pytest.raises(InputError, match="shard 0/2 is given twice"):
        assemble(run["documents"], [run["shards"][0]] * 2, *outputs(tmp_path))
    assert not any(p.exists() for p in outputs(tmp_path))


def rewrite_info(path, out, **changes):
    table = pq.read_table(path)
    info = answers_info(table.schema) | changes
    pq.write_table(table.replace_schema_metadata({INFO_KEY: json.dumps(info)}), out)
    return out


def test_shards_of_other_runs_or_documents_are_refused(run, tmp_path):
    odd = rewrite_info(run["shards"][1], tmp_path / "odd.parquet", fingerprint="other")
    with pytest.raises(InputError, match=r"come from different runs \(fingerprint"):
        assemble(run["documents"], [run["shards"][0], odd], *outputs(tmp_path))
    with pytest.raises(InputError, match="not shard 0/2 of this documents file's sample"):
        assemble(run["plain"].parent.parent / "squad_en" / "documents.parquet",
                 [rewrite_info(run["shards"][0], tmp_path / "s0.parquet", seed=1),
                  rewrite_info(run["shards"][1], tmp_path / "s1.parquet", seed=1)],
                 *outputs(tmp_path))  # fmt: skip
    bare = tmp_path / "bare.parquet"
    pq.write_table(pq.read_table(run["shards"][0]).replace_schema_metadata({}), bare)
    with pytest.raises(InputError, match="no run summary in its metadata"):
        assemble(run["documents"], [bare], *outputs(tmp_path))


def test_script_exits_2_naming_the_missing_shard(run, tmp_path):
    json_path, prov_path, stats_path = outputs(tmp_path)
    cmd = [
        sys.executable, str(REPO / "scripts/rag/assemble.py"), "--documents",
        str(run["documents"]), "--answers", str(run["shards"][1]), "--output_file",
        str(json_path), "--provenance", str(prov_path), "--stats", str(stats_path),
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, env=offline_env())
    assert proc.returncode == 2 and "the answers of shard 0/2 are missing" in proc.stderr

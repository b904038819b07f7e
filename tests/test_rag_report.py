"""The quality report on small fixtures: per-retriever figures, the best retriever, teacher F1/EM,
a deterministic plot."""

from __future__ import annotations

import json
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from rag_teacher_fixtures import HITS_SCHEMA, squad_sample, write_inputs

from conftest import REPO, offline_env
from distilldata.core.errors import InputError
from distilldata.rag.report import build_report, parse_named, write_report
from distilldata.rag.rerank import build_documents


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("rag")
    paths = write_inputs(root)
    hits = pq.read_table(paths["hits"]).to_pylist()
    worst = [h | {"chunk_ids": h["chunk_ids"][::-1][:1], "scores": h["scores"][:1]} for h in hits]
    paths["worst"] = root / "worst.parquet"
    pq.write_table(pa.Table.from_pylist(worst, schema=HITS_SCHEMA), paths["worst"])
    paths["documents"] = root / "documents.parquet"
    build_documents(paths["queries"], paths["hits"], paths["corpus"], paths["documents"])
    _, queries = squad_sample()
    answers = [q["answers"][0] if i % 2 == 0 else "no idea" for i, q in enumerate(queries[:6])]
    paths["provenance"] = root / "train_data.parquet"
    pq.write_table(
        pa.table({"qid": [q["qid"] for q in queries[:6]], "answer": answers}), paths["provenance"]
    )
    return paths


def gold_chunk_rank(query: dict, chunk_ids: list[str]) -> int | None:
    """Independent of the metrics code: a fixture chunk is exactly one gold paragraph."""
    gold = query["gold"][0]
    wanted = f"{gold['doc_id']}#{gold['start_paragraph'] - 1}"
    return chunk_ids.index(wanted) if wanted in chunk_ids else None


def test_report_figures(inputs):
    hits = {"overlap": str(inputs["hits"]), "worst": str(inputs["worst"])}
    report = build_report(
        inputs["queries"], inputs["corpus"], hits, inputs["documents"], inputs["provenance"]
    )
    _, queries = squad_sample()
    assert report["queries"] == {"total": 20, "with_answers": 20, "with_gold": 20, "langs": ["en"]}
    by_qid = {q["qid"]: q for q in queries}
    for name, path in hits.items():
        ranked = {r["qid"]: r["chunk_ids"] for r in pq.read_table(path).to_pylist()}
        ranks = [gold_chunk_rank(by_qid[q], ids) for q, ids in ranked.items()]
        r = report["retrievers"][name]
        for k in (1, 5):
            expected = sum(1 for x in ranks if x is not None and x < k) / len(ranks)
            assert r["gold_recall"][f"@{k}"] == pytest.approx(expected)
            # the gold paragraph holds the answer, other paragraphs may too
            assert r["accuracy"][f"@{k}"] >= r["gold_recall"][f"@{k}"]
    assert report["retrievers"]["worst"]["depth"] == 1
    assert report["best_retriever"] == {
        "by": "accuracy@5",
        "name": "overlap",
        "value": report["retrievers"]["overlap"]["accuracy"]["@5"],
    }
    # documents without reranking rank like their retriever
    assert report["documents"]["accuracy"] == report["retrievers"]["overlap"]["accuracy"]
    assert report["documents"]["reranking"] is None
    teacher = report["teacher"]
    assert (teacher["answers"], teacher["with_gold_answers"]) == (6, 6)
    assert teacher["exact_match"] == pytest.approx(0.5) and teacher["tokens"] == "words"


def test_report_files_and_a_deterministic_plot(inputs, tmp_path):
    args = (inputs["queries"], inputs["corpus"], {"overlap": str(inputs["hits"]),
            "worst": str(inputs["worst"])}, inputs["documents"], inputs["provenance"])  # fmt: skip
    first = [tmp_path / "a" / n for n in ("report.md", "report.json", "report.png")]
    second = [tmp_path / "b" / n for n in ("report.md", "report.json", "report.png")]
    write_report(*args, *first)
    write_report(*args, *second)
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]
    png = first[2].read_bytes()
    assert png.startswith(b"\x89PNG") and b"matplotlib" not in png.lower()
    md = first[0].read_text()
    assert "**Best retriever by accuracy@5: overlap" in md
    assert "| worst | 20 |" in md and "| documents (retrieval order) | 20 |" in md
    assert "token F1" in md and "exact match 0.500" in md
    assert json.loads(first[1].read_text())["best_retriever"]["name"] == "overlap"


def test_bad_arguments(inputs):
    assert parse_named(["a=x.parquet", "b=y=z"]) == {"a": "x.parquet", "b": "y=z"}
    with pytest.raises(InputError, match="write NAME=PATH"):
        parse_named(["x.parquet"])
    with pytest.raises(InputError, match="'a' is given twice"):
        parse_named(["a=x", "a=y"])
    with pytest.raises(InputError, match="in none of the corpus parts given"):
        build_report(inputs["queries"], inputs["corpus"][:1], {"o": str(inputs["hits"])},
                     inputs["documents"])  # fmt: skip


def test_script_runs(inputs, tmp_path):
    out = [tmp_path / n for n in ("r.md", "r.json", "r.png")]
    cmd = [
        sys.executable, str(REPO / "scripts/rag/report.py"), "--queries", str(inputs["queries"]),
        "--corpus", *map(str, inputs["corpus"]), "--hits", f"overlap={inputs['hits']}",
        "--documents", str(inputs["documents"]), "--output_markdown", str(out[0]),
        "--output_json", str(out[1]), "--output_plot", str(out[2]),
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, env=offline_env())
    assert proc.returncode == 0, proc.stderr
    assert json.loads(out[1].read_text())["teacher"] == {"answers": 0}

"""Query sources -> the queries contract (qid, query, source, lang, answers, gold)."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import DATA
from distilldata.core.errors import InputError
from distilldata.rag.queries import (
    QUERY_SCHEMA,
    WHOLE_PARAGRAPH_END,
    QuerySource,
    build_queries,
    clean_queries,
    normalize_query,
    read_source,
    text_qid,
)
from distilldata.rag.squad import read_squad

SQUAD = DATA / "squad" / "dev-v2.0.json"
JSQUAD = DATA / "jsquad" / "valid-v1.3.json"
KILT_NQ = DATA / "kilt" / "tasks_head5" / "nq-dev-kilt.jsonl"
FLASHRAG_NQ = DATA / "rag" / "flashrag" / "nq_test.jsonl"


def build(tmp_path, source: QuerySource, **options) -> tuple[list[dict], dict]:
    stats = build_queries(source, tmp_path / "q.parquet", tmp_path / "q.json", **options)
    table = pq.read_table(tmp_path / "q.parquet")
    assert table.schema.equals(QUERY_SCHEMA)
    assert json.loads((tmp_path / "q.json").read_text()) == stats
    assert stats["rows_in"] == stats["rows_out"] + sum(stats["dropped"].values())
    return table.to_pylist(), stats


def test_text_queries_are_normalised_deduplicated_and_hashed(tmp_path):
    path = tmp_path / "queries.txt"
    path.write_text(
        "What is  machine\tlearning?\n\n   \nwhat is machine learning?\nCafe\u0301 opening hours\n",
        "utf-8",
    )
    rows, stats = build(tmp_path, QuerySource("text", str(path)))
    assert [r["query"] for r in rows] == ["What is machine learning?", "Caf\u00e9 opening hours"]
    assert rows[0]["qid"] == text_qid("What is machine learning?") and len(rows[0]["qid"]) == 16
    assert stats["dropped"] == {"empty": 2, "duplicate": 1, "not_sampled": 0}
    assert rows[0]["answers"] == [] and rows[0]["gold"] == [] and rows[0]["source"] == "text"


def test_msmarco_local_file_and_the_offline_refusal(tmp_path):
    path = tmp_path / "queries.dev.small.tsv"
    path.write_text("1048585\twhat is paula deen's brother\n2\tAndorra\n", "utf-8")
    rows, _ = build(tmp_path, QuerySource("msmarco", str(path)))
    assert [(r["qid"], r["query"]) for r in rows] == [
        ("1048585", "what is paula deen's brother"),
        ("2", "Andorra"),
    ]
    with pytest.raises(InputError, match=r"network is off.*rag: \{network: true\}"):
        list(read_source(QuerySource("msmarco", None, network=False)))
    path.write_text("no tab here\n", "utf-8")
    with pytest.raises(InputError, match=r"queries.dev.small.tsv:1: expected 'qid<TAB>query'"):
        build(tmp_path, QuerySource("msmarco", str(path)))


def test_squad_keeps_every_question_with_gold_in_kilt_paragraphs(tmp_path):
    rows, stats = build(tmp_path, QuerySource("squad", str(SQUAD)))
    assert stats["rows_in"] == 6078 and stats["dropped"]["duplicate"] == 10
    unanswerable = [r for r in rows if not r["answers"]]
    assert len(unanswerable) > 3000 and all(r["gold"] == [] for r in unanswerable)
    articles = {a.wikipedia_id: a for a in read_squad(SQUAD)}
    answered = [r for r in rows if r["gold"]]
    for row in answered[:500]:
        for g in row["gold"]:
            paragraph = articles[g["doc_id"]].paragraphs[g["start_paragraph"] - 1]
            text = paragraph[g["start_character"] : g["end_character"]]
            assert text in row["answers"]


def test_jsquad_gold_offsets_are_shifted_past_the_title_prefix(tmp_path):
    rows, stats = build(tmp_path, QuerySource("squad", str(JSQUAD), lang="ja"))
    raw = json.loads(JSQUAD.read_text("utf-8"))["data"][0]
    context = raw["paragraphs"][0]["context"]
    qa = raw["paragraphs"][0]["qas"][0]
    prefix = len(f"{raw['title']} [SEP] ")
    assert context[:prefix] == f"{raw['title']} [SEP] "
    row = next(r for r in rows if r["qid"] == qa["id"])
    start = qa["answers"][0]["answer_start"] - prefix
    assert row["gold"][0] == {
        "doc_id": f"squad:{raw['title']}",
        "start_paragraph": 1,
        "start_character": start,
        "end_paragraph": 1,
        "end_character": start + len(qa["answers"][0]["text"]),
    }
    assert row["lang"] == "ja" and stats["rows_out"] == 4429


def test_jsonl_reads_kilt_task_files_and_flashrag(tmp_path):
    rows, _ = build(tmp_path, QuerySource("jsonl", str(KILT_NQ)))
    first = rows[0]
    assert first["qid"] == "6915606477668963399"
    assert first["query"] == "what do the 3 dots mean in math"
    assert "the therefore sign" in first["answers"]
    assert {
        "doc_id": "10593264",
        "start_paragraph": 1,
        "start_character": 44,
        "end_paragraph": 1,
        "end_character": 62,
    } in first["gold"]
    # provenance without character offsets means the whole paragraph
    assert any(g["end_character"] == WHOLE_PARAGRAPH_END for r in rows for g in r["gold"])
    rows, _ = build(tmp_path, QuerySource("jsonl", str(FLASHRAG_NQ)))
    assert rows[0]["qid"] == "test_0" and rows[0]["answers"] == ["Wilhelm Conrad Röntgen"]
    assert len(rows) == 17


def test_hub_source_reads_a_dataset_folder(tmp_path):
    folder = tmp_path / "ds"
    folder.mkdir()
    lines = [{"id": "a", "question": "Who wrote Hamlet?", "answers": {"text": ["Shakespeare"]}}]
    lines.append({"id": "b", "question": "Capital of France?", "answers": {"text": ["Paris"]}})
    (folder / "train.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    source = QuerySource("hub", dataset=str(folder), id_column="id", answers_column="answers")
    rows, _ = build(tmp_path, source)
    assert [(r["qid"], r["answers"]) for r in rows] == [("a", ["Shakespeare"]), ("b", ["Paris"])]


def test_synthetic_queries_come_from_corpus_titles_deterministically(tmp_path):
    part = tmp_path / "part-00000.parquet"
    chunks = [
        ("d1", "Alan Turing", 1, 0, 1, 50),
        ("d1", "Alan Turing", 2, 0, 2, 40),
        ("d2", "Ada Lovelace", 1, 3, 1, 30),
    ]
    names = ["doc_id", "title", "start_paragraph", "start_character", "end_paragraph"]
    table = {n: [c[i] for c in chunks] for i, n in enumerate(names)}
    table["end_character"] = [c[5] for c in chunks]
    pq.write_table(pa.table(table), part)
    source = QuerySource("synthetic", corpus_parts=[str(part)], num_queries=3, seed=7)
    rows, _ = build(tmp_path, source)
    again = [q.query for q in read_source(source)]
    assert [r["query"] for r in rows] == again and len(rows) == 3
    assert "Alan Turing" in rows[0]["query"] and "Ada Lovelace" in rows[1]["query"]
    assert rows[2]["query"] != rows[0]["query"] and "Alan Turing" in rows[2]["query"]
    assert rows[0]["gold"] == [
        {
            "doc_id": "d1",
            "start_paragraph": 1,
            "start_character": 0,
            "end_paragraph": 2,
            "end_character": 40,
        }
    ]


def test_max_queries_samples_and_counts(tmp_path):
    source = QuerySource("squad", str(SQUAD))
    first, stats = build(tmp_path, source, max_queries=5)
    assert stats["rows_out"] == 5 and stats["dropped"]["not_sampled"] == 6068 - 5
    assert [r["qid"] for r in first] == [q.qid for q in list(read_source(source))[:5]]
    sample, _ = build(tmp_path, source, max_queries=5, sample="random")
    again, _ = build(tmp_path, source, max_queries=5, sample="random")
    assert sample == again and sample != first


BAD_INPUTS = [
    ("empty.txt", b"", "text", r"empty.txt: no queries found"),
    ("blank.txt", b"  \n\n", "text", r"blank.txt: no queries left"),
    ("dup.tsv", b"7\tfirst\n7\tsecond\n", "msmarco", r"qid '7' is used twice: .*dup.tsv:1 and"),
    ("bad.txt", b"fine\n\xff\xfe broken\n", "text", r"bad.txt:2: invalid UTF-8"),
    ("broken.jsonl", b'{"question": "ok"}\n{"question": \n', "jsonl", r"broken.jsonl:2: invalid"),
]


@pytest.mark.parametrize(("name", "content", "kind", "message"), BAD_INPUTS)
def test_bad_query_files_are_errors_naming_file_and_line(tmp_path, name, content, kind, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputError, match=message):
        build(tmp_path, QuerySource(kind, str(path)))
    assert not (tmp_path / "q.parquet").exists()


def test_normalisation():
    assert normalize_query("  a\u00a0 b\n\tc ") == "a b c"
    assert normalize_query("e\u0301") == "\u00e9"
    result = clean_queries([], "text", "en")
    assert result.rows == [] and result.stats["rows_in"] == 0

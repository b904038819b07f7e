"""Corpus readers, input shards, chunking with provenance, the part writer and the manifest."""

from __future__ import annotations

import json
import random

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import DATA
from distilldata.core.errors import InputError
from distilldata.rag.chunking import Chunker, chunk_text
from distilldata.rag.corpus import Document, jsonl_lines, read_documents
from distilldata.rag.corpus_parts import (
    CHUNK_SCHEMA,
    corpus_manifest,
    load_tokenizer,
    write_corpus_part,
)
from distilldata.rag.kilt import write_kilt_lines

FLASHRAG = DATA / "rag" / "flashrag" / "sample_data.jsonl"


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer("package:cognition/model")


@pytest.fixture(scope="module")
def kilt_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("kilt")
    files = {
        "squad": root / "squad.jsonl",
        "jsquad": root / "jsquad.jsonl",
        "wiki": root / "wiki.jsonl",
    }
    write_kilt_lines("squad", DATA / "squad" / "dev-v2.0.json", files["squad"])
    write_kilt_lines("squad", DATA / "jsquad" / "valid-v1.3.json", files["jsquad"])
    write_kilt_lines(
        "wiki_demo",
        DATA / "rag" / "llamafactory" / "wiki_demo.txt",
        files["wiki"],
        DATA / "rag" / "llamafactory" / "wiki_demo_titles.tsv",
    )
    return files


def reconstructs(doc: Document, chunk) -> bool:
    return chunk.text == chunk_text(
        doc.paragraphs,
        chunk.start_paragraph,
        chunk.start_character,
        chunk.end_paragraph,
        chunk.end_character,
    )


@pytest.mark.parametrize(("name", "lang"), [("squad", "en"), ("jsquad", "ja"), ("wiki", "en")])
def test_paper_chunks_reconstruct_and_respect_the_budget(kilt_files, tokenizer, name, lang):
    chunker = Chunker("paper", tokenizer, lang, max_tokens=128)
    docs = list(read_documents([kilt_files[name]], "kilt"))
    crossing = 0
    for doc in docs[:6]:
        chunks = chunker.chunks(doc)
        assert [c.chunk_id for c in chunks] == [f"{doc.doc_id}#{k}" for k in range(len(chunks))]
        assert all(reconstructs(doc, c) for c in chunks)
        assert all(c.start_paragraph >= 1 for c in chunks)  # KILT's title line is skipped
        assert all(0 < c.n_tokens <= 128 for c in chunks)
        n = [len(tokenizer(c.text, add_special_tokens=False)["input_ids"]) for c in chunks]
        assert n == [c.n_tokens for c in chunks]
        crossing += sum(c.start_paragraph != c.end_paragraph for c in chunks)
        # consecutive chunks tile the body: each starts at or after the previous end
        ends = [(c.end_paragraph, c.end_character) for c in chunks]
        starts = [(c.start_paragraph, c.start_character) for c in chunks]
        assert all(s >= e for s, e in zip(starts[1:], ends[:-1], strict=True))
    assert crossing > 0


def test_long_sentences_are_cut_at_token_boundaries(tokenizer):
    sentence = " ".join(f"word{i}" for i in range(300))  # one "sentence", ~900 tokens
    doc = Document("d", "T", ["T\n", sentence + "\n"], 1, "test")
    chunks = Chunker("paper", tokenizer, "en", max_tokens=50).chunks(doc)
    assert len(chunks) > 10 and all(c.n_tokens <= 50 for c in chunks)
    assert all(reconstructs(doc, c) for c in chunks)
    assert " ".join(c.text for c in chunks) == sentence


def test_first_paragraph_and_none_modes(tokenizer):
    doc = Document("d", "Title", ["Title\n", "  \n", " First body.  \n", "Second one.\n"], 1, "t")
    (first,) = Chunker("first_paragraph", tokenizer).chunks(doc)
    assert (first.text, first.start_paragraph, first.start_character) == ("First body.", 2, 1)
    assert reconstructs(doc, first)
    (whole,) = Chunker("none", tokenizer).chunks(doc)
    assert whole.text == "First body.\nSecond one." and reconstructs(doc, whole)
    assert (whole.start_paragraph, whole.end_paragraph, whole.end_character) == (2, 3, 11)


def test_flashrag_and_records_readers(tmp_path, tokenizer):
    docs = list(read_documents([FLASHRAG], "flashrag"))
    assert len(docs) == 1000 and docs[0].doc_id == "0" and docs[0].title == "Evan Morris"
    (chunk,) = Chunker("none", tokenizer).chunks(docs[0])
    assert chunk.text.startswith("Evan Morris Evan L. Morris") and chunk.start_paragraph == 1
    records = tmp_path / "records.parquet"
    rows = [{"id": f"r{i}", "title": f"T{i}", "text": f"line one {i}\nline two"} for i in range(9)]
    pq.write_table(pa.Table.from_pylist(rows), records, row_group_size=2)  # 5 row groups
    docs = list(read_documents([records], "records"))
    assert docs[0].paragraphs == ["line one 0", "line two"] and docs[0].first_body == 0
    shards = [[d.doc_id for d in read_documents([records], "auto", k, 3)] for k in range(3)]
    assert sum(shards, []) == [f"r{i}" for i in range(9)] and all(shards)


def write_lines(path, lines: list[str]):
    path.write_bytes("".join(line + "\n" for line in lines).encode("utf-8"))


@pytest.mark.parametrize("seed", range(4))
def test_byte_range_shards_cover_every_line_exactly_once(tmp_path, seed):
    rng = random.Random(seed)
    path = tmp_path / "c.jsonl"
    lines = [json.dumps({"id": i, "text": "x" * rng.randint(0, 40)}) for i in range(37)]
    write_lines(path, lines)
    for shards in (1, 2, 3, 7, 36, 37, 50, 400):
        seen = [raw for k in range(shards) for _, raw in jsonl_lines(path, k, shards)]
        assert [r.decode().rstrip("\n") for r in seen] == lines, shards


def test_a_line_starting_exactly_at_a_boundary_belongs_to_that_shard(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_bytes(b"aaa\nbbb\n")  # 8 bytes: shard 1 of 2 starts at byte 4 = "bbb"
    assert [raw for _, raw in jsonl_lines(path, 0, 2)] == [b"aaa\n"]
    assert [raw for _, raw in jsonl_lines(path, 1, 2)] == [b"bbb\n"]


def test_bad_lines_name_the_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    write_lines(path, [json.dumps({"id": "a", "text": "ok"}), '{"id": "b", "text": '])
    with pytest.raises(InputError, match=r"bad.jsonl:2: invalid JSON"):
        list(read_documents([path]))
    path.write_bytes(b'{"id": "a", "text": "ok"}\n{"id": "b", "text": "\xff"}\n')
    # the line number is right from a byte-range shard too
    with pytest.raises(InputError, match=r"bad.jsonl:2: invalid UTF-8"):
        list(read_documents([path], "auto", 1, 2))
    write_lines(path, ['["a list"]'])
    with pytest.raises(InputError, match=r"bad.jsonl:1: expected a JSON object"):
        list(read_documents([path]))


def test_part_drops_rows_without_text_id_or_with_a_seen_id(tmp_path, tokenizer):
    path = tmp_path / "c.jsonl"
    rows = [
        {"id": "a", "title": "A", "text": "Alpha is first."},
        {"id": "b", "title": "B", "text": "   \n  "},
        {"title": "no id", "text": "Orphan."},
        {"id": "a", "title": "A again", "text": "Duplicate."},
        {"id": "c", "title": "C", "text": "Gamma is third.\nIt has two lines."},
    ]
    write_lines(path, [json.dumps(r) for r in rows])
    out, stats_path = tmp_path / "part.parquet", tmp_path / "part.stats.json"
    stats = write_corpus_part([path], out, stats_path, Chunker("paper", tokenizer), "records")
    assert stats["dropped"] == {"no_id": 1, "no_text": 1, "duplicate_id": 1}
    assert stats["records_in"] == 5 == stats["documents"] + sum(stats["dropped"].values())
    table = pq.read_table(out)
    assert table.schema.equals(CHUNK_SCHEMA)
    assert table["chunk_id"].to_pylist() == ["a#0", "c#0"]
    assert table["text"].to_pylist()[1] == "Gamma is third.\nIt has two lines."
    assert json.loads(stats_path.read_text()) == stats


def test_max_corpus_size_keeps_the_first_documents(kilt_files, tmp_path, tokenizer):
    chunker = Chunker("first_paragraph", tokenizer)
    files = [kilt_files["squad"], kilt_files["wiki"]]
    stats = write_corpus_part(
        files, tmp_path / "p.parquet", tmp_path / "p.json", chunker, "kilt", max_documents=20
    )
    ids = pq.read_table(tmp_path / "p.parquet")["doc_id"].to_pylist()
    assert stats["documents"] == 20 and stats["capped_at_max_corpus_size"]
    assert ids[:16] == [d.doc_id for d in read_documents([kilt_files["squad"]])]
    assert ids[16:] == ["wiki_demo:1", "wiki_demo:2", "wiki_demo:3", "wiki_demo:4"]


def test_sharded_parts_hold_the_unsharded_chunks_and_the_manifest_checks_ids(
    kilt_files, tmp_path, tokenizer
):
    chunker = Chunker("paper", tokenizer)
    whole = tmp_path / "whole.parquet"
    write_corpus_part([kilt_files["squad"]], whole, tmp_path / "whole.json", chunker, "kilt")
    parts, stats = [], []
    for k in range(3):
        parts.append(tmp_path / f"part-{k:05d}.parquet")
        stats.append(tmp_path / f"part-{k:05d}.stats.json")
        write_corpus_part([kilt_files["squad"]], parts[-1], stats[-1], chunker, "kilt", k, 3)
    joined = pa.concat_tables(pq.read_table(p) for p in parts)
    assert joined.equals(pq.read_table(whole))
    manifest = corpus_manifest(parts, stats, tmp_path / "manifest.json")
    assert manifest["documents"] == 16 and manifest["chunks"] == joined.num_rows
    copy = tmp_path / "copy.parquet"
    copy.write_bytes(parts[0].read_bytes())
    with pytest.raises(InputError, match=r"'squad:Normans' is in .*part-00000.parquet and in"):
        corpus_manifest([parts[0], copy], [stats[0], stats[0]], tmp_path / "m.json")


def test_a_corpus_without_chunks_is_an_error(tmp_path, tokenizer):
    path = tmp_path / "c.jsonl"
    write_lines(path, [json.dumps({"id": "a", "text": " "}), json.dumps({"id": "b"})])
    part, stats = tmp_path / "part-00000.parquet", tmp_path / "part-00000.stats.json"
    write_corpus_part([path], part, stats, Chunker("none", tokenizer))
    with pytest.raises(InputError, match=r"has no chunks \(2 records read, dropped .*no_text.: 2"):
        corpus_manifest([part], [stats], tmp_path / "manifest.json")

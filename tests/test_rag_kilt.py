"""KILT-shaped lines from vendored Wikipedia text, and the corpus reader on them."""

from __future__ import annotations

import json

import pytest

from conftest import DATA
from distilldata.core.errors import InputError
from distilldata.rag.corpus import read_documents
from distilldata.rag.kilt import read_titles, restore_paragraphs, write_kilt_lines
from distilldata.rag.squad import read_squad

SQUAD = DATA / "squad" / "dev-v2.0.json"
JSQUAD = DATA / "jsquad" / "valid-v1.3.json"
WIKI = DATA / "rag" / "llamafactory" / "wiki_demo.txt"
TITLES = DATA / "rag" / "llamafactory" / "wiki_demo_titles.tsv"
PLACEHOLDER = DATA / "kilt" / "schema" / "kilt_knowledgesource_schema_placeholder.json"


def lines(path):
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def test_squad_lines_have_the_kilt_layout_and_its_gold(tmp_path):
    out = tmp_path / "squad.jsonl"
    assert write_kilt_lines("squad", SQUAD, out) == 16
    records = lines(out)
    schema = json.loads(PLACEHOLDER.read_text())
    for record in records:
        assert list(record) == list(schema)
        assert list(record["wikidata_info"]) == list(schema["wikidata_info"])
        assert list(record["history"]) == list(schema["history"])
        assert record["text"][0] == record["wikipedia_title"] + "\n"
        assert all(p.endswith("\n") for p in record["text"])
    normans = records[0]
    assert normans["wikipedia_id"] == "squad:Normans" and len(normans["text"]) == 1 + 39
    # The gold a SQuAD question carries points into the same line: paragraph = context + 1.
    article = next(read_squad(SQUAD))
    question = next(q for q in article.questions if q.gold)
    gold = question.gold[0]
    paragraph = normans["text"][gold.start_paragraph]
    assert paragraph[gold.start_character : gold.end_character] in question.answers


def test_jsquad_lines_drop_the_title_prefix(tmp_path):
    out = tmp_path / "jsquad.jsonl"
    assert write_kilt_lines("squad", JSQUAD, out) == 59
    first = lines(out)[0]
    assert first["text"][0] == "梅雨\n"
    assert first["text"][1].startswith("梅雨（つゆ、ばいう）は") and "[SEP]" not in first["text"][1]


def test_wiki_demo_lines_take_titles_from_the_tsv(tmp_path):
    out = tmp_path / "wiki.jsonl"
    assert write_kilt_lines("wiki_demo", WIKI, out, TITLES) == 30
    records = lines(out)
    assert [r["wikipedia_title"] for r in records[:3]] == ["Anarchism", "Autism", "Albedo"]
    assert records[0]["wikipedia_id"] == "wiki_demo:1" and records[29]["wikipedia_id"] == (
        "wiki_demo:30"
    )
    # The paragraphs are the article's text, cut only between glued sentences.
    original = WIKI.read_text("utf-8").splitlines()[0]
    body = [p[:-1] for p in records[0]["text"][1:]]
    assert "".join(body).replace(" ", "") == original.replace(" ", "")
    assert body[1].startswith("Humans lived in societies")
    assert len(read_titles(TITLES)) == 30


def test_paragraph_restoration_leaves_abbreviations_alone():
    assert restore_paragraphs("It ended in 1945.Then came peace. The U.S.Army left.") == [
        "It ended in 1945.",
        "Then came peace. The U.S.Army left.",
    ]


def test_the_reader_reads_the_lines_it_was_built_for(tmp_path):
    out = tmp_path / "squad.jsonl"
    write_kilt_lines("squad", SQUAD, out)
    docs = list(read_documents([out], "kilt"))
    assert [d.doc_id for d in docs][:2] == [
        "squad:Normans",
        "squad:Computational_complexity_theory",
    ]
    assert docs[0].first_body == 1 and docs[0].title == "Normans"
    assert docs[0].paragraphs[1].startswith("The Normans (Norman: Nourmands;")
    auto = list(read_documents([out], "auto"))
    assert [d.doc_id for d in auto] == [d.doc_id for d in docs]


def test_missing_titles_and_kinds_are_errors(tmp_path):
    titles = tmp_path / "titles.tsv"
    titles.write_text("1\tAnarchism\n", "utf-8")
    with pytest.raises(InputError, match=r"wiki_demo.txt:2: no title for this line"):
        write_kilt_lines("wiki_demo", WIKI, tmp_path / "w.jsonl", titles)
    assert not (tmp_path / "w.jsonl").exists()
    titles.write_text("one\tAnarchism\n", "utf-8")
    with pytest.raises(InputError, match=r"titles.tsv:1: expected '<line number>\\t<title>'"):
        write_kilt_lines("wiki_demo", WIKI, tmp_path / "w.jsonl", titles)
    with pytest.raises(InputError, match="needs --titles"):
        write_kilt_lines("wiki_demo", WIKI, tmp_path / "w.jsonl")

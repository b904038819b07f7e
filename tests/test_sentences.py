"""Sentence spans are exact slices of the text, on real English and Japanese paragraphs."""

from __future__ import annotations

import json

from conftest import DATA
from distilldata.text.sentences import clean_spans, export_punkt_tables, span_splitter


def paragraphs(path, limit):
    data = json.loads(path.read_text("utf-8"))["data"]
    out = [p["context"] for a in data for p in a["paragraphs"]]
    return out[:limit]


def assert_exact(text, spans):
    """Every span is a trimmed, non-empty slice; spans are ordered; only whitespace is left out."""
    assert spans, text
    covered = set()
    previous_end = 0
    for start, end in spans:
        assert previous_end <= start < end <= len(text)
        piece = text[start:end]
        assert piece == piece.strip() and piece
        covered.update(range(start, end))
        previous_end = end
    assert all(text[i].isspace() for i in range(len(text)) if i not in covered)


def test_english_spans_are_the_punkt_sentences(nltk_data):
    import nltk

    split = span_splitter("en")
    for text in paragraphs(DATA / "squad" / "dev-v2.0.json", 200):
        spans = split(text)
        assert_exact(text, spans)
        expected = [s.strip() for s in nltk.sent_tokenize(text, language="english") if s.strip()]
        assert [text[s:e] for s, e in spans] == expected


def test_japanese_spans_are_the_bunkai_sentences():
    from fast_bunkai import FastBunkai

    bunkai = FastBunkai()
    split = span_splitter("ja")
    for text in paragraphs(DATA / "jsquad" / "valid-v1.3.json", 200):
        spans = split(text)
        assert_exact(text, spans)
        expected = [s.strip() for s in bunkai(text) if s.strip()]
        assert [text[s:e] for s, e in spans] == expected


def test_repeated_sentence_gets_its_own_offsets(nltk_data):
    text = "It rained. It rained. Then the sun came out."
    spans = span_splitter("en")(text)
    assert spans == [[0, 10], [11, 21], [22, 44]]


def test_blank_and_whitespace_texts_keep_the_seed_marker():
    assert clean_spans("", []) == [[0, 0]]
    assert clean_spans("   \n", [(0, 4)]) == [[0, 0]]
    assert clean_spans("  one piece  ", []) == [[2, 11]]


def test_unknown_language_falls_back_to_regex(caplog):
    spans = span_splitter("xx")("Bonjour. Ça va? Oui!")
    assert spans == [[0, 8], [9, 15], [16, 20]]
    assert "regex" in caplog.text


def test_without_nltk_data_the_package_tables_split_the_same(tmp_path, monkeypatch, nltk_data):
    """The seed's `--lang en` works with no NLTK_DATA: the installed package's tables are used,
    and they split exactly as the exported `punkt_tab` folder does."""
    import nltk

    texts = paragraphs(DATA / "squad" / "dev-v2.0.json", 30)
    exported = span_splitter("english")
    monkeypatch.setattr(nltk.data, "path", [str(tmp_path)])
    package = span_splitter("english")
    assert [package(t) for t in texts] == [exported(t) for t in texts]


def test_convert_triplets_lang_en_runs_without_nltk_data(tmp_path):
    """The seed's command, as a user types it after `make run`: no NLTK_DATA set."""
    import subprocess
    import sys

    from conftest import REPO, offline_env

    env = offline_env(HOME=str(tmp_path), NLTK_DATA=str(tmp_path / "none"))
    cmd = [sys.executable, str(REPO / "scripts" / "provence/convert_triplets.py"), "--lang", "en"]
    cmd += ["--dataset", str(DATA / "msmarco" / "flagembedding" / "msmarco.jsonl")]
    cmd += ["--sample-size", "5", "--output-root", str(tmp_path / "base"), "--num-proc", "1"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "base").is_dir()


def test_export_writes_nltk_layout(tmp_path):
    assert export_punkt_tables(tmp_path, ["english"]) == ["english"]
    files = sorted(p.name for p in (tmp_path / "tokenizers" / "punkt_tab" / "english").iterdir())
    assert files == [
        "abbrev_types.txt",
        "collocations.tab",
        "ortho_context.tab",
        "sent_starters.txt",
    ]

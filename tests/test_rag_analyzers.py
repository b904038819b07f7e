"""BM25 analyzers per language, and BM25 retrieval through bm25s with them."""

from __future__ import annotations

import pytest

from distilldata.core.errors import InputError
from distilldata.rag.analyzers import bigrams, make_analyzer
from distilldata.rag.bm25 import BM25Retriever


def test_english_words_lower_cased_without_stop_words_and_stemmed():
    analyze = make_analyzer("en")
    assert analyze("The Normans were RULING in Normandy, a region.") == [
        "norman",
        "were",
        "rule",
        "normandi",
        "region",
    ]
    assert make_analyzer("en", stemmer="none", stopwords=False)("The Normans") == [
        "the",
        "normans",
    ]


def test_japanese_bigrams_and_janome():
    assert bigrams("梅雨（つゆ）は、日本") == ["梅雨", "つゆ", "は", "日本"]
    assert bigrams("東京都") == ["東京", "京都"]
    base = make_analyzer("ja", ja="janome_base")("雨が降った。")
    surface = make_analyzer("ja", ja="janome_surface")("雨が降った。")
    assert "降る" in base and "降っ" in surface and "。" not in base
    with pytest.raises(InputError, match="unknown Japanese analyzer"):
        make_analyzer("ja", ja="mecab")


def test_bm25_ranks_by_the_analyzed_terms():
    corpus = ["Normans ruled Normandy.", "The Huguenots were French Protestants.", "Tokyo"]
    retriever = BM25Retriever(lang="en")
    hits = retriever.search(retriever.build(corpus), ["who ruled normandy", "the", ""], 2)
    assert hits.rows[0].tolist() == [0, 1]  # 1 ties 2 at zero: corpus order
    assert hits.scores[1].tolist() == [0.0, 0.0]  # stop words only: nothing matches
    ja = BM25Retriever(lang="ja", ja="bigram")
    hits = ja.search(ja.build(["梅雨は雨の季節", "富士山は高い山"]), ["富士山の高さ"], 1)
    assert hits.rows.tolist() == [[1]]

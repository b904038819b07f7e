"""Retrieval and answer metrics on constructed cases."""

from __future__ import annotations

import pytest

from distilldata.rag.metrics import (
    AnswerMatcher,
    answer_ranks,
    at_k,
    best_scores,
    dpr_tokens,
    exact_match,
    gold_ranks,
    overlaps,
    squad_normal,
    token_f1,
)


def test_dpr_tokens_are_uncased_words_and_single_symbols():
    assert dpr_tokens("Wilhelm Conrad Röntgen's X-rays (1895).") == [
        "wilhelm", "conrad", "ro\u0308ntgen", "'", "s", "x", "-", "rays", "(", "1895", ")", ".",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("answer", "text", "found"),
    [
        ("France", "Normandy, a region in France.", True),
        ("france", "FRANCE is a country", True),  # uncased
        ("Röntgen", "Wilhelm Conrad Ro\u0308ntgen won", True),  # NFD on both sides
        ("the 10th century", "in the 10th century,", True),
        ("10th", "the 110th year", False),  # whole tokens only, not substrings
        ("New York", "York, New", False),  # token order matters
        ("", "anything", False),
    ],
)
def test_answer_containment(answer, text, found):
    matcher = AnswerMatcher([answer])
    assert bool(matcher) is bool(answer)
    assert matcher.found_in(text) is found


def test_japanese_containment_is_by_characters():
    matcher = AnswerMatcher(["東京"], "ja")
    assert matcher.found_in("日本の首都は東京都です。")  # no word boundary inside Japanese
    assert AnswerMatcher(["ＡＢＣ"], "ja").found_in("abc の話")  # NFKC: full-width, lower case
    assert not AnswerMatcher(["大阪"], "ja").found_in("東京都")
    # DPR tokens would make the whole run one token and miss it:
    assert not AnswerMatcher(["東京"], "en").found_in("日本の首都は東京都です。")


def test_accuracy_at_k_counts_queries_with_answers_only():
    texts = [["no", "yes France", "x"], ["France first"], ["nothing"], ["France"]]
    answers = [["France"], ["France"], ["France"], []]
    ranks = answer_ranks(texts, answers, ["en"] * 4)
    assert ranks == [1, 0, None]  # the query without answers is not counted
    assert at_k(ranks, (1, 2, 5)) == {"@1": 1 / 3, "@2": 2 / 3, "@5": 2 / 3}
    assert at_k([], (1,)) == {"@1": None}


def chunk(doc, p0, c0, p1, c1):
    return {"doc_id": doc, "start_paragraph": p0, "start_character": c0,
            "end_paragraph": p1, "end_character": c1}  # fmt: skip


def test_gold_passage_overlap_is_half_open_over_paragraph_and_character():
    c = chunk("d1", 2, 100, 4, 50)
    assert overlaps(c, chunk("d1", 3, 0, 3, 10))  # inside
    assert overlaps(c, chunk("d1", 1, 0, 2, 101))  # ends just inside
    assert not overlaps(c, chunk("d1", 1, 0, 2, 100))  # ends where the chunk starts
    assert not overlaps(c, chunk("d1", 4, 50, 5, 0))  # starts where the chunk ends
    assert overlaps(c, chunk("d1", 4, 49, 4, 49))  # empty gold inside
    assert not overlaps(c, chunk("d2", 3, 0, 3, 10))  # another document
    assert overlaps({**c, "doc_id": 7}, chunk("7", 3, 0, 3, 1))  # ids compared as strings
    ranks = gold_ranks([[chunk("d2", 0, 0, 9, 9), c], [c]], [[chunk("d1", 3, 0, 3, 5)], []])
    assert ranks == [1]


def test_squad_f1_and_exact_match():
    assert squad_normal("The  Normans, of France!") == "normans of france"
    assert exact_match("the France", "France") == 1.0
    assert token_f1("in northern France", "France") == pytest.approx(2 * (1 / 3) / (1 / 3 + 1))
    assert token_f1("Paris", "France") == 0.0
    assert token_f1("", "") == 1.0 and token_f1("a", "France") == 0.0  # "a" normalises to nothing
    assert best_scores("France", ["Normandy", "France"]) == (1.0, 1.0)


def test_japanese_f1_is_over_characters():
    assert token_f1("東京です", "東京", "ja") == pytest.approx(2 * 0.5 * 1 / 1.5)
    assert exact_match("東京。", "東 京", "ja") == 1.0  # punctuation and spaces removed
    assert token_f1("東京です", "東京", "en") == 0.0  # one "word" each in SQuAD tokens

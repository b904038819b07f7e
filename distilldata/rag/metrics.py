"""Retrieval and answer quality: answer containment accuracy@k, gold-passage recall@k, token F1/EM.

- **Answer containment** (DPR's top-k retrieval accuracy, `dpr/data/qa_validation.py`): a
  document "has the answer" when the token sequence of a gold answer occurs in its token sequence;
  both are NFD-normalised, lower-cased and tokenised as DPR's `SimpleTokenizer` does (runs of
  letters, digits and marks, or any other single non-space character). accuracy@k is the share
  of queries with gold answers that have one in their top k documents.
- Japanese has no spaces, so a DPR token would be a whole run of kana and kanji: for `ja` both
  sides are NFKC-normalised, lower-cased and stripped of whitespace, and containment is a
  substring test on characters.
- **Gold-passage recall@k** (queries with KILT-style gold provenance): a chunk contains a gold
  passage when the document ids match and the (paragraph, character) ranges overlap; ranges
  are half-open, `[start, end)`; an empty gold range counts when it lies inside the chunk.
- **Token F1 / exact match** of a teacher answer against the gold answers (the best over them),
  with SQuAD's normalisation (lower-case, no punctuation, no articles a/an/the, single spaces).
  For `ja` the tokens are characters (NFKC, lower-case, punctuation and whitespace removed).
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence

import regex

KS = (1, 5, 10, 20)
CHARACTER_LANGS = frozenset({"ja", "zh", "th"})  # scripts written without spaces
_DPR_TOKEN = regex.compile(r"[\p{L}\p{N}\p{M}]+|[^\p{Z}\p{C}]", regex.IGNORECASE | regex.UNICODE)
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = set(string.punctuation)


def by_characters(lang: str | None) -> bool:
    return (lang or "").split("-")[0].lower() in CHARACTER_LANGS


# ---- answer containment ---------------------------------------------------------------------


def dpr_tokens(text: str) -> list[str]:
    """DPR's uncased SimpleTokenizer words of NFD-normalised text."""
    return [m.group().lower() for m in _DPR_TOKEN.finditer(unicodedata.normalize("NFD", text))]


def char_normal(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).lower().split())


class AnswerMatcher:
    """Tests documents for any of one query's gold answers (tokenised once)."""

    def __init__(self, answers: Iterable[str], lang: str | None = None):
        self.chars = by_characters(lang)
        norm = char_normal if self.chars else dpr_tokens
        self.answers = [a for a in (norm(x) for x in answers if x) if a]

    def __bool__(self) -> bool:
        return bool(self.answers)

    def found_in(self, text: str) -> bool:
        if self.chars:
            body = char_normal(text)
            return any(a in body for a in self.answers)
        tokens = dpr_tokens(text)
        return any(_contains(tokens, a) for a in self.answers)


def _contains(tokens: Sequence[str], answer: Sequence[str]) -> bool:
    n = len(answer)
    first = answer[0]
    return any(
        tokens[i] == first and list(tokens[i : i + n]) == list(answer)
        for i in range(len(tokens) - n + 1)
    )


def first_rank(flags: Iterable[bool]) -> int | None:
    """The 0-based rank of the first True, or None."""
    return next((i for i, f in enumerate(flags) if f), None)


def at_k(ranks: Sequence[int | None], ks: Sequence[int] = KS) -> dict[str, float | None]:
    """Share of queries whose first hit is within the top k, for each k (None: no queries)."""
    return {
        f"@{k}": (sum(1 for r in ranks if r is not None and r < k) / len(ranks) if ranks else None)
        for k in ks
    }


def answer_ranks(
    texts: Sequence[Sequence[str]], answers: Sequence[Sequence[str]], langs: Sequence[str | None]
) -> list[int | None]:
    """Per query with gold answers: the rank of the first document holding one (None: none)."""
    ranks = []
    for docs, golds, lang in zip(texts, answers, langs, strict=True):
        matcher = AnswerMatcher(golds or [], lang)
        if matcher:
            ranks.append(first_rank(matcher.found_in(t or "") for t in docs))
    return ranks


# ---- gold passages ----------------------------------------------------------------------------


def overlaps(chunk: dict, gold: dict) -> bool:
    """Same document and overlapping (paragraph, character) ranges, half-open."""
    if str(chunk["doc_id"]) != str(gold["doc_id"]):
        return False
    c0 = (chunk["start_paragraph"], chunk["start_character"])
    c1 = (chunk["end_paragraph"], chunk["end_character"])
    g0 = (gold["start_paragraph"], gold["start_character"])
    g1 = (gold["end_paragraph"], gold["end_character"])
    if g0 == g1:
        return c0 <= g0 < c1
    return g0 < c1 and c0 < g1


def gold_ranks(
    chunks: Sequence[Sequence[dict]], golds: Sequence[Sequence[dict] | None]
) -> list[int | None]:
    """Per query with gold passages: the rank of the first chunk containing one (None: none)."""
    ranks = []
    for docs, gold in zip(chunks, golds, strict=True):
        if gold:
            ranks.append(first_rank(any(overlaps(c, g) for g in gold) for c in docs))
    return ranks


# ---- answers ----------------------------------------------------------------------------------


def squad_normal(text: str) -> str:
    """SQuAD's normalize_answer: lower case, no punctuation, no articles, single spaces."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCT)
    return " ".join(_ARTICLES.sub(" ", text).split())


def answer_tokens(text: str, lang: str | None = None) -> list[str]:
    if by_characters(lang):
        norm = unicodedata.normalize("NFKC", text).lower()
        return [ch for ch in norm if not ch.isspace() and unicodedata.category(ch)[0] not in "PS"]
    return squad_normal(text).split()


def token_f1(prediction: str, gold: str, lang: str | None = None) -> float:
    pred, ref = answer_tokens(prediction, lang), answer_tokens(gold, lang)
    if not pred or not ref:
        return float(pred == ref)
    same = sum((Counter(pred) & Counter(ref)).values())
    if not same:
        return 0.0
    precision, recall = same / len(pred), same / len(ref)
    return 2 * precision * recall / (precision + recall)


def exact_match(prediction: str, gold: str, lang: str | None = None) -> float:
    return float(answer_tokens(prediction, lang) == answer_tokens(gold, lang))


def best_scores(
    prediction: str, golds: Sequence[str], lang: str | None = None
) -> tuple[float, float]:
    """(F1, EM) of a prediction: the best over the gold answers."""
    return (
        max(token_f1(prediction, g, lang) for g in golds),
        max(exact_match(prediction, g, lang) for g in golds),
    )

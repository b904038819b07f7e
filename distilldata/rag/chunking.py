"""Chunking documents into retrieval passages that keep their provenance.

A chunk is a run of a document's body paragraphs, cut at `(start_paragraph, start_character)` ..
`(end_paragraph, end_character)` in KILT provenance style (paragraph ids index the document's
paragraph list, `corpus.Document.paragraphs`). Its text is *defined* by those offsets
(`chunk_text`): the slice of each covered paragraph (the first from `start_character`, the last
up to `end_character`), each piece stripped, empty pieces dropped, joined by "\\n". Chunk
boundaries are trimmed of whitespace, so within one paragraph the text is exactly the slice.

Modes:
- `paper` (OSCAR: Wikipedia-KILT in 128-token chunks): sentences (`distilldata.text.sentences`:
  Punkt for Punkt languages, fast-bunkai for ja, else a regex) packed greedily up to `max_tokens`
  retriever-tokenizer tokens; chunks may cross paragraph boundaries; a sentence longer than the
  budget is cut at token boundaries;
- `first_paragraph` (ScaleDown compatibility): the first non-blank *body* paragraph as one chunk.
  ScaleDown takes KILT's `text[0]`, which is the title line; we take the paragraph after it;
- `none`: the whole body as one chunk (pre-chunked corpora such as DPR's 100-word passages).

`n_tokens` is the token count of the chunk text (no special tokens) under the retriever's
tokenizer.
"""

from __future__ import annotations

from dataclasses import dataclass

from distilldata.core.errors import InputError
from distilldata.rag.corpus import Document

CHUNKING_MODES = ("paper", "first_paragraph", "none")


@dataclass(frozen=True)
class Chunk:
    chunk_id: str
    doc_id: str
    title: str
    text: str
    start_paragraph: int
    start_character: int
    end_paragraph: int
    end_character: int
    n_tokens: int


def chunk_text(paragraphs: list[str], sp: int, sc: int, ep: int, ec: int) -> str:
    """The text a chunk's offsets stand for (the reconstruction rule of this module)."""
    pieces = []
    for p in range(sp, ep + 1):
        para = paragraphs[p]
        piece = para[sc if p == sp else 0 : ec if p == ep else len(para)].strip()
        if piece:
            pieces.append(piece)
    return "\n".join(pieces)


def _trimmed(text: str) -> tuple[int, int] | None:
    """[start, end) of `text` without surrounding whitespace; None when blank."""
    stripped = text.strip()
    if not stripped:
        return None
    start = len(text) - len(text.lstrip())
    return start, start + len(stripped)


@dataclass(frozen=True)
class Unit:
    """A piece of a paragraph that is never cut further: a sentence or part of one."""

    paragraph: int
    start: int
    end: int
    n_tokens: int


class Chunker:
    """Documents -> chunks in one mode. The tokenizer and sentence splitter load once."""

    def __init__(self, mode: str, tokenizer, lang: str = "en", max_tokens: int = 128):
        if mode not in CHUNKING_MODES:
            raise InputError(f"unknown chunking mode {mode!r}; choose from {CHUNKING_MODES}")
        if max_tokens <= 0:
            raise InputError("--max_tokens must be positive")
        self.mode, self.tokenizer, self.max_tokens = mode, tokenizer, max_tokens
        self.split = None
        if mode == "paper":
            from distilldata.text.sentences import span_splitter

            self.split = span_splitter(lang)

    def _count(self, texts: list[str]) -> list[int]:
        if not texts:
            return []
        ids = self.tokenizer(texts, add_special_tokens=False)["input_ids"]
        return [len(x) for x in ids]

    def _token_pieces(self, text: str, start: int, end: int) -> list[tuple[int, int]]:
        """A long sentence cut at token boundaries into runs of at most max_tokens tokens,
        preferring boundaries between words (a token that starts after a gap) to cuts inside
        a word; a word longer than the budget is cut inside."""
        offsets = self.tokenizer(
            text[start:end], add_special_tokens=False, return_offsets_mapping=True
        )["offset_mapping"]
        runs, i = [], 0
        while i < len(offsets):
            j = min(i + self.max_tokens, len(offsets))
            if j < len(offsets):
                # back off to the last token that starts a word (a gap before it)
                cut = next((t for t in range(j, i, -1) if offsets[t][0] > offsets[t - 1][1]), j)
                j = cut
            runs.append((start + offsets[i][0], start + offsets[j - 1][1]))
            i = j
        return runs

    def _units(self, doc: Document) -> list[Unit]:
        spans = []
        for p in range(doc.first_body, len(doc.paragraphs)):
            para = doc.paragraphs[p]
            if para.strip():
                spans += [(p, s, e) for s, e in self.split(para) if e > s]
        counts = self._count([doc.paragraphs[p][s:e] for p, s, e in spans])
        units = []
        for (p, s, e), n in zip(spans, counts, strict=True):
            if n <= self.max_tokens:
                units.append(Unit(p, s, e, n))
                continue
            pieces = self._token_pieces(doc.paragraphs[p], s, e)
            counts_ = self._count([doc.paragraphs[p][a:b] for a, b in pieces])
            units += [Unit(p, a, b, m) for (a, b), m in zip(pieces, counts_, strict=True)]
        return units

    def _spans(self, doc: Document) -> list[tuple[int, int, int, int]]:
        """(start_paragraph, start_character, end_paragraph, end_character) of each chunk."""
        body = [
            (p, _trimmed(doc.paragraphs[p])) for p in range(doc.first_body, len(doc.paragraphs))
        ]
        body = [(p, t) for p, t in body if t is not None]
        if not body:
            return []
        if self.mode == "first_paragraph":
            p, (s, e) = body[0]
            return [(p, s, p, e)]
        if self.mode == "none":
            return [(body[0][0], body[0][1][0], body[-1][0], body[-1][1][1])]
        spans, current, total = [], [], 0
        for unit in self._units(doc):
            if current and total + unit.n_tokens > self.max_tokens:
                spans.append(current)
                current, total = [], 0
            current.append(unit)
            total += unit.n_tokens
        if current:
            spans.append(current)
        return [(u[0].paragraph, u[0].start, u[-1].paragraph, u[-1].end) for u in spans]

    def chunks(self, doc: Document) -> list[Chunk]:
        spans = self._spans(doc)
        texts = [chunk_text(doc.paragraphs, *span) for span in spans]
        counts = self._count(texts)
        return [
            Chunk(f"{doc.doc_id}#{k}", doc.doc_id, doc.title, text, *span, n)
            for k, (span, text, n) in enumerate(zip(spans, texts, counts, strict=True))
        ]

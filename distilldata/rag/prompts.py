"""The teacher's prompt: two kinds, rendered with the model's chat template, within a token budget.

- `scaledown`: ScaleDown's `TeacherLLM.format_prompt` text (`scaledown/data/teacher.py`): one
  user turn that asks for a concise answer, then `Document i: <title>` and the first 200
  whitespace-separated words of each document, blank lines between documents. ScaleDown wraps
  it in Mistral's `[INST] ... [/INST]` by hand; here the wrapping is the model's chat template
  when it has one (for Mistral-Instruct-v0.2 that is the same `<s>[INST] ... [/INST]`), and
  ScaleDown's own `[INST]` text otherwise.
- `paper`: the OSCAR paper's teacher prompt (Fig. 14): its system text, then one user turn
  `Background:\\n{doc1}SEP{doc2}...\\nQuestion: {q}`. Fig. 14 draws SEP between documents (in the
  compressed prompts of PISCO/OSCAR it is the tokenizer's separator after each document's memory
  tokens); for text documents we write a newline. Each document is the chunk text alone, which
  is what `train_data.json` gives the student, so teacher and student see the same documents.
  Templates that reject a system turn (Mistral-Instruct-v0.2's) get the system text at the top
  of the user turn, as PISCO's code does for such models.

Token budget (`max_prompt_tokens`, ScaleDown: 2048): ScaleDown tokenizes with
`truncation=True, max_length=2048`, which cuts the *end* of an over-long prompt: the closing
instruction and `[/INST]`, so the model continues the documents instead of answering. Here the
last documents are dropped first, then the last one kept is cut word by word, so the prompt always
ends with the question's instruction and the generation prompt. Only if the prompt with no
document is still too long is the query cut.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from distilldata.core.errors import InputError

PROMPT_KINDS = ("scaledown", "paper")
PROMPT_VERSION = 1  # bump when a prompt's text changes (it is part of the answers' cache key)

SCALEDOWN_WORDS = 200  # ScaleDown's max_doc_length: words per document
SCALEDOWN_OPENING = (
    "You are a helpful assistant. Answer the following question based on the provided documents."
)
SCALEDOWN_CLOSING = "Provide a concise and accurate answer based on the documents above."
PAPER_SYSTEM = (
    "You are a helpful assistant. Your task is to extract relevant information from provided "
    "documents and to answer questions as briefly as possible."
)
PAPER_SEPARATOR = "\n"


@dataclass(frozen=True)
class Document:
    title: str
    text: str


@dataclass(frozen=True)
class Prompt:
    """A rendered prompt: the text the completer gets, its token count, and how many documents
    it shows (the last of them possibly cut: `cut`)."""

    text: str
    tokens: int
    documents: int
    cut: bool = False


def scaledown_document(number: int, doc: Document, words: int = SCALEDOWN_WORDS) -> str:
    body = " ".join(doc.text.split()[:words])
    return f"Document {number}: {doc.title}\n{body}"


def scaledown_message(query: str, docs: Sequence[Document]) -> str:
    """The text between ScaleDown's `[INST] ` and ` [/INST]`."""
    docs_text = "\n\n".join(scaledown_document(i, d) for i, d in enumerate(docs, 1))
    return (
        f"{SCALEDOWN_OPENING}\n\nQuestion: {query}\n\nDocuments:\n{docs_text}\n\n"
        f"{SCALEDOWN_CLOSING}"
    )


def scaledown_text(query: str, docs: Sequence[Document]) -> str:
    """ScaleDown's prompt exactly as it builds it (no chat template)."""
    return f"[INST] {scaledown_message(query, docs)} [/INST]"


def paper_user(query: str, docs: Sequence[Document]) -> str:
    background = PAPER_SEPARATOR.join(d.text for d in docs)
    return f"Background:\n{background}\nQuestion: {query}"


def messages(kind: str, query: str, docs: Sequence[Document]) -> list[dict]:
    """The chat turns of a prompt kind."""
    if kind == "scaledown":
        return [{"role": "user", "content": scaledown_message(query, docs)}]
    if kind == "paper":
        return [
            {"role": "system", "content": PAPER_SYSTEM},
            {"role": "user", "content": paper_user(query, docs)},
        ]
    raise InputError(f"--prompt {kind!r}: use one of {PROMPT_KINDS}")


def raw_text(kind: str, query: str, docs: Sequence[Document]) -> str:
    """The prompt for a tokenizer without a chat template."""
    if kind == "scaledown":
        return scaledown_text(query, docs)
    turns = messages(kind, query, docs)
    return "\n\n".join(t["content"] for t in turns)


def fold_system(turns: list[dict]) -> list[dict]:
    """The system text moved to the top of the first user turn (for templates without one)."""
    if not turns or turns[0]["role"] != "system":
        return turns
    system, first, *rest = turns
    return [{"role": "user", "content": f"{system['content']}\n\n{first['content']}"}, *rest]


class PromptBuilder:
    """Renders prompts of one kind with one tokenizer, within `max_prompt_tokens` (0 = no limit)
    and with at most `num_documents` documents (0 = all)."""

    def __init__(self, tokenizer, kind: str, max_prompt_tokens: int = 0, num_documents: int = 0):
        if kind not in PROMPT_KINDS:
            raise InputError(f"--prompt {kind!r}: use one of {PROMPT_KINDS}")
        self.tokenizer = tokenizer
        self.kind = kind
        self.max_tokens = max_prompt_tokens
        self.num_documents = num_documents
        self.templated = bool(getattr(tokenizer, "chat_template", None))
        self.fold = False
        self.bos = self._raw_prefix()

    def _raw_prefix(self) -> str:
        """The BOS text a raw prompt needs: the completers tokenize without special tokens, while
        ScaleDown's `tokenizer(prompt)` adds them (Mistral's `<s>`)."""
        tok = self.tokenizer
        bos = getattr(tok, "bos_token", None)
        if self.templated or not bos:
            return ""
        ids = tok("x")["input_ids"]
        return bos if ids and ids[0] == tok.bos_token_id else ""

    def render(self, query: str, docs: Sequence[Document]) -> str:
        if not self.templated:
            return self.bos + raw_text(self.kind, query, docs)
        from jinja2 import TemplateError

        turns = messages(self.kind, query, docs)
        if not self.fold:
            try:
                return self._apply(turns)
            except TemplateError as exc:  # e.g. "Conversation roles must alternate user/assistant"
                if turns[0]["role"] != "system":
                    raise
                self.fold = True
                self.fold_reason = str(exc)  # reported by the teacher's stats
        return self._apply(fold_system(turns))

    def _apply(self, turns: list[dict]) -> str:
        return self.tokenizer.apply_chat_template(turns, tokenize=False, add_generation_prompt=True)

    def count(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def build(self, query: str, docs: Sequence[Document]) -> Prompt:
        if self.num_documents:
            docs = docs[: self.num_documents]
        if self.kind == "scaledown":  # its word cut comes first, as in ScaleDown
            docs = [Document(d.title, " ".join(d.text.split()[:SCALEDOWN_WORDS])) for d in docs]
        text = self.render(query, docs)
        tokens = self.count(text)
        if not self.max_tokens or tokens <= self.max_tokens:
            return Prompt(text, tokens, len(docs))
        return self._fit(query, list(docs))

    def _fits(self, query: str, docs: Sequence[Document]) -> tuple[bool, str, int]:
        text = self.render(query, docs)
        tokens = self.count(text)
        return tokens <= self.max_tokens, text, tokens

    def _fit(self, query: str, docs: list[Document]) -> Prompt:
        """Drop the last documents, then cut the last one kept by words, until it fits."""
        whole = _largest(len(docs) - 1, lambda k: self._fits(query, docs[:k])[0])
        if whole < 0:
            return self._fit_query(query)
        kept = docs[:whole]
        words = docs[whole].text.split()
        title = docs[whole].title

        def with_words(n: int) -> list[Document]:
            return [*kept, Document(title, " ".join(words[:n]))]

        n_words = _largest(len(words) - 1, lambda n: n == 0 or self._fits(query, with_words(n))[0])
        if n_words > 0:
            _, text, tokens = self._fits(query, with_words(n_words))
            return Prompt(text, tokens, whole + 1, cut=True)
        _, text, tokens = self._fits(query, kept)
        return Prompt(text, tokens, whole, cut=True)

    def _fit_query(self, query: str) -> Prompt:
        words = query.split()
        n = _largest(len(words), lambda k: self._fits(" ".join(words[:k]), [])[0])
        if n < 0:
            raise InputError(
                f"--max_prompt_tokens {self.max_tokens} is shorter than the {self.kind} prompt's "
                f"own text ({self.count(self.render('', []))} tokens); raise it"
            )
        _, text, tokens = self._fits(" ".join(words[:n]), [])
        return Prompt(text, tokens, 0, cut=True)


def _largest(high: int, ok) -> int:
    """The largest n in 0..high with ok(n), for a monotone ok (True up to some n); -1 if none."""
    lo, hi = -1, high
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if ok(mid):
            lo = mid
        else:
            hi = mid - 1
    return lo

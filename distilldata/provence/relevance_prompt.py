"""The pruner LLM's prompt, its truncation ladder, and parsing of its answer into span flags.

Same behaviour as the seed's `add_context_spans_relevance.py`, so the released pruner
(`hotchpotch/query-context-pruner-multilingual-Qwen3-4B`) works unchanged:

- chunks = `text[s:e].strip()` for every span with `e > s`; a text without chunks gets no prompt;
- one user message `"{query}\\n---\\n[1] chunk\\n[2] chunk..."`, rendered with the model's chat
  template (`add_generation_prompt=True`);
- the rendered prompt must fit `max_model_len - max_tokens - 10` tokens, else the ladder cuts it
  (the query is always cut to 256 characters): rung 1 query to 100 characters and the first 10
  chunks to 200 characters + "..."; rung 2 chunks to 100; rung 3 the first 5 chunks to 50;
  rung 4 the chunk list becomes `["none"]`; past that the prompt cannot be built;
- every `\\d+` in the answer is a 1-based chunk index; out-of-range ones are ignored and
  duplicates collapse. An answer without digits ("none") marks nothing.

Deviations:
- flags are returned per *span* (length `len(spans)`, 0 for an empty span), not per chunk, so
  they stay aligned with `context_spans` even when a span is empty;
- a chunk the prompt did not show is -1 (unknown), not 0: rungs 1-2 show the first 10 chunks,
  rung 3 the first 5, rung 4 none (so every chunk is -1). The seed flags them 0, and the trainer
  then learns them as true negatives. An index naming a chunk that was not shown is ignored.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from distilldata.core.errors import InputError

QUERY_MAX_CHARS = 256
LADDER_QUERY_MAX_CHARS = 100
SAFETY_MARGIN_TOKENS = 10
# (max chunks, max characters per chunk) for rungs 1-3; rung 4 replaces the chunks by "none".
LADDER = ((10, 200), (10, 100), (5, 50))
RUNGS = 1 + len(LADDER) + 1  # untouched prompt, three cuts, "none"
UNKNOWN = -1  # the flag of a chunk the prompt did not show

_INDEX = re.compile(r"\d+")


@dataclass(frozen=True)
class Prompt:
    text: str  # the rendered prompt
    rung: int  # 0 = untouched ... 4 = chunks replaced by "none"
    tokens: int
    shown: int  # how many of the first chunks the prompt shows (the rest are unknown)


def chunk_positions(spans: Sequence[Sequence[int]]) -> list[int]:
    """Indices of the spans that become chunks (non-empty ones), in order."""
    return [i for i, (start, end) in enumerate(spans) if end > start]


def chunks_of(text: str, spans: Sequence[Sequence[int]]) -> list[str]:
    return [text[s:e].strip() for s, e in spans if e > s]


def user_message(query: str, chunks: Sequence[str]) -> str:
    block = "\n".join(f"[{i + 1}] {chunk}" for i, chunk in enumerate(chunks))
    return f"{query}\n---\n{block}"


def _cut(chunk: str, limit: int) -> str:
    return chunk[:limit] + ("..." if len(chunk) > limit else "")


def ladder_rung(query: str, chunks: Sequence[str], rung: int) -> tuple[str, list[str]]:
    """Query and chunks as rung `rung` of the ladder shows them (0 = only the 256-char cut)."""
    query = query[:QUERY_MAX_CHARS]
    chunks = list(chunks)
    if rung == 0:
        return query, chunks
    query = query[:LADDER_QUERY_MAX_CHARS]
    if rung <= len(LADDER):
        keep, limit = LADDER[rung - 1]
        return query, [_cut(c, limit) for c in chunks[:keep]]
    return query, ["none"]


def shown_chunks(num_chunks: int, rung: int) -> int:
    """How many of the first `num_chunks` chunks rung `rung` of the ladder shows."""
    if rung == 0:
        return num_chunks
    if rung <= len(LADDER):
        return min(num_chunks, LADDER[rung - 1][0])
    return 0  # rung 4: the chunk list is ["none"]


def token_budget(max_model_len: int, max_tokens: int) -> int:
    return max_model_len - max_tokens - SAFETY_MARGIN_TOKENS


class PromptBuilder:
    """Renders prompts with a tokenizer's chat template and walks the ladder until one fits."""

    def __init__(self, tokenizer, max_model_len: int = 1280, max_tokens: int = 64):
        self.tokenizer = tokenizer
        self.budget = token_budget(max_model_len, max_tokens)
        self.max_model_len = max_model_len
        if self.budget <= 0:
            raise InputError(
                f"max_model_len={max_model_len} leaves no room for a prompt after "
                f"{max_tokens} output tokens; raise --max-model-len"
            )

    def render(self, query: str, chunks: Sequence[str]) -> str:
        messages = [{"role": "user", "content": user_message(query, chunks)}]
        return self.tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=True
        )

    def count(self, rendered: str) -> int:
        return len(self.tokenizer(rendered, add_special_tokens=False)["input_ids"])

    def build(self, query: str, chunks: Sequence[str]) -> Prompt:
        for rung in range(RUNGS):
            text = self.render(*ladder_rung(query, chunks, rung))
            tokens = self.count(text)
            if tokens <= self.budget:
                return Prompt(text, rung, tokens, shown_chunks(len(chunks), rung))
        raise InputError(
            f"no prompt fits {self.budget} tokens even with the chunks replaced by 'none' "
            f"(query of {len(query)} characters); raise --max-model-len above {self.max_model_len}"
        )


def parse_indices(response: str, num_chunks: int) -> list[int]:
    """0-based chunk indices named in the answer: in range, deduplicated, sorted."""
    picked = {int(m) - 1 for m in _INDEX.findall(response)}
    return sorted(i for i in picked if 0 <= i < num_chunks)


def chunk_flags(response: str, num_chunks: int, shown: int | None = None) -> list[int]:
    """Per chunk: 1 if the answer names it, 0 if not, -1 if the prompt did not show it.

    `shown` = how many of the first chunks the prompt showed (`Prompt.shown`; default all).
    """
    shown = num_chunks if shown is None else min(shown, num_chunks)
    flags = [0] * shown + [UNKNOWN] * (num_chunks - shown)
    for i in parse_indices(response, shown):
        flags[i] = 1
    return flags


def span_flags(
    chunk_level: Sequence[int], spans: Sequence[Sequence[int]], where: str = "text"
) -> list[int]:
    """Spread per-chunk flags (1 / 0 / -1) back over all spans (empty spans get 0)."""
    positions = chunk_positions(spans)
    if len(positions) != len(chunk_level):
        raise ValueError(  # a backend bug, not bad input
            f"{where}: the labeler returned {len(chunk_level)} flags for {len(positions)} chunks "
            "(non-empty spans); a backend must return one flag per chunk"
        )
    flags = [0] * len(spans)
    for pos, flag in zip(positions, chunk_level, strict=True):
        flags[pos] = int(flag)
    return flags

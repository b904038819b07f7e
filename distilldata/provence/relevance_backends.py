"""Span-relevance labelers behind one small interface, chosen by name in the config.

`label(items)` takes (query, text, spans) items and returns flags per *chunk* (non-empty span)
of each item: 1 relevant, 0 not, -1 unknown. An LLM backend flags -1 the chunks its prompt did
not show (the truncation ladder of `relevance_prompt` keeps only the first 10 or 5 chunks, or
none at rung 4): the labeler never judged them, so they are not negatives. Backends:

- `vllm`, `openai`, `transformers`: the pruner prompt (truncation ladder, the model's chat
  template) completed by the completer of that name in `distilldata.llm.completion`; with
  `openai` the prompts are still rendered here, so the ladder applies.
- `gold`: no model; a sentence is relevant iff it overlaps a gold answer span (SQuAD data).

Nothing loads until the first `label()` call, so a fully cached run never starts a model.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from distilldata.core.errors import InputError
from distilldata.llm.cache import labeler_name
from distilldata.llm.completion import Completer, GenerationSettings, make_completer
from distilldata.provence.relevance_prompt import PromptBuilder, chunk_flags, chunks_of
from distilldata.text.answer_spans import gold_relevance

log = logging.getLogger(__name__)

BACKENDS = ("gold", "transformers", "vllm", "openai")
DEFAULT_MODEL = "hotchpotch/query-context-pruner-multilingual-Qwen3-4B"
FLAGS_VERSION = 2  # 2: chunks the prompt did not show are -1 (1: they were 0)


@dataclass(frozen=True)
class TextItem:
    """One (query, text) pair to label; `answer_spans` are gold offsets into this text."""

    query: str
    text: str
    spans: Sequence[Sequence[int]]
    answer_spans: Sequence[Sequence[int]] | None = None

    @property
    def chunks(self) -> list[str]:
        return chunks_of(self.text, self.spans)


@dataclass
class LabelSettings(GenerationSettings):
    """The labeler: a backend name plus the generation settings. What decides the labels makes
    the cache key (`fingerprint`); engine knobs do not."""

    model: str = DEFAULT_MODEL
    backend: str = "vllm"

    def fingerprint(self) -> str:
        """A short tag naming the labeler: `<backend>-<model>-<hash of what decides labels>`.

        The hash includes `FLAGS_VERSION`, so caches written before chunks hidden by the
        ladder became -1 (they hold 0 there) are not reused.
        """
        if self.backend == "gold":
            return "gold"
        keys = ("model", "tokenizer", "max_model_len", "max_tokens", "temperature", "top_p")
        decisive = {k: asdict(self)[k] for k in keys} | {"stop": self.stop_tokens}
        decisive["flags_version"] = FLAGS_VERSION
        return labeler_name(self.backend, self.model, decisive, digits=8)


class RelevanceBackend(ABC):
    name = "?"
    needs_gold = False

    @abstractmethod
    def label(self, items: Sequence[TextItem]) -> list[list[int]]:
        """1 / 0 / -1 (unknown) flags per chunk of every item (each has at least one chunk)."""

    def stats(self) -> dict:
        return {}

    def close(self) -> None:  # noqa: B027 - optional hook
        pass


class GoldBackend(RelevanceBackend):
    name = "gold"
    needs_gold = True

    def label(self, items: Sequence[TextItem]) -> list[list[int]]:
        out = []
        for item in items:
            if item.answer_spans is None:
                raise InputError("the gold backend needs answer offsets (`answer_spans`)")
            chunk_spans = [sp for sp in item.spans if sp[1] > sp[0]]
            out.append(gold_relevance(chunk_spans, item.answer_spans))
        return out


class PromptBackend(RelevanceBackend):
    """The LLM labeler: the pruner prompt (with its truncation ladder) rendered with the model's
    chat template, completed by a `distilldata.llm` completer, its answer parsed into flags."""

    def __init__(self, settings: LabelSettings, completer: Completer | None = None):
        self.settings = settings
        self.completer = completer or make_completer(settings.backend, settings)
        self.name = self.completer.name
        self._builder: PromptBuilder | None = None
        self.rungs: Counter = Counter()
        self.prompts = 0

    def builder(self) -> PromptBuilder:
        if self._builder is None:
            self.completer.load()
            self._builder = PromptBuilder(
                self.completer.tokenizer, self.settings.max_model_len, self.settings.max_tokens
            )
        return self._builder

    def label(self, items: Sequence[TextItem]) -> list[list[int]]:
        builder = self.builder()
        chunk_lists = [item.chunks for item in items]
        prompts = [builder.build(it.query, ch) for it, ch in zip(items, chunk_lists, strict=True)]
        self.rungs.update(p.rung for p in prompts)
        self.prompts += len(prompts)
        responses = self.completer.complete([p.text for p in prompts]) if prompts else []
        if len(responses) != len(prompts):
            raise RuntimeError(f"{self.name}: {len(responses)} answers for {len(prompts)} prompts")
        return [
            chunk_flags(r, len(ch), p.shown)
            for r, ch, p in zip(responses, chunk_lists, prompts, strict=True)
        ]

    def stats(self) -> dict:
        return {
            "model_loaded": self._builder is not None,
            "prompts": self.prompts,
            "ladder_rungs": dict(sorted(self.rungs.items())),
        }

    def close(self) -> None:
        self.completer.close()


def make_backend(settings: LabelSettings) -> RelevanceBackend:
    if settings.backend == "gold":
        return GoldBackend()
    if settings.backend not in BACKENDS:
        raise InputError(f"unknown relevance backend {settings.backend!r}; use one of {BACKENDS}")
    return PromptBackend(settings)

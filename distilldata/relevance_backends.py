"""Span-relevance labelers behind one small interface, chosen by name in the config.

`label(items)` takes (query, text, spans) items and returns flags per *chunk* (non-empty span)
of each item: 1 relevant, 0 not, -1 unknown. An LLM backend flags -1 the chunks its prompt did
not show (the truncation ladder of `relevance_prompt` keeps only the first 10 or 5 chunks, or
none at rung 4): the labeler never judged them, so they are not negatives. Backends:

- `vllm`: vLLM's offline engine (`LLM(...)`, `SamplingParams`, `generate`); GPU boxes, needs
  `envs/vllm.yaml` (vLLM pins its own torch/transformers). Imported lazily.
- `openai`: any OpenAI-compatible `/v1/completions` endpoint (e.g. `vllm serve` on another
  node); prompts are rendered here with the model's tokenizer, so the ladder still applies.
- `transformers`: `AutoModelForCausalLM.generate` on CPU or GPU, for small models and CI.
- `gold`: no model; a sentence is relevant iff it overlaps a gold answer span (SQuAD data).

Nothing loads until the first `label()` call, so a fully cached run never starts a model.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
import urllib.error
import urllib.request
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from distilldata.errors import InputError
from distilldata.gold import gold_relevance
from distilldata.relevance_prompt import PromptBuilder, chunk_flags, chunks_of, cut_at_stop

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
class LabelSettings:
    """Everything that decides the labels (and so the cache key), plus engine knobs."""

    backend: str = "vllm"
    model: str = DEFAULT_MODEL
    tokenizer: str | None = None
    max_model_len: int = 1280
    max_tokens: int = 64
    temperature: float = 0.1
    top_p: float = 0.95
    stop_tokens: list[str] = field(default_factory=lambda: ["<|endoftext|>"])
    seed: int = 42
    # engine knobs: they do not change the labels, so they are not part of the cache key
    gpu_memory_utilization: float = 0.9
    generate_batch_size: int = 32
    device: str | None = None
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    engine_kwargs: dict = field(default_factory=dict)

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
        digest = hashlib.sha1(json.dumps(decisive, sort_keys=True).encode()).hexdigest()[:8]
        name = self.model.rstrip("/").split("/")[-1].replace(".", "_")
        return f"{self.backend}-{name}-{digest}"


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
    """Shared by the LLM backends: build prompts (ladder), complete them, parse the indices."""

    def __init__(self, settings: LabelSettings):
        self.settings = settings
        self.tokenizer = None
        self._builder: PromptBuilder | None = None
        self.rungs: Counter = Counter()
        self.prompts = 0

    @abstractmethod
    def _load(self) -> None:
        """Load the engine and set self.tokenizer."""

    @abstractmethod
    def complete(self, prompts: list[str]) -> list[str]:
        """The generated text for each rendered prompt, in order."""

    @property
    def stops(self) -> list[str]:
        return [s for s in self.settings.stop_tokens if s]

    def builder(self) -> PromptBuilder:
        if self._builder is None:
            started = time.monotonic()
            self._load()
            log.info(
                "%s: loaded %s in %.1fs", self.name, self.settings.model, time.monotonic() - started
            )
            self._builder = PromptBuilder(
                self.tokenizer, self.settings.max_model_len, self.settings.max_tokens
            )
        return self._builder

    def label(self, items: Sequence[TextItem]) -> list[list[int]]:
        builder = self.builder()
        chunk_lists = [item.chunks for item in items]
        prompts = [builder.build(it.query, ch) for it, ch in zip(items, chunk_lists, strict=True)]
        self.rungs.update(p.rung for p in prompts)
        self.prompts += len(prompts)
        responses = self.complete([p.text for p in prompts]) if prompts else []
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


class TransformersBackend(PromptBackend):
    """`generate` with a Hugging Face causal LM; prompts are length-sorted into batches."""

    name = "transformers"

    def _load(self) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        s = self.settings
        device = s.device or ("cuda" if torch.cuda.is_available() else "cpu")
        tokenizer = AutoTokenizer.from_pretrained(s.tokenizer or s.model, trust_remote_code=True)
        tokenizer.padding_side = "left"
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
        model = AutoModelForCausalLM.from_pretrained(s.model, dtype=dtype, trust_remote_code=True)
        self.model = model.to(device).eval()
        self.device = device
        self.tokenizer = tokenizer
        torch.manual_seed(s.seed)

    @property
    def stops(self) -> list[str]:
        extra = [self.tokenizer.eos_token, self.tokenizer.pad_token]
        return [s for s in [*self.settings.stop_tokens, *extra] if s]

    def complete(self, prompts: list[str]) -> list[str]:
        import torch

        s = self.settings
        tok = self.tokenizer
        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
        answers: list[str] = [""] * len(prompts)
        sampling = (
            {"do_sample": True, "temperature": s.temperature, "top_p": s.top_p}
            if s.temperature > 0
            else {"do_sample": False}
        )
        step = max(1, s.generate_batch_size)
        for start in range(0, len(order), step):
            batch = order[start : start + step]
            enc = tok(
                [prompts[i] for i in batch],
                return_tensors="pt",
                padding=True,
                add_special_tokens=False,
            ).to(self.device)
            with torch.inference_mode():
                out = self.model.generate(
                    **enc,
                    max_new_tokens=s.max_tokens,
                    pad_token_id=tok.pad_token_id,
                    **sampling,
                )
            new = out[:, enc["input_ids"].shape[1] :]
            for i, text in zip(
                batch, tok.batch_decode(new, skip_special_tokens=False), strict=True
            ):
                answers[i] = cut_at_stop(text, self.stops)
        return answers


class VLLMBackend(PromptBackend):
    """vLLM's offline engine (documented API: `LLM(...)`, `SamplingParams`, `LLM.generate`)."""

    name = "vllm"

    def _load(self) -> None:
        try:
            from vllm import LLM, SamplingParams
        except ImportError as exc:
            raise InputError(
                "backend 'vllm' needs vLLM, which pins its own torch/transformers: create the "
                "env from envs/vllm.yaml (GPU) or `make test-vllm` (CPU smoke test)"
            ) from exc
        s = self.settings
        kwargs = {
            "model": s.model,
            "max_model_len": s.max_model_len,
            "trust_remote_code": True,
            "seed": s.seed,
            **s.engine_kwargs,
        }
        if s.tokenizer:
            kwargs["tokenizer"] = s.tokenizer
        if "gpu_memory_utilization" not in s.engine_kwargs and s.device != "cpu":
            kwargs["gpu_memory_utilization"] = s.gpu_memory_utilization
        self.llm = LLM(**kwargs)
        self.sampling = SamplingParams(
            temperature=s.temperature,
            top_p=s.top_p,
            max_tokens=s.max_tokens,
            stop=self.stops or None,
        )
        self.tokenizer = self.llm.get_tokenizer()

    def complete(self, prompts: list[str]) -> list[str]:
        outputs = self.llm.generate(prompts, self.sampling, use_tqdm=False)
        return [o.outputs[0].text for o in outputs]


class OpenAIBackend(PromptBackend):
    """POST rendered prompts to an OpenAI-compatible `/completions` endpoint (stdlib only)."""

    name = "openai"
    retries = 3

    def _load(self) -> None:
        from transformers import AutoTokenizer

        s = self.settings
        if not s.base_url:
            raise InputError(
                "backend 'openai' needs a base URL (config provence.relevance.openai.base_url "
                "or --base-url), e.g. http://gpu-node:8000/v1"
            )
        self.tokenizer = AutoTokenizer.from_pretrained(
            s.tokenizer or s.model, trust_remote_code=True
        )
        self.url = s.base_url.rstrip("/") + "/completions"
        self.api_key = os.environ.get(s.api_key_env, "")

    def _post(self, payload: dict) -> dict:
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        data = json.dumps(payload).encode()
        for attempt in range(1, self.retries + 1):
            request = urllib.request.Request(self.url, data=data, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=600) as response:
                    return json.loads(response.read())
            except (urllib.error.URLError, TimeoutError) as exc:
                if attempt == self.retries:
                    raise RuntimeError(f"{self.url}: {exc} (after {attempt} tries)") from exc
                log.warning("%s: %s; retrying in %ds", self.url, exc, 2**attempt)
                time.sleep(2**attempt)
        raise AssertionError("unreachable")

    def complete(self, prompts: list[str]) -> list[str]:
        s = self.settings
        answers: list[str] = []
        step = max(1, s.generate_batch_size)
        for start in range(0, len(prompts), step):
            batch = prompts[start : start + step]
            body = self._post(
                {
                    "model": s.model,
                    "prompt": batch,
                    "max_tokens": s.max_tokens,
                    "temperature": s.temperature,
                    "top_p": s.top_p,
                    "stop": self.stops or None,
                    "seed": s.seed,
                }
            )
            texts = [""] * len(batch)
            for choice in body.get("choices", []):
                texts[choice["index"]] = choice.get("text") or ""
            answers.extend(cut_at_stop(t, self.stops) for t in texts)
        return answers


def make_backend(settings: LabelSettings) -> RelevanceBackend:
    if settings.backend == "gold":
        return GoldBackend()
    classes = {"transformers": TransformersBackend, "vllm": VLLMBackend, "openai": OpenAIBackend}
    if settings.backend not in classes:
        raise InputError(f"unknown relevance backend {settings.backend!r}; use one of {BACKENDS}")
    return classes[settings.backend](settings)

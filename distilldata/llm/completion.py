"""Batch text completion behind one small interface, chosen by name: `transformers`, `vllm`,
`openai`. A `Completer` takes rendered prompts and returns the generated texts, in order; it
knows no pipeline's prompt (each pipeline renders its own with `completer.tokenizer`).

- `transformers`: `AutoModelForCausalLM.generate` on CPU or GPU, length-sorted batches; small
  models and CI.
- `vllm`: vLLM's offline engine (`LLM(...)`, `SamplingParams`, `generate`); GPU boxes, needs
  `envs/vllm.yaml` (vLLM pins its own torch/transformers). Imported lazily.
- `openai`: any OpenAI-compatible `/v1/completions` endpoint (e.g. `vllm serve` on another
  node), stdlib HTTP only; the tokenizer is loaded here so callers can render chat templates.

Nothing loads until `load()` (or the first `complete()`), so a fully cached run never starts a
model.
"""

from __future__ import annotations

import json
import logging
import os
import time
import urllib.error
import urllib.request
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field

from distilldata.core.errors import InputError

log = logging.getLogger(__name__)


@dataclass
class GenerationSettings:
    """The model, its sampling, and engine knobs (which do not change what is generated)."""

    model: str = ""
    tokenizer: str | None = None
    max_model_len: int = 1280
    max_tokens: int = 64
    temperature: float = 0.1
    top_p: float = 0.95
    stop_tokens: list[str] = field(default_factory=lambda: ["<|endoftext|>"])
    seed: int = 42
    gpu_memory_utilization: float = 0.9
    generate_batch_size: int = 32
    device: str | None = None
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    engine_kwargs: dict = field(default_factory=dict)


def cut_at_stop(text: str, stops: Sequence[str]) -> str:
    """The text before the first stop string (what a server's `stop` does)."""
    cut = len(text)
    for stop in stops:
        if stop:
            at = text.find(stop)
            if at != -1:
                cut = min(cut, at)
    return text[:cut]


class Completer(ABC):
    """Loads an engine once, then completes batches of rendered prompts."""

    name = "?"

    def __init__(self, settings: GenerationSettings):
        self.settings = settings
        self.tokenizer = None
        self.loaded = False

    @abstractmethod
    def _load(self) -> None:
        """Load the engine and set self.tokenizer."""

    def load(self) -> None:
        if not self.loaded:
            started = time.monotonic()
            self._load()
            self.loaded = True
            log.info(
                "%s: loaded %s in %.1fs", self.name, self.settings.model, time.monotonic() - started
            )

    @abstractmethod
    def complete(self, prompts: list[str]) -> list[str]:
        """The generated text for each rendered prompt, in order (cut at the stop strings)."""

    @property
    def stops(self) -> list[str]:
        return [s for s in self.settings.stop_tokens if s]


class TransformersCompleter(Completer):
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


class VLLMCompleter(Completer):
    """vLLM's offline engine (documented API: `LLM(...)`, `SamplingParams`, `LLM.generate`)."""

    name = "vllm"

    def _load(self) -> None:
        try:
            from vllm import LLM, SamplingParams
        except ImportError as exc:
            raise InputError(
                "the vllm backend needs vLLM, which pins its own torch/transformers: create the "
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


class OpenAICompleter(Completer):
    """POST rendered prompts to an OpenAI-compatible `/completions` endpoint (stdlib only)."""

    name = "openai"
    retries = 3

    def _load(self) -> None:
        from transformers import AutoTokenizer

        s = self.settings
        if not s.base_url:
            raise InputError(
                "the openai backend needs a base URL (`base_url`, e.g. --base-url "
                "http://gpu-node:8000/v1)"
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


COMPLETERS = {
    "transformers": TransformersCompleter,
    "vllm": VLLMCompleter,
    "openai": OpenAICompleter,
}


def make_completer(name: str, settings: GenerationSettings) -> Completer:
    if name not in COMPLETERS:
        raise InputError(f"unknown LLM backend {name!r}; use one of {sorted(COMPLETERS)}")
    return COMPLETERS[name](settings)

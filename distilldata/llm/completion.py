"""Batch text completion behind one small interface, chosen by name: `transformers`, `vllm`,
`openai`. A `Completer` takes rendered prompts and returns the generated texts, in order; it
knows no pipeline's prompt (each pipeline renders its own with `completer.tokenizer`).

- `transformers`: `AutoModelForCausalLM.generate` on CPU or GPU, batches of prompts sorted by
  token length (left padding, so little padding and greedy output equal to one prompt at a
  time); optional 8-bit weights on GPU (bitsandbytes); small models and CI.
- `vllm`: vLLM's offline engine (`LLM(...)`, `SamplingParams`, `generate`); GPU boxes, needs
  `envs/vllm.yaml` (vLLM pins its own torch/transformers). Imported lazily.
- `openai`: any OpenAI-compatible `/v1/completions` endpoint (e.g. `vllm serve` on another
  node), stdlib HTTP only; the tokenizer is loaded here so callers can render chat templates.

Nothing loads until `load()` (or the first `complete()`), so a fully cached run never starts a
model. `complete(prompts, seed=...)` reseeds sampling for that call, so a caller that passes a
seed per cache group gets the same sampled texts when a killed run redoes the group.
"""

from __future__ import annotations

import json
import logging
import os
import time
import urllib.error
import urllib.request
from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field

from distilldata.core.errors import InputError
from distilldata.llm.engine import LazyEngine
from distilldata.llm.vllm_engine import load_vllm, shutdown_vllm

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
    load_in_8bit: bool = False  # transformers on GPU only (bitsandbytes)


def cut_at_stop(text: str, stops: Sequence[str]) -> str:
    """The text before the first stop string (what a server's `stop` does)."""
    cut = len(text)
    for stop in stops:
        if stop:
            at = text.find(stop)
            if at != -1:
                cut = min(cut, at)
    return text[:cut]


class Completer(LazyEngine):
    """Loads an engine once (on first use), then completes batches of rendered prompts."""

    @abstractmethod
    def complete(self, prompts: list[str], seed: int | None = None) -> list[str]:
        """The generated text for each rendered prompt, in order (cut at the stop strings);
        `seed` (optional) reseeds sampling for this call."""

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
        if s.load_in_8bit:
            model = AutoModelForCausalLM.from_pretrained(
                s.model,
                quantization_config=eight_bit_config(device),
                device_map="auto",
                trust_remote_code=True,
            )
        else:
            model = AutoModelForCausalLM.from_pretrained(
                s.model, dtype=dtype, trust_remote_code=True
            ).to(device)
        self.model = model.eval()
        self.device = device
        self.tokenizer = tokenizer
        self.stop_ids = self._stop_ids()
        torch.manual_seed(s.seed)

    def _stop_ids(self) -> list[int]:
        """Token ids that end generation: the model's EOS ids plus every stop string that is one
        token (e.g. `<|im_end|>`, the end of a ChatML turn), so no batch runs on past them."""
        eos = self.model.generation_config.eos_token_id
        ids = list(eos) if isinstance(eos, (list, tuple)) else ([] if eos is None else [eos])
        vocab = self.tokenizer.get_vocab()
        ids += [vocab[s] for s in self.stops if s in vocab]
        return list(dict.fromkeys(ids))

    @property
    def stops(self) -> list[str]:
        extra = [self.tokenizer.eos_token, self.tokenizer.pad_token]
        return [s for s in [*self.settings.stop_tokens, *extra] if s]

    def complete(self, prompts: list[str], seed: int | None = None) -> list[str]:
        import torch

        s = self.settings
        tok = self.tokenizer
        ids = tok(list(prompts), add_special_tokens=False)["input_ids"] if prompts else []
        # Sorting by token length keeps padding small; ties keep input order (deterministic).
        order = sorted(range(len(prompts)), key=lambda i: len(ids[i]))
        answers: list[str] = [""] * len(prompts)
        sampling = (
            {"do_sample": True, "temperature": s.temperature, "top_p": s.top_p}
            if s.temperature > 0
            else {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}
        )
        if seed is not None:
            torch.manual_seed(seed)
        step = max(1, s.generate_batch_size)
        for start in range(0, len(order), step):
            batch = order[start : start + step]
            enc = tok.pad(
                {"input_ids": [ids[i] for i in batch]}, padding=True, return_tensors="pt"
            ).to(self.device)
            with torch.inference_mode():
                out = self.model.generate(
                    **enc,
                    max_new_tokens=s.max_tokens,
                    pad_token_id=tok.pad_token_id,
                    eos_token_id=self.stop_ids or None,
                    **sampling,
                )
            new = out[:, enc["input_ids"].shape[1] :]
            for i, text in zip(
                batch, tok.batch_decode(new, skip_special_tokens=False), strict=True
            ):
                answers[i] = cut_at_stop(text, self.stops)
        return answers


def eight_bit_config(device: str):
    """bitsandbytes 8-bit weights (`load_in_8bit`), which exist only on CUDA GPUs."""
    if not device.startswith("cuda"):
        raise InputError(
            f"--teacher_8bit needs a CUDA GPU (bitsandbytes); this job runs on {device!r}: "
            "drop the flag on CPU"
        )
    try:
        import bitsandbytes  # noqa: F401
    except ImportError as exc:
        raise InputError(
            "--teacher_8bit needs the bitsandbytes package (`pip install bitsandbytes`), "
            "which is not installed"
        ) from exc
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(load_in_8bit=True)


class VLLMCompleter(Completer):
    """vLLM's offline engine (documented API: `LLM(...)`, `SamplingParams`, `LLM.generate`)."""

    name = "vllm"

    def _load(self) -> None:
        s = self.settings
        self.llm, self.sampling_class = load_vllm(s, max_model_len=s.max_model_len)
        self.sampling = self.sampling_params()
        self.tokenizer = self.llm.get_tokenizer()

    def sampling_params(self, seed: int | None = None):
        """`SamplingParams` of the settings; with `seed`, a per-request seed (vLLM's way to make
        one call's sampling reproducible)."""
        s = self.settings
        options = {"seed": seed} if seed is not None else {}
        return self.sampling_class(
            temperature=s.temperature,
            top_p=s.top_p,
            max_tokens=s.max_tokens,
            stop=self.stops or None,
            **options,
        )

    def complete(self, prompts: list[str], seed: int | None = None) -> list[str]:
        sampling = self.sampling if seed is None else self.sampling_params(seed)
        # Token ids, not text: a rendered chat template may already start with the BOS token
        # (Mistral's `<s>[INST]`), which vLLM would add a second time when it tokenizes text.
        ids = (
            self.tokenizer(list(prompts), add_special_tokens=False)["input_ids"] if prompts else []
        )
        outputs = self.llm.generate(
            [{"prompt_token_ids": x} for x in ids], sampling, use_tqdm=False
        )
        return [o.outputs[0].text for o in outputs]

    def close(self) -> None:
        if self.loaded:
            shutdown_vllm(self.llm)


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

    def complete(self, prompts: list[str], seed: int | None = None) -> list[str]:
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
                    "seed": s.seed if seed is None else seed,
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

"""vLLM's offline engine for the LLM layer's backends: the lazy import (vLLM pins its own
torch/transformers and lives in its own env) and one `LLM(...)` built from a backend's settings
(completion and token scoring both have `model, tokenizer, seed, gpu_memory_utilization,
device, engine_kwargs`)."""

from __future__ import annotations

from distilldata.core.errors import InputError


def import_vllm():
    """(LLM, SamplingParams), or a clear error saying where vLLM is installed."""
    try:
        from vllm import LLM, SamplingParams
    except ImportError as exc:
        raise InputError(
            "the vllm backend needs vLLM, which pins its own torch/transformers: create the "
            "env from envs/vllm.yaml (GPU) or `make test-vllm` (CPU smoke test)"
        ) from exc
    return LLM, SamplingParams


def engine_kwargs(
    model: str,
    *,
    tokenizer: str | None,
    seed: int,
    gpu_memory_utilization: float,
    device: str | None,
    extra: dict,
    **fixed,
) -> dict:
    """`LLM(...)` arguments: the model, `fixed` ones (e.g. max_model_len) unless `extra` (the
    config's engine_kwargs) sets them, and the GPU memory share except on CPU."""
    kwargs = {"model": model, "trust_remote_code": True, "seed": seed}
    kwargs.update({k: v for k, v in fixed.items() if v is not None and k not in extra})
    kwargs.update(extra)
    if tokenizer:
        kwargs["tokenizer"] = tokenizer
    if "gpu_memory_utilization" not in extra and device != "cpu":
        kwargs["gpu_memory_utilization"] = gpu_memory_utilization
    return kwargs


def shutdown_vllm(llm) -> None:
    """Stop an `LLM`'s engine-core process: left running, it can keep the job's process from
    exiting (measured: a finished CPU smoke run hung at exit until killed)."""
    core = getattr(getattr(llm, "llm_engine", None), "engine_core", None)
    if core is not None and hasattr(core, "shutdown"):
        core.shutdown()


def load_vllm(settings, **fixed):
    """(an `LLM` for the settings, vLLM's `SamplingParams` class); `fixed` as in
    `engine_kwargs` (e.g. max_model_len, dtype)."""
    llm_class, sampling_class = import_vllm()
    llm = llm_class(
        **engine_kwargs(
            settings.model,
            tokenizer=settings.tokenizer,
            seed=settings.seed,
            gpu_memory_utilization=settings.gpu_memory_utilization,
            device=settings.device,
            extra=settings.engine_kwargs,
            **fixed,
        )
    )
    return llm, sampling_class

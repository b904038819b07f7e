"""The flags the teacher-side rag CLIs share (`scripts/rag/rerank.py`, `scripts/rag/answer.py`
and the ScaleDown-compatible `prepare_dataset`), defined once so that their names, defaults
(ScaleDown's) and help agree. Only argparse here: `--help` stays fast."""

from __future__ import annotations

import argparse
import json

SCALEDOWN_RERANKER = "cross-encoder/ms-marco-MiniLM-L-6-v2"
SCALEDOWN_TEACHER = "mistralai/Mistral-7B-Instruct-v0.2"
TEACHER_FIELDS = {  # flag -> TeacherSettings field
    "teacher_backend": "backend",
    "teacher_model": "model",
    "prompt": "prompt",
    "decoding": "decoding",
    "temperature": "temperature",
    "top_p": "top_p",
    "max_new_tokens": "max_new_tokens",
    "max_prompt_tokens": "max_prompt_tokens",
    "num_documents": "num_documents",
    "seed": "seed",
    "batch_size": "batch_size",
    "teacher_8bit": "load_in_8bit",
    "base_url": "base_url",
    "api_key_env": "api_key_env",
    "engine_kwargs": "engine_kwargs",
}


def add_reranker_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--reranker_model",
        default=SCALEDOWN_RERANKER,
        help="Hub id, local folder or package:<module> (default: ScaleDown's)",
    )
    p.add_argument(
        "--reranker_kind",
        default="cross-encoder",
        choices=("cross-encoder", "bi-encoder"),
        help="pairs scored jointly, or cosine of embeddings (a stand-in for a cross-encoder)",
    )
    p.add_argument(
        "--activation",
        default="raw",
        choices=("raw", "model"),
        help="cross-encoder scores: raw logits (ScaleDown) or the model's activation (sigmoid)",
    )


def add_teacher_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--teacher_backend",
        default="transformers",
        choices=("transformers", "vllm", "openai", "none"),
        help="LLM engine (none: no answers, answer: null, for retrieval-only runs)",
    )
    p.add_argument(
        "--teacher_model",
        default=SCALEDOWN_TEACHER,
        help="Hub id or local model folder (default: ScaleDown's and the paper's)",
    )
    p.add_argument(
        "--prompt",
        default="scaledown",
        choices=("scaledown", "paper"),
        help="ScaleDown's [INST] prompt, or the OSCAR paper's (Fig. 14)",
    )
    p.add_argument(
        "--decoding",
        default="sample",
        choices=("greedy", "sample"),
        help="sampling (ScaleDown) or greedy (deterministic)",
    )
    p.add_argument("--temperature", type=float, default=0.7, help="sampling temperature")
    p.add_argument("--top_p", type=float, default=0.9, help="nucleus sampling probability")
    p.add_argument("--max_new_tokens", type=int, default=128, help="tokens per answer at most")
    p.add_argument(
        "--max_prompt_tokens",
        type=int,
        default=2048,
        help="prompt token budget: the last documents are dropped or cut to fit (0 = no limit)",
    )
    p.add_argument(
        "--num_documents", type=int, default=0, help="documents per prompt at most (0 = all)"
    )
    p.add_argument("--seed", type=int, default=42, help="sampling (and sample order) seed")
    p.add_argument("--batch_size", type=int, default=8, help="prompts per generate call")
    p.add_argument(
        "--teacher_8bit", action="store_true", help="8-bit weights (bitsandbytes; CUDA GPU only)"
    )
    p.add_argument("--base_url", default=None, help="openai backend: the /v1 endpoint URL")
    p.add_argument(
        "--api_key_env",
        default="OPENAI_API_KEY",
        help="openai backend: the environment variable holding the API key",
    )
    p.add_argument(
        "--engine_kwargs",
        type=json_object,
        default={},
        help="vllm backend: extra LLM(...) arguments as JSON, e.g. '{\"tensor_parallel_size\": 2}'",
    )


def json_object(text: str) -> dict:
    """argparse type of --engine_kwargs: a JSON object, else argparse's usage error."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise argparse.ArgumentTypeError(f"not JSON ({err}): {text!r}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"not a JSON object: {text!r}")
    return value


def teacher_options(args: argparse.Namespace) -> dict:
    """The `TeacherSettings` fields the teacher flags set."""
    return {field: getattr(args, flag) for flag, field in TEACHER_FIELDS.items()}

"""Smoke test of the `vllm` NLL scorer on CPU (the `make test-vllm` venv; not collected by pytest).

Builds a tiny Qwen2 offline (head_dim 64: vLLM's CPU attention rejects smaller heads), scores a
few Harmony rows with masks through `distilldata.llm.token_scores.VLLMTokenScorer` (LLM(...),
SamplingParams(max_tokens=1, prompt_logprobs=0 or prompt_logprob_start), generate on token-id
prompts) and checks the per-row mean NLL against the local transformers scorer (same weights,
float32). The engine starts with spawn, hence the __main__ guard.

  HF_HUB_OFFLINE=1 VLLM_CPU_KVCACHE_SPACE=1 VLLM_NO_USAGE_STATS=1 PYTHONPATH=. \\
      .venv-vllm/bin/python tests/smoke/vllm_nll.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tiny_models

ROWS = [
    "<|start|>user<|message|>What is the answer?<|end|>"
    "<|start|>assistant<|channel|>analysis<|message|>Think about 42.<|end|>"
    "<|start|>assistant<|channel|>final<|message|>The answer is 42.<|return|>",
    "<|start|>user<|message|>Where is Normandy?<|end|>"
    "<|start|>assistant<|channel|>final<|message|>Normandy is in France.<|return|>",
]


def sequences(tokenizer):
    import numpy as np

    from distilldata.llm.token_masks import target_mask, tokenize_with_offsets
    from distilldata.llm.token_scores import TokenSequence
    from distilldata.nll.masks import scored_text

    out = []
    for text, tok in zip(ROWS, tokenize_with_offsets(tokenizer, ROWS), strict=True):
        mask = target_mask(tok.offsets, scored_text(text, "assistant_all").spans)
        last = int(np.flatnonzero(mask)[-1])
        out.append(TokenSequence(tok.ids[: last + 1], mask[: last + 1]))
    return out


def main() -> None:
    from tiny_models import build_causal_lm

    from distilldata.llm.token_scores import TokenScoreSettings, make_token_scorer

    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        model = build_causal_lm(
            Path(tmp) / "qwen2", hidden_size=128, heads=2, kv_heads=2, head_dim=64
        )
        local = make_token_scorer("local", TokenScoreSettings(model=str(model), device="cpu"))
        local.load()
        seqs = sequences(local.tokenizer)
        expected = [s.nll_sum / s.count for s in local.score(seqs)]
        settings = TokenScoreSettings(
            model=str(model),
            device="cpu",
            dtype="float32",
            max_model_len=256,
            engine_kwargs={"enforce_eager": True},
        )
        vllm = make_token_scorer("vllm", settings)
        got = [s.nll_sum / s.count for s in vllm.score(seqs)]
        vllm.close()
        print("scorer:", vllm.describe())
        print("local:", expected, "vllm:", got)
        assert all(abs(a - b) < 1e-3 for a, b in zip(expected, got, strict=True)), (expected, got)
    print(f"vllm NLL smoke test OK in {time.monotonic() - started:.1f}s")


if __name__ == "__main__":
    main()

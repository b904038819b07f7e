"""Smoke test of the RAG teacher's `vllm` backend on CPU (`make test-vllm`; not in pytest).

Runs in the vLLM venv, on SmolLM2-135M-Instruct (the demo's teacher; `make test-vllm` builds
its folder with `snakemake resources/models/smollm2-135m-instruct/config.json` first, or pass
another model folder as the argument). Answers 8 SQuAD questions with 5 retrieved paragraphs
each through `distilldata.rag.teacher.answer_shard` with `--teacher_backend vllm` (token-id
prompts, SamplingParams with per-group seeds and stop tokens) and with `transformers`, greedy,
both in float32, and checks the shards' rows and that the two engines give the same answers for
most questions (near-tied logits may let their float32 kernels pick different tokens). The
engine starts with spawn, hence the __main__ guard.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # rag_teacher_fixtures
SMOLLM2 = HERE.parents[1] / "resources" / "models" / "smollm2-135m-instruct"


def answers(documents: Path, out: Path, model: Path, backend: str) -> list[str]:
    import pyarrow.parquet as pq

    from distilldata.rag.teacher import TeacherSettings, answer_shard

    settings = TeacherSettings(
        backend=backend,
        model=str(model),
        prompt="paper",
        decoding="greedy",
        max_new_tokens=24,
        max_prompt_tokens=1024,
        batch_size=8,
        device="cpu",
        engine_kwargs={"dtype": "float32", "enforce_eager": True} if backend == "vllm" else {},
    )
    stats = answer_shard(documents, out, settings, max_queries=8, group_size=4,
                         cache_root=out.parent / "cache")  # fmt: skip
    table = pq.read_table(out)
    assert table.num_rows == 8 and stats["answers_computed"] == 8, stats
    assert set(table.column("prompt_kind").to_pylist()) == {"paper"}
    print(f"{backend}: {stats['answers_per_second']} answers/s")
    return table.column("answer").to_pylist()


def main() -> None:
    from rag_teacher_fixtures import write_inputs

    from distilldata.rag.rerank import build_documents

    model = Path(sys.argv[1]) if len(sys.argv) > 1 else SMOLLM2
    if not (model / "config.json").is_file():
        sys.exit(f"no model folder at {model}: run `snakemake {SMOLLM2}/config.json` first")
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        inputs = write_inputs(root / "inputs")
        documents = root / "squad_en" / "documents.parquet"
        build_documents(inputs["queries"], inputs["hits"], inputs["corpus"], documents)
        by_vllm = answers(documents, root / "vllm" / "shard.parquet", model, "vllm")
        by_hf = answers(documents, root / "hf" / "shard.parquet", model, "transformers")
        same = sum(a == b for a, b in zip(by_vllm, by_hf, strict=True))
        print("vllm[0]:", repr(by_vllm[0]), "transformers[0]:", repr(by_hf[0]))
        assert all(by_vllm), f"empty vLLM answers: {by_vllm}"
        assert same >= 6, f"only {same}/8 greedy answers agree: {by_vllm} vs {by_hf}"
        print(f"greedy answers equal for {same}/8 questions")
    print(f"vllm rag teacher smoke test OK in {time.monotonic() - started:.1f}s")


if __name__ == "__main__":
    main()

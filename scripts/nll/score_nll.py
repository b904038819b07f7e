#!/usr/bin/env python
"""Completion-only NLL of one candidate-pool shard under a student model (one Parquet of scores
and a stats JSON: rows in = scored + flagged by reason + dropped).

Examples:
  python scripts/nll/score_nll.py \\
      --input results/sft/pools/glaive_toolcall/tool_use/part-00000.parquet \\
      --output scores.parquet --model resources/models/smollm2-135m-instruct --backend local \\
      --loss_mode assistant_all --max_length 1024 --batch_size 8 --max_records 16
  python scripts/nll/score_nll.py --input pool.parquet --output scores.parquet \\
      --model unsloth/gpt-oss-120b --backend vllm --max_length 8192 --cache_root cache/nll

Without --loss_mode each row's own `loss_mode` column decides. Rows that --earlier_shards (the
corpus's pool shards before this one) also sample are scored there, not here. Rows longer than
--max_length tokens are scored on their first --max_length tokens and flagged `truncated`.
With --cache_root the scores of every --group_size rows are cached, so a killed run redoes one
group at most.
"""

import argparse
import json

from distilldata.core.cli import run_main, script_parser, setup_logging


def parse_args() -> argparse.Namespace:
    p = script_parser(__doc__)
    p.add_argument("--input", required=True, help="pool shard (Parquet: id, text, loss_mode)")
    p.add_argument("--output", required=True, help="scores Parquet to write")
    p.add_argument("--stats_output", default=None, help="stats JSON (default: <output>.stats.json)")
    p.add_argument(
        "--model", required=True, help="student: Hub id, local folder or package:<module>/<path>"
    )
    p.add_argument("--tokenizer", default=None, help="tokenizer (default: the model's)")
    p.add_argument("--backend", default="local", choices=("local", "vllm"), help="scorer")
    p.add_argument(
        "--loss_mode",
        default=None,
        choices=("assistant_all", "assistant_last"),
        help="force one loss mode (default: each row's loss_mode column)",
    )
    p.add_argument(
        "--include_headers",
        action="store_true",
        help="also score each scored message's header and terminator",
    )
    p.add_argument("--max_length", type=int, default=4096, help="tokens scored per row at most")
    p.add_argument("--batch_size", type=int, default=8, help="rows per forward (packed/padded)")
    p.add_argument(
        "--batch_tokens", type=int, default=16384, help="tokens per forward (packed/padded)"
    )
    p.add_argument(
        "--batching",
        default="auto",
        choices=("auto", "prefix", "packed", "padded"),
        help="local: auto = prefix (KV reuse) on CPU, packed on GPU",
    )
    p.add_argument(
        "--dtype",
        default="auto",
        choices=("auto", "float32", "bfloat16", "float16"),
        help="weights (auto: float32 on CPU, bfloat16 on GPU)",
    )
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: cuda if any)")
    p.add_argument(
        "--logits_chunk", type=int, default=1024, help="positions per head + cross-entropy chunk"
    )
    p.add_argument("--attn_implementation", default=None, help="transformers attention (local)")
    p.add_argument("--max_records", type=int, default=0, help="only the first K rows (0: all)")
    p.add_argument("--group_size", type=int, default=256, help="rows per cache file")
    p.add_argument("--cache_root", default=None, help="group cache folder (default: no cache)")
    p.add_argument(
        "--cache_name", default=None, help="cache key of this shard (default: <pool>/<file stem>)"
    )
    p.add_argument("--pool", default=None, help="pool name (default: the input's folder name)")
    p.add_argument(
        "--earlier_shards",
        nargs="*",
        default=[],
        help="the corpus's pool shards before this one: rows they sample are scored there",
    )
    p.add_argument(
        "--ifd", action="store_true", help="also score the completion without its prompt (IFD)"
    )
    p.add_argument(
        "--gpu_memory_utilization", type=float, default=0.9, help="vllm: share of GPU memory"
    )
    p.add_argument(
        "--max_model_len", type=int, default=None, help="vllm: context (default: max_length)"
    )
    p.add_argument(
        "--start_offset",
        default="auto",
        choices=("auto", "off"),
        help="vllm: score from the first target on (prompt_logprob_start) where supported",
    )
    p.add_argument("--engine_kwargs", default="{}", help="vllm: extra LLM(...) arguments, JSON")
    p.add_argument("--seed", type=int, default=0, help="vllm engine seed")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    return p.parse_args()


def main() -> None:
    args = parse_args()
    setup_logging(args.log_level)
    from distilldata.core.errors import InputError
    from distilldata.core.store import check_output
    from distilldata.nll.score import make_settings, score_shard

    try:
        engine_kwargs = json.loads(args.engine_kwargs)
    except ValueError as exc:
        raise InputError(f"--engine_kwargs is not JSON ({exc}): {args.engine_kwargs!r}") from None

    stats_output = args.stats_output or args.output.removesuffix(".parquet") + ".stats.json"
    check_output(args.output, args.overwrite)
    check_output(stats_output, args.overwrite)
    settings = make_settings(
        args.model,
        tokenizer=args.tokenizer,
        backend=args.backend,
        loss_mode=args.loss_mode,
        include_headers=args.include_headers,
        max_length=args.max_length,
        max_records=args.max_records,
        group_size=args.group_size,
        ifd=args.ifd,
        device=args.device,
        dtype=args.dtype,
        batching=args.batching,
        batch_size=args.batch_size,
        batch_tokens=args.batch_tokens,
        logits_chunk=args.logits_chunk,
        attn_implementation=args.attn_implementation,
        max_model_len=args.max_model_len or args.max_length,
        gpu_memory_utilization=args.gpu_memory_utilization,
        start_offset=args.start_offset,
        seed=args.seed,
        engine_kwargs=engine_kwargs,
    )
    score_shard(
        args.input,
        args.output,
        stats_output,
        settings,
        cache_root=args.cache_root,
        cache_name=args.cache_name,
        pool=args.pool,
        earlier_shards=args.earlier_shards,
    )


if __name__ == "__main__":
    run_main(main)

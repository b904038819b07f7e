#!/usr/bin/env python
"""Teacher answers for one shard of the queries in documents.parquet (cached, resumable).

Example (shard 0 of 2, SmolLM2 on CPU, the paper's prompt, greedy):
  python scripts/rag/answer.py --documents results/rag/squad_en/documents.parquet \
      --output results/rag/squad_en/answers/shard0-of-2.parquet --shard 0/2 \
      --teacher_backend transformers --teacher_model resources/models/smollm2-135m-instruct \
      --prompt paper --decoding greedy --max_queries 64 --cache_root resources/rag/cache

ScaleDown's settings are the defaults: --prompt scaledown --decoding sample --temperature 0.7
--top_p 0.9 --max_new_tokens 128 --max_prompt_tokens 2048. A killed job, rerun, redoes at most
the group of queries it was in. --teacher_backend none writes no answers (answer: null).
"""

import argparse

from distilldata.core.cli import run_main, script_parser, setup_logging
from distilldata.rag.cli_flags import add_teacher_flags, teacher_options


def parse_args() -> argparse.Namespace:
    p = script_parser(__doc__)
    p.add_argument("--documents", required=True, help="documents Parquet (from rerank.py)")
    p.add_argument("--output", required=True, help="answers shard Parquet to write")
    p.add_argument("--shard", default="0/1", help="k/N: this job's shard (0-based) of N")
    add_teacher_flags(p)
    p.add_argument(
        "--max_queries",
        type=int,
        default=0,
        help="answer a deterministic sample of N queries (0 = all)",
    )
    p.add_argument("--group_size", type=int, default=64, help="queries per cache file")
    p.add_argument("--cache_root", required=True, help="folder of the per-group answer cache")
    return p.parse_args()


def main() -> None:
    args = parse_args()
    setup_logging(args.log_level)
    from distilldata.llm.cache import parse_shard
    from distilldata.rag.teacher import TeacherSettings, answer_shard

    shard, shards = parse_shard(args.shard)
    settings = TeacherSettings(**teacher_options(args))
    answer_shard(
        args.documents,
        args.output,
        settings,
        shard=shard,
        shards=shards,
        max_queries=args.max_queries,
        group_size=args.group_size,
        cache_root=args.cache_root,
    )


if __name__ == "__main__":
    run_main(main)

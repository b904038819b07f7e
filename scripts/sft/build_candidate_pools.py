#!/usr/bin/env python
"""Candidate pools for GPU (Modal) NLL scoring from deduplicated shards + pools_manifest.json.

The workflow passes the shards it declared (`--shards`); by hand, `--in_dir` reads every
`*/part-*.parquet` under a folder (the seed's flag).

Examples:
  python scripts/sft/build_candidate_pools.py --shards \\
      results/sft/deduped/math_v2/low/part-00000.parquet \\
      --out_dir results/sft/pools/math_v2
  python scripts/sft/build_candidate_pools.py --in_dir results/sft/deduped/math_v2 \\
      --out_dir results/sft/pools/math_v2
"""

import argparse

from distilldata.core.cli import run_main, script_parser, setup_logging


def parse_args() -> argparse.Namespace:
    p = script_parser(__doc__)
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--shards", nargs="+", help="deduplicated Parquet shards (only these)")
    source.add_argument("--in_dir", help="folder of */part-*.parquet shards (all of them)")
    p.add_argument("--out_dir", required=True, help="pool folder to write (replaced whole)")
    p.add_argument(
        "--high_correctness",
        type=float,
        default=0.75,
        help="meta_correctness at or above this -> high_correctness pool",
    )
    p.add_argument(
        "--low_correctness",
        type=float,
        default=0.25,
        help="meta_correctness below this -> low_correctness pool",
    )
    p.add_argument(
        "--long_context_tokens",
        type=int,
        default=8192,
        help="approximate tokens at or above this -> long_context pool",
    )
    p.add_argument("--rows_per_file", type=int, default=100_000, help="rows per pool file")
    return p.parse_args()


def main() -> None:
    args = parse_args()
    setup_logging(args.log_level)
    from pathlib import Path

    from distilldata.sft.pools import PoolConfig, build_pools

    shards = args.shards or sorted(Path(args.in_dir).glob("*/part-*.parquet"))
    config = PoolConfig(
        args.high_correctness, args.low_correctness, args.long_context_tokens, args.rows_per_file
    )
    build_pools(shards, args.out_dir, config)


if __name__ == "__main__":
    run_main(main)

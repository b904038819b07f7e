#!/usr/bin/env python
"""Candidate pools for GPU (Modal) NLL scoring from deduplicated shards + pools_manifest.json.

Example:
  python scripts/build_candidate_pools.py --in_dir results/nemotron/deduped/math_v2 \\
      --out_dir results/nemotron/pools/math_v2
"""

import argparse

from distilldata.cli import run_main, script_parser, setup_logging


def parse_args() -> argparse.Namespace:
    p = script_parser(__doc__)
    p.add_argument("--in_dir", required=True, help="folder of */part-*.parquet shards")
    p.add_argument("--out_dir", required=True)
    p.add_argument("--high_correctness", type=float, default=0.75)
    p.add_argument("--low_correctness", type=float, default=0.25)
    p.add_argument("--long_context_tokens", type=int, default=8192)
    p.add_argument("--rows_per_file", type=int, default=100_000)
    return p.parse_args()


def main() -> None:
    args = parse_args()
    setup_logging(args.log_level)
    from pathlib import Path

    from distilldata.pools import PoolConfig, build_pools

    shards = sorted(Path(args.in_dir).glob("*/part-*.parquet"))
    config = PoolConfig(
        args.high_correctness, args.low_correctness, args.long_context_tokens, args.rows_per_file
    )
    build_pools(shards, args.out_dir, config)


if __name__ == "__main__":
    run_main(main)

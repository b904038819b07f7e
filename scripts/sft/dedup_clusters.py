#!/usr/bin/env python
"""Dedup stage 3: union-find over all edges; survivor = first in (corpus order, quality, id);
cluster table + stats.

Example:
  python scripts/sft/dedup_clusters.py --output clusters.parquet --stats clusters.json b0.parquet
"""

import argparse

from distilldata.core.cli import run_main, script_parser, setup_logging


def parse_args() -> argparse.Namespace:
    p = script_parser(__doc__)
    p.add_argument("edges", nargs="+", help="edge Parquet files (stage 2)")
    p.add_argument("--output", required=True, help="cluster table Parquet to write")
    p.add_argument("--stats", required=True, help="cluster stats JSON to write")
    return p.parse_args()


def main() -> None:
    args = parse_args()
    setup_logging(args.log_level)
    from distilldata.sft.dedup import build_clusters

    build_clusters(args.edges, args.output, args.stats)


if __name__ == "__main__":
    run_main(main)

#!/usr/bin/env python
"""Dedup stage 3: union-find over all edges; survivor = lowest id; cluster table + stats.

Example:
  python scripts/dedup_clusters.py --output clusters.parquet --stats clusters.json b0.parquet
"""

import argparse

from distilldata.cli import LOG_LEVELS, run_main, setup_logging


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("edges", nargs="+", help="edge Parquet files (stage 2)")
    p.add_argument("--output", required=True)
    p.add_argument("--stats", required=True)
    p.add_argument("--log-level", default="INFO", choices=LOG_LEVELS)
    return p.parse_args()


def main() -> None:
    args = parse_args()
    setup_logging(args.log_level)
    from distilldata.dedup import build_clusters

    build_clusters(args.edges, args.output, args.stats)


if __name__ == "__main__":
    run_main(main)

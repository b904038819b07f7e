#!/usr/bin/env python
"""Dedup stage 4: add dup_cluster_id / quality_is_duplicate to one shard, drop duplicates.

Example:
  python scripts/sft/dedup_filter.py --input normalized/part-00000.parquet \\
      --clusters clusters.parquet \\
      --output deduped/part-00000.parquet --stats deduped/part-00000.stats.json
"""

import argparse

from distilldata.core.cli import run_main, script_parser, setup_logging


def parse_args() -> argparse.Namespace:
    p = script_parser(__doc__)
    p.add_argument("--input", required=True, help="normalized Parquet shard")
    p.add_argument("--clusters", required=True, help="cluster table (dedup_clusters.py)")
    p.add_argument("--output", required=True, help="deduplicated Parquet shard to write")
    p.add_argument("--stats", required=True, help="stats JSON to write (rows in/out/dropped)")
    p.add_argument(
        "--corpus",
        default="",
        help="dataset name given to dedup_signatures.py for this shard",
    )
    p.add_argument(
        "--near_duplicates",
        default="tag",
        choices=["tag", "drop", "off"],
        help="near duplicates: tag them (quality_is_duplicate), drop them, or ignore them",
    )
    p.add_argument("--keep_exact", action="store_true", help="tag exact duplicates, keep them")
    return p.parse_args()


def main() -> None:
    args = parse_args()
    setup_logging(args.log_level)
    from distilldata.sft.dedup import DedupConfig, filter_shard

    config = DedupConfig(near_duplicates=args.near_duplicates, drop_exact=not args.keep_exact)
    filter_shard(args.input, args.clusters, args.output, args.stats, config, corpus=args.corpus)


if __name__ == "__main__":
    run_main(main)

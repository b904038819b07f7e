#!/usr/bin/env python
"""Merge the shard files of add_span_relevance.py --shard into `<dataset>_with_relevance`.

Every shard must name the same labeler (in its Parquet metadata, or its `.json` sidecar) and
the shards must cover every row once; both are checked before anything is written.

Example:
  python scripts/provence/merge_relevance.py --dataset-path results/provence/base/squad_en \
      --shards shard0.parquet shard1.parquet \
      --output-path results/provence/base/squad_en_with_relevance --overwrite
"""

import argparse

from distilldata.core.cli import run_main, script_parser, setup_logging


def parse_args() -> argparse.Namespace:
    p = script_parser(__doc__)
    p.add_argument("--dataset-path", required=True, help="the dataset the shards were made from")
    p.add_argument("--shards", nargs="+", required=True, help="shard Parquet files (all of them)")
    p.add_argument("--output-path", required=True, help="the merged dataset folder to write")
    p.add_argument(
        "--debug-limit", type=int, default=None, help="the shards were made with --debug"
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    return p.parse_args()


def main() -> None:
    args = parse_args()
    setup_logging(args.log_level)
    from distilldata.provence.relevance import merge_relevance

    merge_relevance(
        args.dataset_path,
        args.shards,
        args.output_path,
        overwrite=args.overwrite,
        debug_limit=args.debug_limit,
    )


if __name__ == "__main__":
    run_main(main)

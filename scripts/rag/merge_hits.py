#!/usr/bin/env python
"""Merge the search shards of one (dataset, retriever) into its hits: per query, the top-k over
all corpus parts (score descending, ties by corpus order), in queries-file order.

Example:
  python scripts/rag/merge_hits.py --shards search/batch0-part00000.parquet \\
      search/batch0-part00001.parquet --queries queries/squad_en.parquet --query_batches 1 \\
      --top_k_retrieval 20 --output hits/squad_en/splade.parquet
"""

import argparse

from distilldata.core.cli import run_main, script_parser, setup_logging


def parse_args() -> argparse.Namespace:
    p = script_parser(__doc__)
    p.add_argument(
        "--shards", nargs="+", required=True, help="search shards, batch-major (all parts of b0..)"
    )
    p.add_argument("--queries", required=True, help="the queries Parquet searched")
    p.add_argument("--query_batches", type=int, default=1, help="number of query batches")
    p.add_argument("--top_k_retrieval", type=int, default=20, help="hits per query")
    p.add_argument("--output", required=True, help="hits Parquet to write")
    return p.parse_args()


def main() -> None:
    args = parse_args()
    setup_logging(args.log_level)
    from distilldata.rag.retrieval import merge_hits

    merge_hits(args.shards, args.queries, args.query_batches, args.top_k_retrieval, args.output)


if __name__ == "__main__":
    run_main(main)

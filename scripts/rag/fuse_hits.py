#!/usr/bin/env python
"""Hybrid retrieval: reciprocal-rank fusion of several retrievers' hits for one dataset.

Example:
  python scripts/rag/fuse_hits.py --hits hits/squad_en/splade.parquet hits/squad_en/bm25.parquet \\
      --corpus corpus/part-00000.parquet --top_k_retrieval 20 --rrf_k 60 \\
      --output hits/squad_en/hybrid.parquet
"""

import argparse

from distilldata.core.cli import run_main, script_parser, setup_logging


def parse_args() -> argparse.Namespace:
    p = script_parser(__doc__)
    p.add_argument("--hits", nargs="+", required=True, help="hits Parquets to fuse")
    p.add_argument("--corpus", nargs="+", required=True, help="corpus parts (tie order)")
    p.add_argument("--top_k_retrieval", type=int, default=20, help="hits per query")
    p.add_argument("--rrf_k", type=int, default=60, help="RRF constant k in 1/(k + rank)")
    p.add_argument("--output", required=True, help="hits Parquet to write")
    return p.parse_args()


def main() -> None:
    args = parse_args()
    setup_logging(args.log_level)
    from distilldata.rag.retrieval import fuse_hits

    fuse_hits(args.hits, args.corpus, args.top_k_retrieval, args.output, args.rrf_k)


if __name__ == "__main__":
    run_main(main)

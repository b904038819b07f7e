#!/usr/bin/env python
"""Assemble train_data.json (the seed's format) and its provenance Parquet from the answer shards.

Example:
  python scripts/rag/assemble.py --documents results/rag/squad_en/documents.parquet \
      --answers results/rag/squad_en/answers/shard0-of-2.parquet \
                results/rag/squad_en/answers/shard1-of-2.parquet \
      --output_file results/rag/squad_en/train_data.json \
      --provenance results/rag/squad_en/train_data.parquet \
      --stats results/rag/squad_en/stats.json

train_data.json: [{"query", "documents": [text, ...], "answer", "reranking_scores"?}, ...]
(reranking_scores only when reranking ran). Every shard of the answer run must be given.
"""

import argparse

from distilldata.core.cli import run_main, script_parser, setup_logging


def parse_args() -> argparse.Namespace:
    p = script_parser(__doc__)
    p.add_argument("--documents", required=True, help="documents Parquet (from rerank.py)")
    p.add_argument(
        "--answers", required=True, nargs="+", help="every answers shard Parquet (answer.py)"
    )
    p.add_argument("--output_file", required=True, help="train_data.json to write")
    p.add_argument("--provenance", required=True, help="provenance Parquet to write")
    p.add_argument("--stats", required=True, help="stats JSON to write (rows in/out/dropped)")
    return p.parse_args()


def main() -> None:
    args = parse_args()
    setup_logging(args.log_level)
    from distilldata.rag.output import assemble

    assemble(args.documents, args.answers, args.output_file, args.provenance, args.stats)


if __name__ == "__main__":
    run_main(main)

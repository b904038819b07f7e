#!/usr/bin/env python
"""Attach each query's retrieved chunks (documents.parquet), optionally reranked and cut.

Example (the workflow's documents step; ScaleDown's --enable_reranking --top_k_reranking 5):
  python scripts/rag/rerank.py --queries results/rag/queries/squad_en.parquet \
      --hits results/rag/hits/squad_en/splade.parquet \
      --corpus results/rag/corpus/squad_en/part-00000.parquet \
      --output results/rag/squad_en/documents.parquet \
      --enable_reranking --reranker_model cross-encoder/ms-marco-MiniLM-L-6-v2 \
      --reranker_kind cross-encoder --activation raw --top_k_reranking 5

Without --enable_reranking the documents are only attached (reranking_scores is null), as
ScaleDown writes no reranking_scores then.
"""

import argparse

from distilldata.core.cli import run_main, script_parser, setup_logging
from distilldata.rag.cli_flags import add_reranker_flags


def parse_args() -> argparse.Namespace:
    p = script_parser(__doc__)
    p.add_argument("--queries", required=True, help="queries Parquet (qid, query, ...)")
    p.add_argument("--hits", required=True, help="hits Parquet (qid, chunk_ids, scores)")
    p.add_argument(
        "--corpus", required=True, nargs="+", help="every corpus part Parquet the hits came from"
    )
    p.add_argument("--output", required=True, help="documents Parquet to write")
    p.add_argument(
        "--enable_reranking", action="store_true", help="score every (query, document) pair"
    )
    add_reranker_flags(p)
    p.add_argument(
        "--top_k_reranking",
        type=int,
        default=0,
        help="keep the K best documents by reranking score, sorted (0 = keep all, unsorted)",
    )
    p.add_argument("--batch_size", type=int, default=16, help="pairs per forward pass")
    p.add_argument("--max_length", type=int, default=512, help="tokens per (query, document) pair")
    p.add_argument(
        "--with_title",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="score '<title> <text>' instead of the text alone (ScaleDown: the text alone)",
    )
    return p.parse_args()


def main() -> None:
    args = parse_args()
    setup_logging(args.log_level)
    from distilldata.rag.rerank import build_documents

    build_documents(
        args.queries,
        args.hits,
        args.corpus,
        args.output,
        enable_reranking=args.enable_reranking,
        reranker_model=args.reranker_model,
        reranker_kind=args.reranker_kind,
        top_k_reranking=args.top_k_reranking,
        activation=args.activation,
        batch_size=args.batch_size,
        max_length=args.max_length,
        with_title=args.with_title,
    )


if __name__ == "__main__":
    run_main(main)

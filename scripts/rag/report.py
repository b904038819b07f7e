#!/usr/bin/env python
"""The rag quality report: retrieval accuracy@k / gold recall@k per retriever and after rerank,
teacher-answer token F1 / exact match, and a plot.

Example:
  python scripts/rag/report.py --queries results/rag/queries/squad_en.parquet \
      --corpus results/rag/corpus/squad_en/part-00000.parquet \
      --hits splade=results/rag/hits/squad_en/splade.parquet \
             bm25=results/rag/hits/squad_en/bm25.parquet \
      --documents results/rag/squad_en/documents.parquet \
      --provenance results/rag/squad_en/train_data.parquet \
      --output_markdown results/rag/squad_en/report.md \
      --output_json results/rag/squad_en/report.json --output_plot results/rag/squad_en/report.png
"""

import argparse

from distilldata.core.cli import run_main, script_parser, setup_logging


def parse_args() -> argparse.Namespace:
    p = script_parser(__doc__)
    p.add_argument("--queries", required=True, help="queries Parquet (answers, gold, lang)")
    p.add_argument("--corpus", required=True, nargs="+", help="every corpus part Parquet")
    p.add_argument(
        "--hits", required=True, nargs="+", help="NAME=PATH per retriever's hits Parquet"
    )
    p.add_argument("--documents", required=True, help="documents Parquet (after rerank)")
    p.add_argument("--provenance", default=None, help="train_data.parquet (teacher answers)")
    p.add_argument("--output_markdown", required=True, help="report Markdown to write")
    p.add_argument("--output_json", required=True, help="report JSON to write")
    p.add_argument("--output_plot", required=True, help="accuracy@k plot PNG to write")
    return p.parse_args()


def main() -> None:
    args = parse_args()
    setup_logging(args.log_level)
    from distilldata.rag.report import parse_named, write_report

    write_report(
        args.queries,
        args.corpus,
        parse_named(args.hits),
        args.documents,
        args.provenance,
        args.output_markdown,
        args.output_json,
        args.output_plot,
    )


if __name__ == "__main__":
    run_main(main)

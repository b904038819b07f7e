#!/usr/bin/env python
"""Search one query batch against one index (a corpus part, or the whole corpus for BM25):
the batch's top-k per query with the corpus position (part, row) of each hit.

Example:
  python scripts/rag/search.py --kind splade --model package:cognition/model \\
      --index index/splade/part-00000.npz --corpus corpus/part-00000.parquet --part_numbers 0 \\
      --queries queries/squad_en.parquet --batch 0/4 --top_k_retrieval 20 \\
      --output search/batch0-part00000.parquet
"""

import argparse

from distilldata.core.cli import run_main, script_parser, setup_logging


def parse_args() -> argparse.Namespace:
    from distilldata.rag.retrieval import add_retriever_flags

    p = script_parser(__doc__)
    p.add_argument("--index", required=True, help="the index (build_index.py)")
    p.add_argument("--corpus", nargs="+", required=True, help="the part(s) the index covers")
    p.add_argument("--part_numbers", nargs="+", type=int, required=True, help="their part numbers")
    p.add_argument("--queries", required=True, help="queries Parquet")
    p.add_argument("--batch", default="0/1", help="b/N: the b-th of N query batches")
    p.add_argument("--top_k_retrieval", type=int, default=20, help="hits per query")
    p.add_argument("--output", required=True, help="search shard Parquet to write")
    add_retriever_flags(p)
    return p.parse_args()


def main() -> None:
    args = parse_args()
    setup_logging(args.log_level)
    from distilldata.core.errors import InputError
    from distilldata.rag.retrieval import retriever_from_flags, search_shard

    if len(args.part_numbers) != len(args.corpus):
        raise InputError("--part_numbers needs one number per --corpus part")
    search_shard(
        retriever_from_flags(args),
        args.index,
        args.queries,
        args.batch,
        args.corpus,
        args.part_numbers,
        args.top_k_retrieval,
        args.output,
    )


if __name__ == "__main__":
    run_main(main)

#!/usr/bin/env python
"""Build a retrieval index: SPLADE (sparse inverted .npz) or dense (.npy) for one corpus part,
or BM25 (a bm25s folder) over all parts of a corpus.

Example:
  python scripts/rag/build_index.py --kind splade --model package:cognition/model \\
      --corpus corpus/part-00000.parquet --output index/splade/part-00000.npz
"""

import argparse

from distilldata.core.cli import run_main, script_parser, setup_logging


def parse_args() -> argparse.Namespace:
    from distilldata.rag.retrieval import add_retriever_flags

    p = script_parser(__doc__)
    p.add_argument("--corpus", nargs="+", required=True, help="corpus part Parquet(s), in order")
    p.add_argument("--output", required=True, help="index file (or folder, bm25) to write")
    add_retriever_flags(p)
    return p.parse_args()


def main() -> None:
    args = parse_args()
    setup_logging(args.log_level)
    from distilldata.rag.retrieval import build_index, retriever_from_flags

    build_index(retriever_from_flags(args), args.corpus, args.output)


if __name__ == "__main__":
    run_main(main)

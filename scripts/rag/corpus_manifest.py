#!/usr/bin/env python
"""Totals over the parts of a corpus, and the cross-part check: no document id in two parts.

Example:
  python scripts/rag/corpus_manifest.py --parts corpus/part-*.parquet \\
      --stats corpus/part-*.stats.json --output corpus/manifest.json
"""

import argparse

from distilldata.core.cli import run_main, script_parser, setup_logging


def parse_args() -> argparse.Namespace:
    p = script_parser(__doc__)
    p.add_argument("--parts", nargs="+", required=True, help="the corpus part Parquets, in order")
    p.add_argument("--stats", nargs="+", required=True, help="their stats JSONs, same order")
    p.add_argument("--output", required=True, help="manifest JSON to write")
    return p.parse_args()


def main() -> None:
    args = parse_args()
    setup_logging(args.log_level)
    from distilldata.rag.corpus_parts import corpus_manifest

    corpus_manifest(args.parts, args.stats, args.output)


if __name__ == "__main__":
    run_main(main)

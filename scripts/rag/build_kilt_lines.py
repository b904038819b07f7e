#!/usr/bin/env python
"""Write KILT-shaped knowledge-source lines (kilt_knowledgesource.json layout, one article per
line) from vendored Wikipedia text: a SQuAD-format file, or wiki_demo.txt with a titles TSV.

Example:
  python scripts/rag/build_kilt_lines.py --kind wiki_demo \\
      --input data/rag/llamafactory/wiki_demo.txt \\
      --titles data/rag/llamafactory/wiki_demo_titles.tsv --output resources/rag/kilt/wiki.jsonl
"""

import argparse

from distilldata.core.cli import run_main, script_parser, setup_logging


def parse_args() -> argparse.Namespace:
    p = script_parser(__doc__)
    p.add_argument("--kind", required=True, choices=["squad", "wiki_demo"], help="source kind")
    p.add_argument("--input", required=True, help="SQuAD-format JSON or wiki_demo.txt")
    p.add_argument("--titles", default=None, help="wiki_demo: '<line number>\\t<title>' TSV")
    p.add_argument("--output", required=True, help="KILT-shaped JSONL to write")
    return p.parse_args()


def main() -> None:
    args = parse_args()
    setup_logging(args.log_level)
    from distilldata.rag.kilt import write_kilt_lines

    write_kilt_lines(args.kind, args.input, args.output, args.titles)


if __name__ == "__main__":
    run_main(main)

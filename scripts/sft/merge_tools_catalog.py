#!/usr/bin/env python
"""Merge the per-shard tools catalogs of a dataset into one `source_tools_id -> tools` JSON.

Example:
  python scripts/sft/merge_tools_catalog.py \\
      --output results/sft/normalized/x/tools_catalog.json \\
      results/sft/normalized/x/train/part-00000.tools.jsonl
"""

import argparse

from distilldata.core.cli import run_main, script_parser, setup_logging


def parse_args() -> argparse.Namespace:
    p = script_parser(__doc__)
    p.add_argument("parts", nargs="+", help="*.tools.jsonl files written by normalize_dataset.py")
    p.add_argument("--output", required=True, help="tools_catalog.json to write")
    return p.parse_args()


def main() -> None:
    args = parse_args()
    setup_logging(args.log_level)
    from distilldata.sft.normalize import merge_tools_catalogs

    merge_tools_catalogs(args.parts, args.output)


if __name__ == "__main__":
    run_main(main)

#!/usr/bin/env python
"""Inventory (rows, columns/types) and metadata coverage of source datasets, via DuckDB SQL.

Example:
  python scripts/sft/build_inventory.py \\
      --source agentic_v1:tool_calling:data/nemotron/agentic.jsonl \\
      --json results/sft/inventory.json --markdown results/sft/metadata_coverage.md
"""

import argparse

from distilldata.core.cli import run_main, script_parser, setup_logging


def parse_args() -> argparse.Namespace:
    p = script_parser(__doc__)
    p.add_argument(
        "--source",
        action="append",
        required=True,
        help="DATASET:SPLIT:FILE (repeatable; files of one split are read together)",
    )
    p.add_argument("--json", required=True, help="inventory.json to write")
    p.add_argument("--markdown", required=True, help="metadata_coverage.md to write")
    p.add_argument("--threads", type=int, default=1, help="DuckDB threads")
    return p.parse_args()


def main() -> None:
    args = parse_args()
    setup_logging(args.log_level)
    from pathlib import Path

    from distilldata.core.errors import InputError
    from distilldata.sft.inventory import write_inventory

    datasets: dict = {}
    for source in args.source:
        try:
            dataset, split, path = source.split(":", 2)
        except ValueError:
            raise InputError(f"--source {source!r}: expected DATASET:SPLIT:FILE") from None
        datasets.setdefault(dataset, {}).setdefault(split, []).append(Path(path))
    write_inventory(datasets, args.json, args.markdown, args.threads)


if __name__ == "__main__":
    run_main(main)

#!/usr/bin/env python
"""Drop train rows whose texts repeat earlier kept rows more than N times; one freq{N}/ per N.

Example:
  python scripts/provence/frequency_filter.py --dataset results/provence/base/squad_en \
      --threshold 1 --threshold 2 --output-dir results/provence/freq/squad_en
"""

import argparse

from distilldata.core.cli import run_main, script_parser, setup_logging


def parse_args() -> argparse.Namespace:
    p = script_parser(__doc__)
    p.add_argument("--dataset", required=True, help="save_to_disk folder (or Hub id) to filter")
    p.add_argument(
        "--threshold",
        dest="thresholds",
        type=int,
        action="append",
        help="allowed duplicate texts per row; repeatable (default: 1 2 3)",
    )
    out = p.add_mutually_exclusive_group(required=True)
    out.add_argument(
        "--output-dir", help="write <dir>/freq{N}/ per threshold and <dir>/stats.json (seed layout)"
    )
    out.add_argument(
        "--output",
        nargs="+",
        help="the variants' folders, one per --threshold in the same order (with --stats)",
    )
    p.add_argument("--stats", default=None, help="stats.json path (required with --output)")
    p.add_argument("--debug-limit", type=int, default=None, help="only the first N train rows")
    p.add_argument("--id-column", default="id", help="column with unique row ids")
    p.add_argument("--texts-column", default="texts", help="column with the list of texts")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    args = p.parse_args()
    args.thresholds = args.thresholds or [1, 2, 3]
    if args.output and (len(args.output) != len(args.thresholds) or not args.stats):
        p.error("--output needs one folder per --threshold, and --stats")
    return args


def main() -> None:
    args = parse_args()
    setup_logging(args.log_level)
    from distilldata.provence.frequency import frequency_filter, variant_paths

    if args.output_dir:
        variants, stats = variant_paths(args.output_dir, args.thresholds)
    else:
        variants, stats = dict(zip(args.thresholds, args.output, strict=True)), args.stats
    frequency_filter(
        args.dataset,
        variants,
        stats,
        debug_limit=args.debug_limit,
        id_column=args.id_column,
        texts_column=args.texts_column,
        overwrite=args.overwrite,
    )


if __name__ == "__main__":
    run_main(main)

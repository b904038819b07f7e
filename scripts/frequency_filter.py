#!/usr/bin/env python
"""Drop train rows whose texts repeat earlier kept rows more than N times; one freq{N}/ per N.

Example:
  python scripts/frequency_filter.py --dataset results/provence/base/squad_en \
      --threshold 1 --threshold 2 --output-dir results/provence/freq/squad_en
"""

import argparse

from distilldata.cli import run_main, script_parser, setup_logging


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
    p.add_argument("--output-dir", required=True)
    p.add_argument("--debug-limit", type=int, default=None, help="only the first N train rows")
    p.add_argument("--id-column", default="id")
    p.add_argument("--texts-column", default="texts")
    p.add_argument("--overwrite", action="store_true")
    return p.parse_args()


def main() -> None:
    args = parse_args()
    setup_logging(args.log_level)
    from distilldata.frequency import frequency_filter

    frequency_filter(
        args.dataset,
        args.output_dir,
        thresholds=args.thresholds,
        debug_limit=args.debug_limit,
        id_column=args.id_column,
        texts_column=args.texts_column,
        overwrite=args.overwrite,
    )


if __name__ == "__main__":
    run_main(main)

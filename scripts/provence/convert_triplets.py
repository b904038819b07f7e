#!/usr/bin/env python
"""Convert a sentence-transformers triplet dataset to the Provence format (base/<slug>).

Example:
  python scripts/provence/convert_triplets.py --dataset tomaarsen/natural-questions-hard-negatives \
      --subset triplet-5 --lang en --output-root results/provence/base --overwrite
"""

import argparse
import os
from pathlib import Path

from distilldata.core.cli import run_main, script_parser, setup_logging


def parse_args() -> argparse.Namespace:
    p = script_parser(__doc__)
    p.add_argument(
        "--dataset",
        required=True,
        help="Hub id, local save_to_disk folder, .jsonl or .parquet file",
    )
    p.add_argument("--subset", default=None, help="Hub subset/config name")
    p.add_argument("--lang", default="en", help="sentence splitter: en (Punkt languages), ja, ...")
    p.add_argument(
        "--sample-size",
        type=int,
        default=None,
        help="shuffle each split with --seed and keep N rows",
    )
    p.add_argument(
        "--output-root",
        default="results/provence/base",
        help="the dataset goes to <output-root>/<slug> (seed layout)",
    )
    p.add_argument(
        "--output", default=None, help="the dataset folder itself (instead of --output-root/slug)"
    )
    p.add_argument(
        "--slug",
        default=None,
        help="id prefix and output folder name (default: the seed's slug of --dataset); with "
        "--output it is the folder's name",
    )
    p.add_argument("--seed", type=int, default=42, help="seed for sampling and carve-outs")
    p.add_argument(
        "--num-proc", type=int, default=os.cpu_count() or 1, help="processes for sentence splitting"
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    args = p.parse_args()
    if args.output and args.slug and Path(args.output).name != args.slug:
        p.error(f"--slug {args.slug} differs from the --output folder's name")
    return args


def main() -> None:
    args = parse_args()
    setup_logging(args.log_level)
    from distilldata.provence.convert import convert

    output = Path(args.output) if args.output else None
    convert(
        args.dataset,
        output.parent if output else args.output_root,
        lang=args.lang,
        subset=args.subset,
        slug=output.name if output else args.slug,
        sample_size=args.sample_size,
        seed=args.seed,
        overwrite=args.overwrite,
        num_proc=args.num_proc,
    )


if __name__ == "__main__":
    run_main(main)

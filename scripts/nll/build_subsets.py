#!/usr/bin/env python
"""One selection subset (anchor, restoration, learning, challenge, ...) from the scored corpora:
rows whose percentile_within_split lies in (min, max] with the required correctness (and IFD at
most --max_ifd when the scores carry IFD), written as part-NNNNN.parquet + manifest.json.

Example:
  python scripts/nll/build_subsets.py --subset anchor --min_percentile 0 --max_percentile 0.25 \\
      --correctness high --null_correctness exclude --corpora glaive_toolcall \\
      --scored results/nll/scored/glaive_toolcall.parquet \\
      --pools results/sft/pools/glaive_toolcall --output results/nll/subsets/anchor
"""

import argparse

from distilldata.core.cli import run_main, script_parser, setup_logging


def parse_args() -> argparse.Namespace:
    p = script_parser(__doc__)
    p.add_argument("--subset", required=True, help="subset name (written to nll_subset)")
    p.add_argument("--min_percentile", type=float, default=0.0, help="band start (exclusive)")
    p.add_argument("--max_percentile", type=float, default=1.0, help="band end (inclusive)")
    p.add_argument(
        "--correctness", default="high", choices=("high", "low", "any"), help="correctness level"
    )
    p.add_argument(
        "--max_ifd", type=float, default=None, help="drop rows with IFD above this (if scored)"
    )
    p.add_argument(
        "--high_correctness", type=float, default=0.75, help="meta_correctness >= this is high"
    )
    p.add_argument(
        "--low_correctness", type=float, default=0.25, help="meta_correctness < this is low"
    )
    p.add_argument(
        "--null_correctness",
        default="exclude",
        choices=("exclude", "high", "low"),
        help="what a null meta_correctness counts as",
    )
    p.add_argument(
        "--keep_truncated", action="store_true", help="also select rows cut at max_length"
    )
    p.add_argument("--rows_per_file", type=int, default=100_000, help="rows per Parquet part")
    p.add_argument("--corpora", nargs="+", required=True, help="corpus names")
    p.add_argument("--scored", nargs="+", required=True, help="scored Parquet per corpus")
    p.add_argument("--pools", nargs="+", required=True, help="pool folder per corpus")
    p.add_argument("--output", required=True, help="subset folder to write (replaced whole)")
    return p.parse_args()


def main() -> None:
    args = parse_args()
    setup_logging(args.log_level)
    from distilldata.core.errors import InputError
    from distilldata.nll.subsets import SubsetPolicy, SubsetRule, build_subset

    if not len(args.corpora) == len(args.scored) == len(args.pools):
        raise InputError("--corpora, --scored and --pools need one entry per corpus each")
    rule = SubsetRule(
        args.subset, args.min_percentile, args.max_percentile, args.correctness, args.max_ifd
    )
    policy = SubsetPolicy(
        args.high_correctness,
        args.low_correctness,
        args.null_correctness,
        not args.keep_truncated,
        args.rows_per_file,
    )
    corpora = dict(zip(args.corpora, zip(args.scored, args.pools, strict=True), strict=True))
    build_subset(rule, policy, corpora, args.output)


if __name__ == "__main__":
    run_main(main)

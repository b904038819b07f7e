#!/usr/bin/env python
"""The NLL report: nll_mean and percentile histograms per pool and split (PNG) and a Markdown page
(scores per corpus/pool/split, subset sizes, example rows per subset).

Example:
  python scripts/nll/nll_report.py --corpora glaive_toolcall \\
      --scored results/nll/scored/glaive_toolcall.parquet \\
      --subsets results/nll/subsets/anchor results/nll/subsets/learning \\
      --markdown report.md --nll_plot nll.png --percentile_plot percentile.png
"""

import argparse

from distilldata.core.cli import run_main, script_parser, setup_logging


def parse_args() -> argparse.Namespace:
    p = script_parser(__doc__)
    p.add_argument("--corpora", nargs="+", required=True, help="corpus names")
    p.add_argument("--scored", nargs="+", required=True, help="scored Parquet per corpus")
    p.add_argument("--subsets", nargs="*", default=[], help="subset folders (name = folder)")
    p.add_argument("--markdown", required=True, help="Markdown report to write")
    p.add_argument("--nll_plot", required=True, help="nll_mean histograms (PNG)")
    p.add_argument("--percentile_plot", required=True, help="percentile histograms (PNG)")
    p.add_argument("--examples", type=int, default=3, help="example rows per subset")
    p.add_argument("--bins", type=int, default=20, help="histogram bins")
    return p.parse_args()


def main() -> None:
    args = parse_args()
    setup_logging(args.log_level)
    from pathlib import Path

    from distilldata.core.errors import InputError
    from distilldata.nll.report import build_report

    if len(args.corpora) != len(args.scored):
        raise InputError("--corpora and --scored need one entry per corpus each")
    build_report(
        dict(zip(args.corpora, args.scored, strict=True)),
        {Path(folder).name: folder for folder in args.subsets},
        args.markdown,
        args.nll_plot,
        args.percentile_plot,
        args.examples,
        args.bins,
    )


if __name__ == "__main__":
    run_main(main)

#!/usr/bin/env python
"""One scored table per corpus: its pool shards' scores merged to one row per id (the pools it is
in listed), with `percentile_within_split` (share of the split's scored rows with nll_mean <= the
row's).

Examples:
  python scripts/nll/rank_scores.py --scores results/nll/scores/glaive_toolcall/*/part-*.parquet \\
      --output results/nll/scored/glaive_toolcall.parquet \\
      --stats_output results/nll/scored/glaive_toolcall.json
  python scripts/nll/rank_scores.py --scores results/nll/modal_scores/glaive_toolcall \\
      --output scored.parquet --stats_output scored.json
"""

import argparse

from distilldata.core.cli import run_main, script_parser, setup_logging


def parse_args() -> argparse.Namespace:
    p = script_parser(__doc__)
    p.add_argument(
        "--scores",
        nargs="*",
        default=[],
        help="score shards, or folders of <pool>/part-*.parquet (none: an empty table)",
    )
    p.add_argument("--output", required=True, help="scored Parquet to write (one row per id)")
    p.add_argument("--stats_output", required=True, help="stats JSON to write")
    return p.parse_args()


def main() -> None:
    args = parse_args()
    setup_logging(args.log_level)
    from distilldata.nll.ranking import rank_scores

    rank_scores(args.scores, args.output, args.stats_output)


if __name__ == "__main__":
    run_main(main)

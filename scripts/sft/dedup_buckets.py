#!/usr/bin/env python
"""Dedup stage 2: edges between rows sharing an LSH band key (or exact hash) in one bucket job.

Example:
  python scripts/sft/dedup_buckets.py --bucket 0 --buckets 2 --bands 14 \\
      --output results/sft/dedup/x/buckets/bucket-000.parquet sig1.parquet sig2.parquet
"""

import argparse

from distilldata.core.cli import run_main, script_parser, setup_logging


def parse_args() -> argparse.Namespace:
    p = script_parser(__doc__)
    p.add_argument("signatures", nargs="+", help="signature Parquet files (stage 1)")
    p.add_argument("--output", required=True, help="edge Parquet file to write")
    p.add_argument("--bucket", type=int, required=True, help="this job's number (0-based)")
    p.add_argument("--buckets", type=int, required=True, help="number of bucket jobs")
    p.add_argument("--bands", type=int, required=True, help="LSH bands in the signatures")
    return p.parse_args()


def main() -> None:
    args = parse_args()
    setup_logging(args.log_level)
    from distilldata.sft.dedup import find_bucket_edges

    find_bucket_edges(args.signatures, args.output, args.bucket, args.buckets, args.bands)


if __name__ == "__main__":
    run_main(main)

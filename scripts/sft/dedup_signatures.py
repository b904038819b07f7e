#!/usr/bin/env python
"""Dedup stage 1: exact hash + MinHash LSH band keys of each row's dedup key (one shard).

Example:
  python scripts/sft/dedup_signatures.py \\
      --input results/sft/normalized/x/train/part-00000.parquet \\
      --output results/sft/dedup/x/signatures/train/part-00000.parquet --key completion
"""

import argparse

from distilldata.core.cli import run_main, script_parser, setup_logging


def add_minhash_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--ngram", type=int, default=5, help="words per shingle")
    p.add_argument("--bands", type=int, default=14, help="LSH bands (threshold ~ (1/b)^(1/r))")
    p.add_argument("--rows", type=int, default=8, help="signature values per band")
    p.add_argument("--seed", type=int, default=1, help="seed of the MinHash permutations")


def parse_args() -> argparse.Namespace:
    p = script_parser(__doc__)
    p.add_argument("--input", required=True, help="normalized Parquet shard")
    p.add_argument("--output", required=True, help="signature Parquet file")
    p.add_argument(
        "--key",
        default="completion",
        choices=["completion", "prompt", "text"],
        help="what is compared: assistant bodies, user bodies or the whole text",
    )
    p.add_argument(
        "--near_duplicates",
        default="tag",
        choices=["tag", "drop", "off"],
        help="off: no band keys are written, so no row is ever a near duplicate",
    )
    p.add_argument(
        "--corpus",
        default="",
        help="dataset name of the shard (the workflow's config key); the filter stage must "
        "get the same name",
    )
    p.add_argument(
        "--corpus_order",
        type=int,
        default=0,
        help="position of the dataset in a cross-corpus run: earlier datasets keep shared rows",
    )
    add_minhash_args(p)
    return p.parse_args()


def main() -> None:
    args = parse_args()
    setup_logging(args.log_level)
    from distilldata.sft.dedup import DedupConfig, compute_signatures
    from distilldata.text.minhash import MinHashConfig

    config = DedupConfig(
        key=args.key,
        minhash=MinHashConfig(args.ngram, args.bands, args.rows, args.seed),
        near_duplicates=args.near_duplicates,
    )
    compute_signatures(
        args.input, args.output, config, corpus=args.corpus, corpus_order=args.corpus_order
    )


if __name__ == "__main__":
    run_main(main)

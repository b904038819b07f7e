#!/usr/bin/env python
"""Build a tiny BERT cross-encoder + WordPiece tokenizer offline (for CI and smoke runs).

Example:
  python scripts/models/build_tiny_encoder.py --output resources/models/tiny-bert
"""

import argparse

from distilldata.core.cli import run_main, script_parser, setup_logging


def parse_args() -> argparse.Namespace:
    p = script_parser(__doc__)
    p.add_argument(
        "--output",
        required=True,
        help="model folder to write (or a file in it, e.g. .../config.json, as rules declare it)",
    )
    p.add_argument("--vocab-size", type=int, default=1000, help="WordPiece vocabulary size")
    p.add_argument("--seed", type=int, default=0, help="seed of the random weights")
    return p.parse_args()


def main() -> None:
    args = parse_args()
    setup_logging(args.log_level)
    from distilldata.core.models import model_folder
    from distilldata.testing.tiny_encoder import build_tiny_encoder

    path = build_tiny_encoder(model_folder(args.output), vocab_size=args.vocab_size, seed=args.seed)
    print(f"tiny encoder written to {path}")


if __name__ == "__main__":
    run_main(main)

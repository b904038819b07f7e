#!/usr/bin/env python
"""Stack the per-teacher score files of add_teacher_scores.py --scores-path onto a dataset.

Example:
  python scripts/provence/merge_teacher_scores.py \
      --dataset-path results/provence/base/squad_en_with_relevance \
      --scores minilm.parquet tiny.parquet \
      --output-path results/provence/base/squad_en_with_relevance_with_teacher_scores
"""

import argparse

from distilldata.core.cli import run_main, script_parser, setup_logging


def parse_args() -> argparse.Namespace:
    p = script_parser(__doc__)
    p.add_argument("--dataset-path", required=True, help="the _with_relevance dataset folder")
    p.add_argument("--scores", nargs="+", required=True, help="per-teacher Parquet files")
    p.add_argument("--output-path", required=True, help="the merged dataset folder to write")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    return p.parse_args()


def main() -> None:
    args = parse_args()
    setup_logging(args.log_level)
    from distilldata.provence.teacher_scores import merge_teacher_scores

    merge_teacher_scores(args.dataset_path, args.scores, args.output_path, overwrite=args.overwrite)


if __name__ == "__main__":
    run_main(main)

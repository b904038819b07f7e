#!/usr/bin/env python
"""Turn a SQuAD-format QA file into a triplet DatasetDict split by article.

query = question, positive = the answer's paragraph, negative_1..N = other paragraphs of the
same article, answer_spans = gold answer offsets in the positive.

Example:
  python scripts/provence/build_qa_triplets.py --input data/squad/dev-v2.0.json \
      --output resources/provence/triplets/squad_en
"""

import argparse

from distilldata.core.cli import run_main, script_parser, setup_logging


def parse_args() -> argparse.Namespace:
    p = script_parser(__doc__)
    p.add_argument("--input", required=True, help="SQuAD-format JSON file")
    p.add_argument("--output", required=True, help="output save_to_disk folder")
    p.add_argument("--seed", type=int, default=42, help="seed for the article split and negatives")
    p.add_argument(
        "--max-negatives", type=int, default=12, help="negative paragraphs per question (at most)"
    )
    p.add_argument(
        "--eval-fraction",
        type=float,
        default=0.1,
        help="fraction of articles for validation and for test each",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    return p.parse_args()


def main() -> None:
    args = parse_args()
    setup_logging(args.log_level)
    from distilldata.provence.triplets import write_qa_triplets

    write_qa_triplets(
        args.input,
        args.output,
        seed=args.seed,
        max_negatives=args.max_negatives,
        eval_fraction=args.eval_fraction,
        overwrite=args.overwrite,
    )


if __name__ == "__main__":
    run_main(main)

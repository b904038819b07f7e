#!/usr/bin/env python
"""Build a query set: normalised, de-duplicated queries with stable ids, gold answers and gold
passages where the source has them (results/rag/queries/<name>.parquet + stats JSON).

Kinds: text (one per line), msmarco (qid<TAB>query; --input, or --network to fetch --url),
squad (SQuAD-format JSON), jsonl (query/question/input + answers/golden_answers/KILT output),
hub (--dataset with a question --column), synthetic (--num_queries from --corpus titles).

Example:
  python scripts/rag/build_queries.py --kind squad --input data/squad/dev-v2.0.json --lang en \\
      --output results/rag/queries/squad_en.parquet --stats results/rag/queries/squad_en.stats.json
"""

import argparse

from distilldata.core.cli import run_main, script_parser, setup_logging


def parse_args() -> argparse.Namespace:
    p = script_parser(__doc__)
    p.add_argument(
        "--kind",
        required=True,
        choices=["text", "msmarco", "squad", "jsonl", "hub", "synthetic"],
        help="query source kind",
    )
    p.add_argument("--input", default=None, help="query file (text, msmarco, squad, jsonl)")
    p.add_argument("--output", required=True, help="queries Parquet to write")
    p.add_argument("--stats", required=True, help="stats JSON to write (rows in/out/dropped)")
    p.add_argument("--lang", default="en", help="language of the queries (a column)")
    p.add_argument(
        "--max_queries", type=int, default=0, help="keep at most this many queries (0 = all)"
    )
    p.add_argument(
        "--sample",
        default="first",
        choices=["first", "random"],
        help="with --max_queries: the first ones, or a seeded random sample in source order",
    )
    p.add_argument("--seed", type=int, default=42, help="seed for --sample random, synthetic")
    p.add_argument("--url", default=None, help="msmarco: where to fetch queries.dev.small.tsv")
    p.add_argument(
        "--network", action="store_true", help="msmarco: allow fetching --url (off: offline)"
    )
    p.add_argument("--corpus", nargs="*", default=[], help="synthetic: corpus part Parquets")
    p.add_argument("--num_queries", type=int, default=0, help="synthetic: how many queries")
    p.add_argument("--dataset", default=None, help="hub: the Hub dataset id")
    p.add_argument("--subset", default=None, help="hub: the dataset's config name")
    p.add_argument("--split", default="train", help="hub: the split")
    p.add_argument("--column", default="question", help="hub: the question column")
    p.add_argument("--id_column", default=None, help="hub: the id column (default: text sha1)")
    p.add_argument("--answers_column", default=None, help="hub: a gold answers column")
    return p.parse_args()


def main() -> None:
    args = parse_args()
    setup_logging(args.log_level)
    from distilldata.rag.queries import MSMARCO_URL, QuerySource, build_queries

    source = QuerySource(
        kind=args.kind,
        path=args.input,
        lang=args.lang,
        url=args.url or MSMARCO_URL,
        network=args.network,
        corpus_parts=args.corpus,
        num_queries=args.num_queries,
        dataset=args.dataset,
        subset=args.subset,
        split=args.split,
        column=args.column,
        id_column=args.id_column,
        answers_column=args.answers_column,
        seed=args.seed,
    )
    build_queries(source, args.output, args.stats, args.max_queries, args.sample)


if __name__ == "__main__":
    run_main(main)

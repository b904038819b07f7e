#!/usr/bin/env python
"""Chunk one corpus shard into a Parquet part with provenance (+ stats JSON).

A shard is k/N byte ranges of one JSONL file (or row groups of a Parquet file); several
--input files are read whole, in order (a corpus capped by --max_corpus_size is one part).

Example:
  python scripts/rag/build_corpus_part.py --input kilt_knowledgesource.json --format kilt \\
      --shard 3/64 --chunking paper --lang en --max_tokens 128 --tokenizer naver/splade-v3 \\
      --output corpus/part-00003.parquet --stats corpus/part-00003.stats.json
"""

import argparse

from distilldata.core.cli import run_main, script_parser, setup_logging


def parse_args() -> argparse.Namespace:
    p = script_parser(__doc__)
    p.add_argument("--input", nargs="+", required=True, help="corpus file(s): JSONL or Parquet")
    p.add_argument(
        "--format",
        default="auto",
        choices=["auto", "kilt", "records", "flashrag"],
        help="record layout (auto: per record, by its fields)",
    )
    p.add_argument("--shard", default="0/1", help="k/N: the k-th of N byte ranges of --input")
    p.add_argument("--output", required=True, help="chunk Parquet to write")
    p.add_argument("--stats", required=True, help="stats JSON to write")
    p.add_argument(
        "--chunking",
        default="paper",
        choices=["paper", "first_paragraph", "none"],
        help="paper: ~max_tokens sentence-aligned chunks; first_paragraph: ScaleDown; none",
    )
    p.add_argument("--lang", default="en", help="sentence splitter language (paper chunking)")
    p.add_argument("--max_tokens", type=int, default=128, help="paper: tokens per chunk (max)")
    p.add_argument(
        "--tokenizer",
        default="package:cognition/model",
        help="the retriever's tokenizer (Hub id, folder, package:) for token counts",
    )
    p.add_argument(
        "--max_corpus_size", type=int, default=0, help="keep the first N documents (0 = all)"
    )
    return p.parse_args()


def main() -> None:
    args = parse_args()
    setup_logging(args.log_level)
    from distilldata.llm.cache import parse_shard
    from distilldata.rag.chunking import Chunker
    from distilldata.rag.corpus_parts import load_tokenizer, write_corpus_part

    shard, shards = parse_shard(args.shard)
    chunker = Chunker(args.chunking, load_tokenizer(args.tokenizer), args.lang, args.max_tokens)
    write_corpus_part(
        args.input,
        args.output,
        args.stats,
        chunker,
        args.format,
        shard,
        shards,
        args.max_corpus_size,
    )


if __name__ == "__main__":
    run_main(main)

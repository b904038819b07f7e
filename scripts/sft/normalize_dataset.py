#!/usr/bin/env python
"""Normalize Nemotron-style chat rows to text-first Parquet (Harmony `text`, meta/quality/stats).

One shard (what a workflow job runs):
  python scripts/sft/normalize_dataset.py --dataset nvidia/Nemotron-Agentic-v1 --kind agentic \\
      --input data/nemotron/agentic_v1_tool_calling_1row.jsonl --split tool_calling --part 0 \\
      --out_dir results/sft/normalized/agentic_v1 \\
      --drop_invalid_harmony --drop_empty_completion
A whole dataset by hand (a Hub id, from its local snapshot in the HF cache):
  python scripts/sft/normalize_dataset.py --dataset nvidia/Nemotron-Math-v2 \\
      --out_dir cpu_out/math_v2 \\
      --hf_layout --write_readme --drop_invalid_harmony --drop_empty_completion
A local file or folder (split names from the file names; the `dataset` column is its name):
  python scripts/sft/normalize_dataset.py --dataset ./rows.jsonl --out_dir cpu_out/rows
"""

import argparse

from distilldata.core.cli import run_main, script_parser, setup_logging


def parse_args() -> argparse.Namespace:
    p = script_parser(__doc__)
    p.add_argument(
        "--dataset",
        required=True,
        help="Hub id (from the local HF cache) or a local shard file or folder; also the "
        "`dataset` column (a local path contributes only its name)",
    )
    p.add_argument(
        "--out_dir",
        help="output folder (<out_dir>/<split>/part-NNNNN.parquet); not needed with --output",
    )
    p.add_argument("--input", help="one shard (.jsonl[.gz], .json, .parquet); default: all")
    p.add_argument("--split", help="split name of --input (default: from its file name)")
    p.add_argument("--part", type=int, default=0, help="shard number of --input in its split")
    p.add_argument(
        "--output",
        help="exact Parquet file for --input (instead of a name under --out_dir)",
    )
    p.add_argument("--stats_output", help="stats JSON of --output (default: <part>.stats.json)")
    p.add_argument(
        "--quarantine_output",
        help="quarantine JSONL of --output (default: <part>.quarantine.jsonl)",
    )
    p.add_argument(
        "--tools_output", help="tools catalog JSONL of --output (default: <part>.tools.jsonl)"
    )
    p.add_argument("--kind", help="math_v2|math_proofs|science|agentic|if_chat|chat")
    p.add_argument("--subset", default="default", help="config name (the `subset` column)")
    p.add_argument(
        "--loss_mode",
        default="assistant_all",
        choices=["assistant_all", "assistant_last"],
        help="loss spans for the scoring stage (the `loss_mode` column)",
    )
    p.add_argument("--hf_layout", action="store_true", help="data/<split>-NNNNN-of-MMMMM.parquet")
    p.add_argument("--write_readme", action="store_true", help="write a dataset card README.md")
    p.add_argument(
        "--drop_invalid_harmony", action="store_true", help="drop rows whose render fails"
    )
    p.add_argument(
        "--drop_empty_completion",
        action="store_true",
        help="drop rows whose assistant text is shorter than --min_completion_chars",
    )
    p.add_argument(
        "--drop_malformed_tool_calls",
        action="store_true",
        help="drop rows with a tool call whose arguments are not a JSON object",
    )
    p.add_argument("--drop", action="append", default=[], help="another hard-drop reason")
    p.add_argument("--max_records", type=int, default=None, help="only the first N rows per shard")
    p.add_argument("--identity", default=None, help="system identity line")
    p.add_argument("--knowledge_cutoff", default="2024-06", help="`Knowledge cutoff:` line")
    p.add_argument("--date", default=None, help="fixed `Current date:` (never now)")
    p.add_argument(
        "--reasoning_effort",
        default="medium",
        choices=["low", "medium", "high"],
        help="`Reasoning:` line (see --effort_from_split)",
    )
    p.add_argument("--effort_from_split", action="store_true", help="low/medium/high_* splits")
    p.add_argument(
        "--builtin_python_tool",
        action="append",
        default=None,
        help="tool names rendered as the built-in python tool (repeatable)",
    )
    p.add_argument(
        "--strict_content",
        action="store_true",
        help="quarantine rows whose message content is not a string (default: json.dumps it "
        "with sorted keys, as the seed says for Nemotron-Agentic)",
    )
    p.add_argument(
        "--stringify_content",
        action="store_true",
        help="accepted for compatibility, no effect: stringifying is the default "
        "(see --strict_content)",
    )
    p.add_argument(
        "--uuid_is_problem_id",
        action="store_true",
        help="uuid names the problem, not the row: id = uuid:hash",
    )
    p.add_argument(
        "--min_completion_chars",
        type=int,
        default=1,
        help="assistant text shorter than this is an empty completion",
    )
    p.add_argument(
        "--repeated_line_min_count",
        type=int,
        default=20,
        help="a non-trivial line repeated this often tags `repeated_lines`",
    )
    p.add_argument(
        "--too_long_tokens",
        type=int,
        default=32768,
        help="approximate tokens (chars / 4) above which a row is tagged `too_long`",
    )
    p.add_argument("--batch_rows", type=int, default=1000, help="rows per Parquet write")
    return p.parse_args()


def main() -> None:
    args = parse_args()
    setup_logging(args.log_level)
    from pathlib import Path

    from distilldata.core.dataset_files import resolve_dataset, split_of
    from distilldata.core.errors import InputError
    from distilldata.provence.convert import slugify
    from distilldata.sft.normalize import (
        DatasetSpec,
        ShardPaths,
        kind_for,
        normalize_dataset,
        normalize_shard,
        part_path,
    )
    from distilldata.sft.quality import QualityConfig
    from distilldata.text.harmony import DEFAULT_IDENTITY, SystemConfig

    drop = list(args.drop)
    drop += ["invalid_harmony"] * args.drop_invalid_harmony
    drop += ["empty_completion"] * args.drop_empty_completion
    drop += ["malformed_tool_call"] * args.drop_malformed_tool_calls
    local = Path(args.dataset).exists()
    spec = DatasetSpec(
        dataset=slugify(args.dataset, None) if local else args.dataset,
        kind=args.kind or kind_for(args.dataset),
        subset=args.subset,
        loss_mode=args.loss_mode,
        system=SystemConfig(
            identity=args.identity or DEFAULT_IDENTITY,
            knowledge_cutoff=args.knowledge_cutoff,
            date=args.date,
            reasoning_effort=args.reasoning_effort,
        ),
        effort_from_split=args.effort_from_split,
        builtin_python_tools=tuple(
            args.builtin_python_tool or ("stateful_python_code_exec", "python")
        ),
        stringify_content=not args.strict_content,
        uuid_is_problem_id=args.uuid_is_problem_id,
        drop=tuple(dict.fromkeys(drop)),
        quality=QualityConfig(
            min_completion_chars=args.min_completion_chars,
            repeated_line_min_count=args.repeated_line_min_count,
            too_long_tokens=args.too_long_tokens,
        ),
    )
    if args.output and not args.input:
        raise InputError("--output names the file of one --input shard; give --input too")
    if not (args.output or args.out_dir):
        raise InputError("give --out_dir (or --input with --output)")
    if args.input:
        split = args.split or split_of(args.input)
        parquet = args.output or part_path(args.out_dir, split, args.part, args.part + 1, False)
        output = ShardPaths.for_part(
            parquet, args.stats_output, args.quarantine_output, args.tools_output
        )
        normalize_shard(args.input, output, spec, split, args.max_records, args.batch_rows)
    else:
        files = resolve_dataset(args.dataset)
        normalize_dataset(
            spec, files, Path(args.out_dir), args.hf_layout, args.write_readme, args.max_records
        )


if __name__ == "__main__":
    run_main(main)

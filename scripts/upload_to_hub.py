#!/usr/bin/env python
"""Upload a context-relevance DatasetDict to the Hugging Face Hub (seed §7 flags).

Example (check first: --dry-run prints row counts, sizes and the push_to_hub arguments):
  python scripts/upload_to_hub.py \
      --dataset-path results/provence/base/squad_en_with_relevance_with_teacher_scores \
      --repo-id you/squad-context-relevance --subset default --dry-run
"""

import argparse

from distilldata.cli import run_main, script_parser, setup_logging


def parse_args() -> argparse.Namespace:
    p = script_parser(__doc__)
    p.add_argument("--dataset-path", required=True)
    p.add_argument("--repo-id", required=True, help="owner/name of the Hub dataset repo")
    p.add_argument("--subset", default="default", help="config name on the Hub")
    p.add_argument("--split", default=None, help="push only this split")
    p.add_argument("--commit-message", default=None)
    p.add_argument("--commit-description", default=None)
    p.add_argument("--revision", default=None)
    p.add_argument("--max-shard-size", default=None, help="e.g. 500MB")
    p.add_argument("--num-shards", type=int, default=None)
    p.add_argument("--num-proc", type=int, default=None)
    p.add_argument("--token", default=None, help="default: the logged-in user's token")
    p.add_argument("--public", action="store_true", help="make the repo public (default private)")
    p.add_argument("--no-embed", action="store_true", help="do not embed external files")
    p.add_argument("--dry-run", action="store_true", help="print what would be pushed; no upload")
    p.add_argument("--summary-json", default=None, help="write the summary here")
    return p.parse_args()


def main() -> None:
    args = parse_args()
    setup_logging(args.log_level)
    from distilldata.hub_upload import upload_to_hub
    from distilldata.store import write_json

    summary = upload_to_hub(
        args.dataset_path,
        args.repo_id,
        subset=args.subset,
        split=args.split,
        commit_message=args.commit_message,
        commit_description=args.commit_description,
        revision=args.revision,
        max_shard_size=args.max_shard_size,
        num_shards=args.num_shards,
        num_proc=args.num_proc,
        token=args.token,
        public=args.public,
        embed=not args.no_embed,
        dry_run=args.dry_run,
    )
    if args.summary_json:
        write_json(args.summary_json, summary)


if __name__ == "__main__":
    run_main(main)

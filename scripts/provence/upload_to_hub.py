#!/usr/bin/env python
"""Upload a context-relevance DatasetDict to a Hugging Face Hub dataset repo (seed §7 flags).

Each split is exported to Parquet shards in the layout `datasets.push_to_hub` produces
(`<subset>/<split>-0000k-of-0000N.parquet`; `data/` for the `default` subset) with a README.md
whose `configs:` lists the subset, and everything goes up in ONE commit (distilldata/core/hub.py).

DRY RUN BY DEFAULT: without --no-dry-run nothing contacts the Hub; the shards and README are
still written (to --stage-dir, or a temp folder) and --summary-json gets the plan (each file's
path in the repo, bytes, sha256; rows per split and shard). The seed's script pushed for real
unless --dry-run was given; here a real upload needs --no-dry-run (and HF_TOKEN or a login).
A real run merges the subset into the repo's README, so other subsets stay listed.

Example:
  python scripts/provence/upload_to_hub.py \\
      --dataset-path results/provence/base/squad_en_with_relevance_with_teacher_scores \\
      --repo-id you/squad-context-relevance --subset default \\
      --summary-json results/provence/upload/squad_en.json          # dry run: check the plan
  python scripts/provence/upload_to_hub.py ... --no-dry-run                  # then upload
"""

import argparse

from distilldata.core.cli import run_main, script_parser, setup_logging


def build_parser() -> argparse.ArgumentParser:
    p = script_parser(__doc__)
    p.add_argument(
        "--dataset-path", required=True, help="the DatasetDict (save_to_disk folder) to upload"
    )
    p.add_argument("--repo-id", required=True, help="owner/name of the Hub dataset repo")
    p.add_argument(
        "--subset",
        default="default",
        help="config name on the Hub; its files go to <subset>/ (`default`: data/)",
    )
    p.add_argument(
        "--split",
        default=None,
        help="upload only this split; the subset's other splits on the Hub stay",
    )
    p.add_argument(
        "--max-shard-size",
        default=None,
        help="start a new Parquet shard per this many Arrow bytes, e.g. 500MB (the default)",
    )
    p.add_argument(
        "--num-shards",
        type=int,
        default=None,
        help="exactly this many shards per split (instead of --max-shard-size)",
    )
    p.add_argument(
        "--num-proc",
        type=int,
        default=None,
        help="threads writing shards; also the least number of shards per split",
    )
    p.add_argument(
        "--commit-message",
        default=None,
        help="commit message (default: 'Upload <dataset folder> as <subset>')",
    )
    p.add_argument("--commit-description", default=None, help="commit description")
    p.add_argument(
        "--revision", default=None, help="branch to commit to (created if missing; default main)"
    )
    p.add_argument(
        "--token", default=None, help="Hub token (default: HF_TOKEN or the logged-in user)"
    )
    p.add_argument(
        "--public",
        action="store_true",
        help="create the repo public (default private; an existing repo keeps its visibility)",
    )
    p.add_argument(
        "--no-embed",
        action="store_true",
        help="accepted for the seed's command lines; a no-op, there are no media files to embed "
        "in text-only datasets (media columns are refused)",
    )
    dry = p.add_mutually_exclusive_group()
    dry.add_argument(
        "--dry-run",
        dest="dry_run",
        action="store_true",
        default=True,
        help="plan only, contact nothing (the default; the seed's default was a real push)",
    )
    dry.add_argument(
        "--no-dry-run",
        dest="dry_run",
        action="store_false",
        help="really create the repo if missing and commit",
    )
    p.add_argument(
        "--stage-dir",
        default=None,
        help="keep the exported shards and README here (default: a temp folder, removed)",
    )
    p.add_argument(
        "--summary-json", default=None, help="write the plan (after a real run: + commit URL)"
    )
    return p


def main() -> None:
    args = build_parser().parse_args()
    setup_logging(args.log_level)
    from distilldata.core.hub import upload_dataset
    from distilldata.core.store import write_json

    plan = upload_dataset(
        args.dataset_path,
        args.repo_id,
        subset=args.subset,
        split=args.split,
        max_shard_size=args.max_shard_size,
        num_shards=args.num_shards,
        num_proc=args.num_proc,
        commit_message=args.commit_message,
        commit_description=args.commit_description,
        revision=args.revision,
        token=args.token,
        public=args.public,
        dry_run=args.dry_run,
        stage_dir=args.stage_dir,
    )
    if args.summary_json:
        write_json(args.summary_json, plan)


if __name__ == "__main__":
    run_main(main)

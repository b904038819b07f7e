#!/usr/bin/env python
"""Publish a folder (normalized shards, pools, reports) to a Hub dataset repo in ONE commit.

DRY RUN BY DEFAULT: writes the plan (each file's path in the repo, bytes, sha256) to --plan and
contacts nothing. A real upload needs --no-dry-run (and HF_TOKEN or a login); it creates the repo
if missing (private unless --public) and the plan then also holds the commit URL. Same writer and
same flags as scripts/provence/upload_to_hub.py (distilldata/core/hub.py).

Example:
  python scripts/sft/publish_to_hub.py --folder results/sft/pools/math_v2 \\
      --repo_id me/nemotron-math-v2-pools --path_in_repo math_v2 \\
      --plan results/sft/publish/math_v2.json                  # dry run: check the plan
  python scripts/sft/publish_to_hub.py ... --no-dry-run                 # then upload
"""

import argparse

from distilldata.core.cli import run_main, script_parser, setup_logging


def build_parser() -> argparse.ArgumentParser:
    p = script_parser(__doc__)
    p.add_argument("--folder", required=True, help="the folder to publish, every file in it")
    p.add_argument("--repo_id", required=True, help="dataset repo, e.g. me/nemotron-pools")
    p.add_argument(
        "--path_in_repo", default="", help="folder in the repo to put the files in (default: root)"
    )
    p.add_argument("--plan", required=True, help="JSON file: what was (or would be) committed")
    p.add_argument("--message", default=None, help="commit message")
    p.add_argument(
        "--public",
        action="store_true",
        help="create the repo public (default private; an existing repo keeps its visibility)",
    )
    dry = p.add_mutually_exclusive_group()
    dry.add_argument(
        "--dry-run",
        "--dry_run",
        dest="dry_run",
        action="store_true",
        default=True,
        help="plan only, contact nothing (the default)",
    )
    dry.add_argument(
        "--no-dry-run",
        "--no_dry_run",
        dest="dry_run",
        action="store_false",
        help="really create the repo if missing and commit",
    )
    return p


def main() -> None:
    args = build_parser().parse_args()
    setup_logging(args.log_level)
    from distilldata.core.hub import publish_folder
    from distilldata.core.store import write_json

    plan = publish_folder(
        args.folder,
        args.repo_id,
        args.path_in_repo,
        dry_run=args.dry_run,
        message=args.message,
        public=args.public,
    )
    write_json(args.plan, plan)


if __name__ == "__main__":
    run_main(main)

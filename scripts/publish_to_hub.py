#!/usr/bin/env python
"""Publish a folder (normalized shards, pools, reports) to a Hub dataset repo in ONE commit.

Dry run by default: writes the plan (files, bytes, sha256) and contacts nothing. Pass --no-dry-run
(with HF_TOKEN set and the hub online) to upload.
Example:
  python scripts/publish_to_hub.py --folder results/nemotron/pools/math_v2 \\
      --repo_id me/nemotron-math-v2-pools --plan results/nemotron/publish/math_v2.json
"""

import argparse

from distilldata.cli import run_main, script_parser, setup_logging


def parse_args() -> argparse.Namespace:
    p = script_parser(__doc__)
    p.add_argument("--folder", required=True)
    p.add_argument("--repo_id", required=True, help="dataset repo, e.g. me/nemotron-pools")
    p.add_argument("--path_in_repo", default="")
    p.add_argument("--plan", required=True, help="JSON file: what was (or would be) committed")
    p.add_argument("--message", default=None, help="commit message")
    p.add_argument("--dry-run", dest="dry_run", action="store_true", default=True)
    p.add_argument("--no-dry-run", dest="dry_run", action="store_false")
    return p.parse_args()


def main() -> None:
    args = parse_args()
    setup_logging(args.log_level)
    from distilldata.publish import publish_folder
    from distilldata.store import write_json

    result = publish_folder(
        args.folder, args.repo_id, args.path_in_repo, dry_run=args.dry_run, message=args.message
    )
    write_json(args.plan, result)


if __name__ == "__main__":
    run_main(main)

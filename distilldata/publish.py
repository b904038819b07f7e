"""Publish a folder to a Hugging Face *dataset* repo in one batch commit (dry run by default).

A dry run lists exactly what the commit would upload (path in repo, bytes, sha256) and touches
no network; a real run sends every file in a single `create_commit` (never one commit per file).
"""

from __future__ import annotations

import logging
from pathlib import Path

from distilldata.errors import InputError
from distilldata.pools import sha256_file

log = logging.getLogger(__name__)

SKIP_SUFFIXES = (".tmp", ".snakemake_timestamp")


def upload_plan(folder: str | Path, path_in_repo: str = "") -> list[dict]:
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder")
    files = sorted(
        p for p in folder.rglob("*") if p.is_file() and not p.name.endswith(SKIP_SUFFIXES)
    )
    if not files:
        raise InputError(f"{folder} has no files to publish")
    prefix = path_in_repo.strip("/")
    return [
        {
            "local": str(p),
            "path_in_repo": f"{prefix}/{p.relative_to(folder).as_posix()}".lstrip("/"),
            "bytes": p.stat().st_size,
            "sha256": sha256_file(p),
        }
        for p in files
    ]


def publish_folder(
    folder: str | Path,
    repo_id: str,
    path_in_repo: str = "",
    dry_run: bool = True,
    message: str | None = None,
) -> dict:
    """Plan (and unless `dry_run`, make) one commit adding every file of `folder`."""
    plan = upload_plan(folder, path_in_repo)
    message = message or f"Add {len(plan)} files from {Path(folder).name} (distilldata)"
    result = {
        "repo_id": repo_id,
        "repo_type": "dataset",
        "dry_run": dry_run,
        "commit_message": message,
        "files": plan,
        "total_bytes": sum(f["bytes"] for f in plan),
    }
    if dry_run:
        log.info(
            "dry run: 1 commit, %d files, %d bytes -> %s", len(plan), result["total_bytes"], repo_id
        )
        return result
    from huggingface_hub import CommitOperationAdd, HfApi

    api = HfApi()
    api.create_repo(repo_id, repo_type="dataset", exist_ok=True)
    info = api.create_commit(
        repo_id=repo_id,
        repo_type="dataset",
        operations=[CommitOperationAdd(f["path_in_repo"], f["local"]) for f in plan],
        commit_message=message,
    )
    result["commit_url"] = str(getattr(info, "commit_url", info))
    return result

"""Push a finished DatasetDict to the Hugging Face Hub (seed §7), or only say what would happen.

`dry_run=True` (the default in every shipped config) loads the dataset, counts rows and bytes
per split and returns the exact `push_to_hub` arguments without touching the network.
"""

from __future__ import annotations

import logging
from pathlib import Path

from distilldata.errors import InputError
from distilldata.sources import load_tables

log = logging.getLogger(__name__)


def upload_to_hub(
    dataset_path: str | Path,
    repo_id: str,
    subset: str = "default",
    split: str | None = None,
    commit_message: str | None = None,
    commit_description: str | None = None,
    revision: str | None = None,
    max_shard_size: str | None = None,
    num_shards: int | None = None,
    num_proc: int | None = None,
    token: str | None = None,
    public: bool = False,
    embed: bool = True,
    dry_run: bool = True,
) -> dict:
    if "/" not in repo_id:
        raise InputError(f"--repo-id {repo_id!r}: use owner/name")
    tables = load_tables(str(dataset_path))
    if split is not None:
        if split not in tables:
            raise InputError(f"{dataset_path}: no split {split!r} (found {sorted(tables)})")
        tables = {split: tables[split]}
    kwargs = {
        "repo_id": repo_id,
        "config_name": subset,
        "private": not public,
        "commit_message": commit_message or f"Upload {Path(dataset_path).name}",
        "commit_description": commit_description,
        "revision": revision,
        "max_shard_size": max_shard_size,
        "num_shards": num_shards,
        "num_proc": num_proc,
        "embed_external_files": embed,
    }
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    summary = {
        "dataset": str(dataset_path),
        "dry_run": dry_run,
        "push_to_hub": kwargs,
        "token": "given" if token else "from the logged-in user",
        "splits": {
            name: {"rows": t.num_rows, "bytes": t.nbytes, "columns": t.column_names}
            for name, t in tables.items()
        },
    }
    total = sum(t.nbytes for t in tables.values())
    log.info(
        "%s%s -> %s [%s]: %s rows, ~%.1f MB in memory",
        "DRY RUN: " if dry_run else "",
        dataset_path,
        repo_id,
        subset,
        {k: v["rows"] for k, v in summary["splits"].items()},
        total / 1e6,
    )
    if dry_run:
        return summary
    from datasets import Dataset, DatasetDict

    dataset = DatasetDict({name: Dataset(t) for name, t in tables.items()})
    if num_shards is not None:
        kwargs["num_shards"] = dict.fromkeys(dataset, num_shards)
    result = dataset.push_to_hub(token=token, **kwargs)
    summary["commit"] = str(getattr(result, "commit_url", result))
    return summary

"""The one Hub writer: files go to a Hugging Face *dataset* repo in a single `HfApi.create_commit`.

Everything we send is first a *plan*: the commit (repo, revision, visibility, message) and one
entry per file (`local`, `path_in_repo`, `bytes`, `sha256`). The plan is what a dry run returns
and what the scripts write as their JSON summary. A dry run (the default everywhere) builds it and
touches no network; a real run (`commit`) creates the repo if missing (private unless public),
deletes the repo's stale files that match the plan's `delete_patterns`, and sends every file in
one commit (never one commit per file).

Two entries build plans:
- `publish_folder`: a folder as it is (normalized shards, pools, reports).
- `upload_dataset`: a DatasetDict, exported the way `datasets.push_to_hub` lays it out
  (`<data_dir>/<split>-0000k-of-0000N.parquet`, `data_dir` = the subset, or `data` for `default`)
  plus a README.md whose YAML `configs:` lists the subset's files per split; on a real run that
  card is merged into the repo's README (`merge_card`), so a second subset keeps the first.
"""

from __future__ import annotations

import fnmatch
import logging
import re
import tempfile
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import yaml

from distilldata.core.errors import InputError
from distilldata.core.progress import Progress
from distilldata.core.store import atomic_path, sha256_file, write_parquet

if TYPE_CHECKING:
    from huggingface_hub import HfApi

log = logging.getLogger(__name__)

REPO_TYPE = "dataset"
SKIP_SUFFIXES = (".tmp", ".snakemake_timestamp")
DEFAULT_MAX_SHARD_SIZE = "500MB"  # datasets.config.MAX_SHARD_SIZE
SPLIT_RE = re.compile(r"^\w+(\.\w+)*$")  # the split names push_to_hub accepts
REPO_ID_RE = re.compile(r"^[\w.-]+/[\w.-]+$")
FRONT_MATTER = re.compile(r"\A\s*---[ \t]*\r?\n(.*?)^---[ \t]*(?:\r?\n|\Z)", re.S | re.M)


# ---- plans ---------------------------------------------------------------------------------


def check_repo_id(repo_id: str) -> str:
    if not REPO_ID_RE.match(repo_id):
        raise InputError(f"repo id {repo_id!r}: use owner/name, e.g. me/squad-context-relevance")
    return repo_id


def file_entry(local: str | Path, path_in_repo: str) -> dict:
    """One file of a plan: where it is, where it goes, its size and sha256."""
    local = Path(local)
    return {
        "local": str(local),
        "path_in_repo": path_in_repo,
        "bytes": local.stat().st_size,
        "sha256": sha256_file(local),
    }


def folder_files(folder: str | Path, path_in_repo: str = "") -> list[dict]:
    """Every file under `folder` (temp and Snakemake marker files skipped), sorted, as plan
    entries placed under `path_in_repo`."""
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
        file_entry(p, f"{prefix}/{p.relative_to(folder).as_posix()}".lstrip("/")) for p in files
    ]


def make_plan(
    repo_id: str,
    files: list[dict],
    commit_message: str,
    commit_description: str | None = None,
    revision: str | None = None,
    public: bool = False,
    dry_run: bool = True,
    delete_patterns: Iterable[str] = (),
) -> dict:
    """The commit that would be made: `files` added, repo files matching `delete_patterns`
    (`*` stays inside one folder) and not re-added removed."""
    return {
        "repo_id": check_repo_id(repo_id),
        "repo_type": REPO_TYPE,
        "revision": revision,
        "private": not public,
        "dry_run": dry_run,
        "commit_message": commit_message,
        "commit_description": commit_description,
        "files": files,
        "total_bytes": sum(f["bytes"] for f in files),
        "delete_patterns": list(delete_patterns),
    }


def _matches(path: str, pattern: str) -> bool:
    return fnmatch.fnmatchcase(path, pattern) and path.count("/") == pattern.count("/")


# ---- the one network path ------------------------------------------------------------------


def open_repo(
    repo_id: str, public: bool = False, revision: str | None = None, token: str | None = None
) -> tuple[HfApi, str]:
    """Create the dataset repo (private unless `public`) and the branch if missing.

    Returns `(api, head sha)`; the commit names that sha as its parent, so a card changed on the
    Hub in between fails the commit instead of being overwritten."""
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    api.create_repo(repo_id, repo_type=REPO_TYPE, private=not public, exist_ok=True)
    if revision and not revision.startswith("refs/pr/"):
        api.create_branch(repo_id, branch=revision, repo_type=REPO_TYPE, exist_ok=True)
    return api, api.repo_info(repo_id, repo_type=REPO_TYPE, revision=revision).sha


def read_card(api: HfApi, repo_id: str, revision: str | None = None) -> str:
    """The repo's README.md at `revision` ("" when it has none)."""
    if "README.md" not in api.list_repo_files(repo_id, repo_type=REPO_TYPE, revision=revision):
        return ""
    path = api.hf_hub_download(repo_id, "README.md", repo_type=REPO_TYPE, revision=revision)
    return Path(path).read_text("utf-8")


def commit(
    plan: dict,
    api: HfApi | None = None,
    parent_commit: str | None = None,
    token: str | None = None,
) -> dict:
    """Make the plan's one commit, or on a dry run only log it. Returns the plan, plus
    `deleted` and `commit_url` after a real run."""
    log.info(
        "%s1 commit, %d files, %.1f MB -> %s (%s)%s",
        "DRY RUN: " if plan["dry_run"] else "",
        len(plan["files"]),
        plan["total_bytes"] / 1e6,
        plan["repo_id"],
        "private" if plan["private"] else "public",
        f" @ {plan['revision']}" if plan["revision"] else "",
    )
    if plan["dry_run"]:
        return plan
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete

    repo_id, revision = plan["repo_id"], plan["revision"]
    if api is None:
        api, parent_commit = open_repo(repo_id, not plan["private"], revision, token)
    added = {f["path_in_repo"] for f in plan["files"]}
    existing = api.list_repo_files(repo_id, repo_type=REPO_TYPE, revision=parent_commit or revision)
    deleted = sorted(
        p
        for p in existing
        if p not in added and any(_matches(p, pattern) for pattern in plan["delete_patterns"])
    )
    operations = [CommitOperationAdd(f["path_in_repo"], f["local"]) for f in plan["files"]]
    operations += [CommitOperationDelete(path_in_repo=p) for p in deleted]
    info = api.create_commit(
        repo_id,
        operations,
        commit_message=plan["commit_message"],
        commit_description=plan["commit_description"],
        repo_type=REPO_TYPE,
        revision=revision,
        parent_commit=parent_commit,
    )
    log.info("committed %d files, deleted %d stale ones: %s", len(added), len(deleted), info)
    return {**plan, "deleted": deleted, "commit_url": str(getattr(info, "commit_url", info))}


# ---- a folder as it is ---------------------------------------------------------------------


def publish_folder(
    folder: str | Path,
    repo_id: str,
    path_in_repo: str = "",
    dry_run: bool = True,
    message: str | None = None,
    public: bool = False,
    token: str | None = None,
) -> dict:
    """Plan (and unless `dry_run`, make) one commit adding every file of `folder` under
    `path_in_repo`. Nothing already in the repo is deleted."""
    files = folder_files(folder, path_in_repo)
    message = message or f"Add {len(files)} files from {Path(folder).name} (distilldata)"
    plan = make_plan(repo_id, files, message, public=public, dry_run=dry_run)
    return commit(plan, token=token)


# ---- a DatasetDict as push_to_hub lays it out ----------------------------------------------


def shard_rows(
    num_rows: int,
    nbytes: int,
    max_shard_size: str | int | None = None,
    num_shards: int | None = None,
    num_proc: int | None = None,
) -> list[int]:
    """Rows per shard, as push_to_hub splits a split: `num_shards`, or one shard per started
    `max_shard_size` (default 500MB) of Arrow bytes and at least `num_proc`; contiguous, the first
    `num_rows % n` shards one row longer."""
    if num_shards is None:
        from datasets.utils.py_utils import convert_file_size_to_int

        try:
            size = convert_file_size_to_int(max_shard_size or DEFAULT_MAX_SHARD_SIZE)
        except ValueError as exc:
            raise InputError(f"--max-shard-size {max_shard_size!r}: use e.g. 500MB") from exc
        num_shards = max(int(nbytes / size) + 1, num_proc or 1)
    if num_shards < 1:
        raise InputError(f"--num-shards {num_shards}: need at least 1")
    div, mod = divmod(num_rows, num_shards)
    return [div + (1 if i < mod else 0) for i in range(num_shards)]


def _with_features(table: pa.Table) -> pa.Table:
    """The table with the `huggingface` features metadata push_to_hub's shards carry; refuses
    columns whose bytes push_to_hub would embed (Image/Audio/Video)."""
    from datasets import Features
    from datasets.features.features import require_decoding

    features = Features.from_arrow_schema(table.schema)
    media = [k for k, v in features.items() if require_decoding(v, ignore_decode_attribute=True)]
    if media:
        raise InputError(
            f"columns {media} hold media files; this writer uploads text-only datasets"
        )
    return table.replace_schema_metadata(
        {**(table.schema.metadata or {}), **features.arrow_schema.metadata}
    )


def export_splits(
    tables: dict[str, pa.Table],
    folder: Path,
    data_dir: str,
    max_shard_size: str | int | None = None,
    num_shards: int | None = None,
    num_proc: int | None = None,
) -> dict[str, dict]:
    """Write `<folder>/<data_dir>/<split>-0000k-of-0000N.parquet` for every split (row groups of
    ~100MB as datasets writes them; `num_proc` threads). Returns per split: rows, Arrow bytes,
    columns, shards, shard_rows."""
    from datasets.arrow_writer import get_writer_batch_size_from_data_size

    jobs, splits = [], {}
    for split, table in tables.items():
        table = _with_features(table)
        rows = shard_rows(table.num_rows, table.nbytes, max_shard_size, num_shards, num_proc)
        group = get_writer_batch_size_from_data_size(table.num_rows, table.nbytes)
        start = 0
        for k, n in enumerate(rows):
            path = folder / data_dir / f"{split}-{k:05d}-of-{len(rows):05d}.parquet"
            jobs.append((table.slice(start, n), path, group))
            start += n
        splits[split] = {
            "rows": table.num_rows,
            "bytes": table.nbytes,
            "columns": table.column_names,
            "shards": len(rows),
            "shard_rows": rows,
        }
        log.info("%s: %d rows -> %d shard(s) in %s/", split, table.num_rows, len(rows), data_dir)
    progress = Progress(sum(s["rows"] for s in splits.values()), "rows", log)

    def write(job: tuple[pa.Table, Path, int]) -> int:
        shard, path, group = job
        write_parquet(shard, path, row_group_size=group)
        return shard.num_rows

    with ThreadPoolExecutor(max_workers=max(num_proc or 1, 1)) as pool:
        for n in pool.map(write, jobs):
            progress.update(n)
    return splits


def card_config(subset: str, data_dir: str, splits: Iterable[str]) -> dict:
    """The README `configs:` entry push_to_hub writes for a subset."""
    return {
        "config_name": subset,
        "data_files": [{"split": s, "path": f"{data_dir}/{s}-*"} for s in splits],
    }


def _data_files(value) -> list[dict]:
    """A config's `data_files` in any form the Hub accepts, as [{split, path}]."""
    if isinstance(value, str):
        return [{"split": "train", "path": value}]
    if isinstance(value, dict):
        return [{"split": k, "path": v} for k, v in value.items()]
    if value and all(isinstance(v, str) for v in value):
        return [{"split": "train", "path": list(value)}]
    return list(value or [])


def merge_card(
    readme: str, config: dict, keep_other_splits: bool = False, title: str | None = None
) -> str:
    """The README text with `config` (a `configs:` entry) merged into its YAML front matter.

    A new subset is appended; an existing one keeps its position and other keys (e.g.
    `default: true`) and gets the new `data_files` (with `keep_other_splits`, as when one split is
    pushed, its other splits stay listed). The subset's `dataset_info` entry (sizes and counts of
    the files being replaced) is dropped; every other key and the card's text are kept. A card
    with no text gets a `# title` heading. Pure: text in, text out.
    """
    match = FRONT_MATTER.match(readme)
    body = readme[match.end() :] if match else readme
    try:
        meta = yaml.safe_load(match.group(1)) if match else {}
    except yaml.YAMLError as exc:
        raise InputError(f"README.md: its YAML front matter does not parse ({exc})") from exc
    meta = meta or {}
    if not isinstance(meta, dict):
        raise InputError("README.md: its YAML front matter is not a mapping")
    name = config["config_name"]
    configs = list(meta.get("configs") or [])
    for i, entry in enumerate(configs):
        if entry.get("config_name", "default") == name:
            new = {f["split"]: f for f in config["data_files"]}
            old = _data_files(entry.get("data_files")) if keep_other_splits else []
            files = [new.pop(f["split"], f) for f in old] + list(new.values())
            configs[i] = {**entry, "data_files": files}
            break
    else:
        configs.append(dict(config))
    meta["configs"] = configs
    info = meta.get("dataset_info")
    if isinstance(info, dict) and info.get("config_name", "default") == name:
        del meta["dataset_info"]
    elif isinstance(info, list):
        others = [i for i in info if i.get("config_name", "default") != name]
        if others:
            meta["dataset_info"] = others
        else:
            del meta["dataset_info"]
    if not body.strip() and title:
        body = f"# {title}\n\nUploaded with distilldata (`scripts/provence/upload_to_hub.py`).\n"
    front = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True)
    return f"---\n{front}---\n{body}"


@contextmanager
def _staging(stage_dir: str | Path | None) -> Iterator[tuple[Path, bool]]:
    """Where the export goes: `stage_dir` (kept), or a temp folder removed afterwards."""
    if stage_dir is not None:
        yield Path(stage_dir), True
        return
    with tempfile.TemporaryDirectory(prefix="distilldata-hub-") as root:
        yield Path(root) / "upload", False


def upload_dataset(
    dataset_path: str | Path,
    repo_id: str,
    subset: str = "default",
    split: str | None = None,
    max_shard_size: str | int | None = None,
    num_shards: int | None = None,
    num_proc: int | None = None,
    commit_message: str | None = None,
    commit_description: str | None = None,
    revision: str | None = None,
    token: str | None = None,
    public: bool = False,
    dry_run: bool = True,
    stage_dir: str | Path | None = None,
) -> dict:
    """Export a DatasetDict (or one `split`) as `subset` and plan (unless `dry_run`, make) one
    commit of its shards and README, replacing the subset's files on the Hub.

    The export goes to `stage_dir` (replaced atomically, kept) or a temp folder (removed).
    """
    from distilldata.core.sources import load_tables

    check_repo_id(repo_id)
    if subset == "data":
        raise InputError("--subset 'data' is reserved by the Hub layout; choose another name")
    if max_shard_size is not None and num_shards is not None:
        raise InputError("pass --max-shard-size or --num-shards, not both")
    tables = load_tables(str(dataset_path))
    if split is not None:
        if split not in tables:
            raise InputError(f"{dataset_path}: no split {split!r} (found {sorted(tables)})")
        tables = {split: tables[split]}
    bad = [s for s in tables if not SPLIT_RE.match(s)]
    if bad:
        raise InputError(f"{dataset_path}: split names {bad} are not valid on the Hub (\\w+)")
    data_dir = subset if subset != "default" else "data"
    config = card_config(subset, data_dir, tables)
    message = commit_message or f"Upload {Path(dataset_path).name} as {subset}"

    with _staging(stage_dir) as (stage, kept):
        with atomic_path(stage) as tmp:
            tmp.mkdir()
            splits = export_splits(tables, tmp, data_dir, max_shard_size, num_shards, num_proc)
        api = parent = None
        existing = ""
        if not dry_run:
            api, parent = open_repo(repo_id, public, revision, token)
            existing = read_card(api, repo_id, parent)
        readme = merge_card(existing, config, keep_other_splits=split is not None, title=repo_id)
        with atomic_path(stage / "README.md") as tmp:
            tmp.write_text(readme, "utf-8")
        plan = make_plan(
            repo_id,
            folder_files(stage),
            message,
            commit_description,
            revision,
            public,
            dry_run,
            delete_patterns=[f"{data_dir}/{split}-*" if split else f"{data_dir}/*"],
        )
        plan.update(
            dataset=str(dataset_path),
            subset=subset,
            data_dir=data_dir,
            splits=splits,
            card={"config": config, "merged_with_repo_card": not dry_run},
            staging={"folder": str(stage), "kept": kept},
        )
        return commit(plan, api=api, parent_commit=parent, token=token)

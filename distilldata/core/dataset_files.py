"""Where a configured dataset's shards are: a Hub id (a local snapshot) or local file globs.

`resolve_splits` returns {split: [shard paths]} (sorted, stable), which the workflow turns into
one normalize job per shard; `resolve_dataset` is what a user means by `--dataset X` (a local
file or folder when X exists, as the Provence converter reads it, else a Hub id). Nothing is
downloaded unless the caller allows it.
"""

from __future__ import annotations

import glob
import re
from pathlib import Path

from distilldata.core.errors import InputError

SHARD_SUFFIXES = (".jsonl", ".jsonl.gz", ".json", ".parquet")
# data/high.part_00.jsonl -> high_part00; data/low-00000-of-00017.parquet -> low
_PART_RE = re.compile(r"\.part_?(\d+)$")
_HF_SHARD_RE = re.compile(r"-\d{5}-of-\d{5}$")


def is_shard(path: str | Path) -> bool:
    return str(path).endswith(SHARD_SUFFIXES)


def split_of(path: str | Path) -> str:
    """A split name from an HF-style file name (see module examples)."""
    name = Path(path).name
    for suffix in SHARD_SUFFIXES:
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    name = _HF_SHARD_RE.sub("", name)
    return _PART_RE.sub(lambda m: f"_part{m.group(1)}", name)


def hub_snapshot(repo_id: str, download: bool = False) -> Path:
    """The local snapshot folder of a Hub dataset repo (cached; downloaded only if allowed)."""
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(repo_id, repo_type="dataset", local_files_only=not download))
    except Exception as exc:  # noqa: BLE001 - hub errors vary by version; report one message
        raise InputError(
            f"dataset {repo_id!r} is not in the local Hub cache ({exc.__class__.__name__}); "
            "download it first (`hf download --repo-type dataset ...`) or give local "
            "`splits:` globs"
        ) from None


def _expand(patterns: list[str], root: Path | None) -> list[Path]:
    files: list[Path] = []
    for pattern in patterns:
        full = str(root / pattern) if root is not None else pattern
        files += [Path(p) for p in sorted(glob.glob(full, recursive=True)) if is_shard(p)]
    return sorted(set(files))


def resolve_splits(
    hub_id: str | None = None,
    splits: dict[str, list[str] | str] | None = None,
    snapshot_dir: str | None = None,
    download: bool = False,
) -> dict[str, list[Path]]:
    """{split: shard files}. Globs in `splits` are relative to the snapshot (`snapshot_dir`, or
    the local Hub cache of `hub_id`) or, for a local dataset, to the working directory. Without
    `splits`, every shard under the snapshot's `data/` folder is grouped by `split_of`."""
    root = Path(snapshot_dir) if snapshot_dir else None
    if root is None and hub_id:
        root = hub_snapshot(hub_id, download)
    name = hub_id or snapshot_dir or "local dataset"
    if splits:
        out = {}
        for split, patterns in splits.items():
            files = _expand([patterns] if isinstance(patterns, str) else list(patterns), root)
            if not files:
                where = f"{name}: " if hub_id or snapshot_dir else ""
                raise InputError(
                    f"{where}split {split!r}: no shard file matches {patterns} (missing, or not "
                    f"{'/'.join(SHARD_SUFFIXES)})"
                )
            out[split] = files
        return out
    if root is None:
        raise InputError("a local dataset needs `splits:` (file globs per split)")
    data = root / "data" if (root / "data").is_dir() else root
    out: dict[str, list[Path]] = {}
    for path in _expand(["**/*"], data):
        out.setdefault(split_of(path), []).append(path)
    if not out:
        raise InputError(f"{name}: no .jsonl/.json/.parquet shards under {data}")
    return out


def resolve_local(path: str | Path) -> dict[str, list[Path]]:
    """A local shard file (one split named after it) or folder (its data/ folder or itself,
    every shard grouped by `split_of`)."""
    path = Path(path)
    if path.is_file():
        if not is_shard(path):
            raise InputError(f"{path}: not a shard file (one of {', '.join(SHARD_SUFFIXES)})")
        return {split_of(path): [path]}
    return resolve_splits(snapshot_dir=str(path))


def resolve_dataset(dataset: str, download: bool = False) -> dict[str, list[Path]]:
    """{split: shard files} of `--dataset`: an existing local file or folder, else a Hub id
    resolved to its local snapshot."""
    if Path(dataset).exists():
        return resolve_local(dataset)
    try:
        return resolve_splits(hub_id=dataset, download=download)
    except InputError as exc:
        raise InputError(f"{dataset!r} is not a local file or folder; as a Hub id: {exc}") from None

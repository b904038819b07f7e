"""Every file and folder we write goes through here: a temp name in the same folder, then a rename,
so a killed job never leaves a half-written artifact under its final name."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa

from distilldata.core.errors import InputError


def check_output(path: str | Path, overwrite: bool) -> Path:
    """Fail before any work if `path` exists and the user did not pass --overwrite."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise InputError(f"{path} already exists; pass --overwrite to replace it")
    return path


def remove(path: Path) -> None:
    """Delete a file, link or folder if it exists."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temp path beside `path`; on success it replaces `path` (a file or a folder).

    On an exception the temp path is removed and `path` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{os.getpid()}.tmp"
    remove(tmp)
    try:
        yield tmp
    except BaseException:
        remove(tmp)
        raise
    if tmp.is_dir() and path.exists():
        remove(path)  # os.replace cannot replace a non-empty folder
    os.replace(tmp, path)


def write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, "utf-8")


def write_json(path: str | Path, payload: dict | list) -> None:
    write_text(path, json.dumps(payload, indent=2, ensure_ascii=False) + "\n")


def write_parquet(table: pa.Table, path: str | Path, **options) -> None:
    import pyarrow.parquet as pq

    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, **options)


def save_splits(
    tables: dict[str, pa.Table],
    path: str | Path,
    overwrite: bool = False,
    sidecars: dict[str, str | dict] | None = None,
) -> Path:
    """Save split tables as a DatasetDict at `path`, via a temp folder and a rename.

    `sidecars` ({file name: text or JSON payload}) are written inside the temp folder, so the
    dataset and its stats/summaries appear together or not at all.
    """
    from datasets import Dataset, DatasetDict

    path = check_output(path, overwrite)
    with atomic_path(path) as tmp:
        DatasetDict({name: Dataset(table) for name, table in tables.items()}).save_to_disk(str(tmp))
        for name, content in (sidecars or {}).items():
            if isinstance(content, str):
                (tmp / name).write_text(content, "utf-8")
            else:
                (tmp / name).write_text(
                    json.dumps(content, indent=2, ensure_ascii=False) + "\n", "utf-8"
                )
    return path


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()

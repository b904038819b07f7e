"""Write DatasetDicts (`save_to_disk` layout) atomically, and refuse to clobber without consent."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa

from distilldata.errors import InputError


def check_output(path: str | Path, overwrite: bool) -> Path:
    """Fail before any work if `path` exists and the user did not pass --overwrite."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise InputError(f"{path} already exists; pass --overwrite to replace it")
    return path


def save_splits(tables: dict[str, pa.Table], path: str | Path, overwrite: bool = False) -> Path:
    """Save split tables as a DatasetDict at `path`, via a temp folder and a rename."""
    from datasets import Dataset, DatasetDict

    path = check_output(path, overwrite)
    tmp = path.parent / f".{path.name}.tmpwrite"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    DatasetDict({name: Dataset(table) for name, table in tables.items()}).save_to_disk(str(tmp))
    if path.exists():
        shutil.rmtree(path)
    tmp.rename(path)
    return path


def write_json(path: str | Path, payload: dict) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", "utf-8")

"""Read a dataset given as a Hub id, a `save_to_disk` folder, JSONL or Parquet into Arrow tables.

Inputs are only ever read: local files go through pyarrow, `save_to_disk` folders through
`load_from_disk` (memory-mapped; the files it lists in `state.json`, so stray `cache-*.arrow`
files in a split folder are never read back as rows), and nothing calls `Dataset.map` on them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.json as pajson
import pyarrow.parquet as pq

from distilldata.core.errors import InputError

Tables = dict[str, pa.Table]


def _read_jsonl(path: Path) -> pa.Table:
    try:
        return pajson.read_json(path)
    except pa.ArrowInvalid:
        pass
    # pyarrow rejects mixed types; parse line by line to name the bad line or unify the rows.
    rows = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except ValueError as exc:
                raise InputError(
                    f"{path}:{lineno}: invalid JSON ({exc}); fix or remove the line"
                ) from exc
    try:
        return pa.Table.from_pylist(rows)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise InputError(f"{path}: rows do not share one schema ({exc})") from exc


def _table(split) -> pa.Table:
    """A Dataset's rows as one Arrow table, without writing anything next to its files.

    A saved selection/shuffle carries an index mapping; flatten it in memory, because the
    default `flatten_indices()` writes a `cache-*.arrow` into the *input* folder.
    """
    if split._indices is not None:
        split = split.flatten_indices(keep_in_memory=True)
    return split.data.table


def _read_local(path: Path) -> Tables:
    if path.is_dir():
        if (path / "dataset_dict.json").exists() or (path / "state.json").exists():
            from datasets import Dataset, load_from_disk

            loaded = load_from_disk(str(path))
            if isinstance(loaded, Dataset):
                loaded = {"train": loaded}
            return {name: _table(split) for name, split in loaded.items()}
        parquet = sorted(path.glob("*.parquet"))
        if parquet:
            return {"train": pa.concat_tables(pq.read_table(p) for p in parquet)}
        raise InputError(
            f"{path}: a folder with neither a datasets `save_to_disk` layout nor *.parquet files"
        )
    if path.suffix == ".parquet":
        return {"train": pq.read_table(path)}
    if path.suffix in (".jsonl", ".json"):
        return {"train": _read_jsonl(path)}
    raise InputError(
        f"{path}: unsupported file type; use .jsonl, .parquet or a save_to_disk folder"
    )


def _read_hub(dataset: str, subset: str | None) -> Tables:
    from datasets import DatasetDict, load_dataset

    try:
        loaded = load_dataset(dataset, subset)
    except Exception as exc:  # datasets raises many types for "not found / offline"
        offline = os.environ.get("HF_HUB_OFFLINE") == "1"
        hint = " Runs are offline by default: opt in with `make run HUB=1`." if offline else ""
        raise InputError(
            f"could not load '{dataset}' (subset {subset!r}) as a local path or Hub dataset: "
            f"{exc}.{hint}"
        ) from exc
    if not isinstance(loaded, DatasetDict):
        loaded = {"train": loaded}
    return {name: split.data.table for name, split in loaded.items()}


def load_tables(dataset: str, subset: str | None = None) -> Tables:
    """Every split of a dataset as an Arrow table (a lone file or Dataset becomes `train`)."""
    path = Path(dataset)
    tables = _read_local(path) if path.exists() else _read_hub(dataset, subset)
    if "train" not in tables:
        raise InputError(f"{dataset}: no 'train' split (found {sorted(tables)})")
    if all(t.num_rows == 0 for t in tables.values()):
        raise InputError(f"{dataset}: the dataset is empty (0 rows in every split)")
    return tables

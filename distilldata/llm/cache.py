"""Sharded, resumable batch work with a per-group cache, for any LLM pass over a dataset.

- Rows are cut into *groups* of `group_size` rows at fixed boundaries (0, G, 2G, ...); a group is
  the cache unit, one JSON file written atomically and keyed by a digest of its input rows, so a
  killed job redoes at most the group it was in and changed rows are never served stale.
- Shard k of N (one job, e.g. one GPU) takes a contiguous run of whole groups (splits in order,
  about 1/N of all rows), so the cache is the same whatever N is.

No prompt or output format lives here: callers decide what a group's result is.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from pathlib import Path

from distilldata.core.errors import InputError
from distilldata.core.store import write_text

log = logging.getLogger(__name__)


# ---- groups and shards ----------------------------------------------------------------------


def group_bounds(n_rows: int, group_size: int) -> list[tuple[int, int]]:
    if group_size <= 0:
        raise InputError("--group-size must be a positive number of rows")
    return [(s, min(s + group_size, n_rows)) for s in range(0, n_rows, group_size)]


def shard_plan(
    rows_per_split: dict[str, int], group_size: int, shard: int, shards: int
) -> list[tuple[str, int, int]]:
    """The groups (split, start, end) of shard `shard` (0-based) of `shards`.

    All groups of all splits, in split order, form one list; shard k takes the contiguous run
    of whole groups whose first row falls in the k-th N-th of all rows, so shards get about the
    same number of rows and the group boundaries (the cache files) do not depend on N.
    """
    if not 0 <= shard < shards:
        raise InputError(f"shard {shard} is not in 0..{shards - 1}")
    groups = [
        (name, start, end)
        for name, n_rows in rows_per_split.items()
        for start, end in group_bounds(n_rows, group_size)
    ]
    total = sum(rows_per_split.values())
    lo, hi = shard * total / shards, (shard + 1) * total / shards
    plan, offset = [], 0
    for name, start, end in groups:
        if lo <= offset < hi:
            plan.append((name, start, end))
        offset += end - start
    return plan


def parse_shard(text: str) -> tuple[int, int]:
    """`"k/N"` (0-based k) -> (k, N)."""
    try:
        k, n = (int(x) for x in text.split("/"))
    except ValueError as exc:
        raise InputError(f"--shard must look like k/N (0-based), got {text!r}") from exc
    if n <= 0 or not 0 <= k < n:
        raise InputError(f"--shard {text}: need 0 <= k < N")
    return k, n


# ---- cache ----------------------------------------------------------------------------------


def digest_rows(rows: Sequence[dict], keys: Sequence[str]) -> str:
    """A fingerprint of a group's inputs (the values of `keys` in every row), so a cache file is
    never reused for rows that changed under the same ids (e.g. a re-sampled dataset)."""
    payload = [[row.get(k) for k in keys] for row in rows]
    return hashlib.sha1(json.dumps(payload, ensure_ascii=False).encode()).hexdigest()


def labeler_name(
    backend: str, model: str, decisive: dict, *, digits: int, tags: Sequence[str] = ()
) -> str:
    """A cache's labeler: `<backend>-<model>[-<tag>...]-<hash of what decides the results>`, so
    a changed setting gets a fresh cache and the name still says what ran."""
    digest = hashlib.sha1(json.dumps(decisive, sort_keys=True).encode()).hexdigest()[:digits]
    name = model.rstrip("/").split("/")[-1].replace(".", "_") or "model"
    return "-".join([backend, name, *tags, digest])


class GroupCache:
    """One JSON file per (dataset, split, row range) and producer (`labeler`: a model and every
    setting that changes its output), written atomically:
    `{"rows_sha1": <digest of the group's inputs>, "labels": {id: <the group's result>}}`."""

    def __init__(self, root: str | Path, dataset_name: str, labeler: str, debug: bool = False):
        self.base = Path(root) / dataset_name.replace("/", "_") / labeler
        if debug:
            self.base = self.base / "debug"

    def path(self, split: str, start: int, end: int) -> Path:
        return self.base / split / f"{start}-{end}.json"

    def load(self, split: str, start: int, end: int, digest: str) -> dict | None:
        """The cached labels if the file exists and was made from exactly these rows."""
        path = self.path(split, start, end)
        if not path.exists():
            return None
        try:
            data = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError) as exc:
            log.warning("%s: unreadable cache file (%s); recomputing", path, exc)
            return None
        if not isinstance(data, dict) or data.get("rows_sha1") != digest:
            log.warning("%s: made from other rows (or not ours); recomputing", path)
            return None
        return data["labels"]

    def save(self, split: str, start: int, end: int, digest: str, labels: dict) -> None:
        payload = {"rows_sha1": digest, "labels": labels}
        text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        write_text(self.path(split, start, end), text)

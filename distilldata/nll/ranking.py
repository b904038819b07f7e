"""One scored table per corpus: the pool shards' scores merged to one row per id, with
`percentile_within_split`.

A row in two pools (e.g. `tool_use` and `long_context`) is scored in the first pool shard that
samples it, and its other copies say so (flag `scored_in_earlier_pool`): it keeps the scored
copy (else the first pool's in name order; if two copies were both scored, the largest
disagreement is reported, it is float noise) and lists all its pools.

`percentile_within_split` is the share of the corpus's scored rows of the same split whose
`nll_mean` is at most this row's (0 < p <= 1; ties share the highest rank; low = the student
finds the completion easy); flagged rows (null `nll_mean`) get none. Joinable to the pools
and the normalized rows by `id`.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from distilldata.core.errors import InputError
from distilldata.core.store import write_json, write_parquet
from distilldata.nll.score import FLAG_ELSEWHERE, SCORE_SCHEMA

log = logging.getLogger(__name__)

PERCENTILE = "percentile_within_split"


def score_files(paths: Sequence[str | Path]) -> list[Path]:
    """The score shards named: files as given, folders expanded to `*/part-*.parquet` (none
    for a corpus whose every pool was skipped)."""
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found += sorted(path.glob("*/part-*.parquet"))
        elif path.is_file():
            found.append(path)
        else:
            raise InputError(f"{path}: no such score file or folder")
    return sorted(found)


def percentile_within(values: np.ndarray, groups: Sequence[object]) -> np.ndarray:
    """For each value, the share of values of its group that are <= it (NaN stays NaN)."""
    out = np.full(len(values), np.nan)
    groups = np.asarray([str(g) for g in groups], dtype=object)
    for group in sorted(set(groups[~np.isnan(values)])):
        members = np.flatnonzero((groups == group) & ~np.isnan(values))
        ordered = np.sort(values[members])
        out[members] = np.searchsorted(ordered, values[members], side="right") / len(members)
    return out


def merge_scores(tables: Sequence[pa.Table]) -> tuple[pa.Table, dict]:
    """One row per id (first pool in name order), `pools` listing every pool it is in."""
    table = pa.concat_tables(tables, promote_options="default")
    ids = table.column("id").to_pylist()
    pools = table.column("pool").to_pylist()
    means = table.column("nll_mean").to_pylist()
    copy = [f == FLAG_ELSEWHERE for f in table.column("flag").to_pylist()]
    order = sorted(range(len(ids)), key=lambda i: (ids[i], copy[i], str(pools[i])))
    keep, pools_of, spread = [], {}, 0.0
    first: dict[str, int] = {}
    for i in order:
        if ids[i] not in first:
            first[ids[i]] = i
            keep.append(i)
            pools_of[ids[i]] = []
        elif means[i] is not None and means[first[ids[i]]] is not None:
            spread = max(spread, abs(means[i] - means[first[ids[i]]]))
        pools_of[ids[i]].append(pools[i])
    keep.sort()  # input order: corpus files in order, rows as scored
    merged = table.take(pa.array(keep, pa.int64())).drop_columns(["pool"])
    merged = merged.append_column(
        "pools", pa.array([sorted(pools_of[ids[i]]) for i in keep], pa.list_(pa.string()))
    )
    stats = {
        "rows_in": len(ids),
        "ids": len(keep),
        "in_several_pools": sum(len(p) > 1 for p in pools_of.values()),
        "max_score_difference_between_copies": spread,
    }
    return merged, stats


def rank_scores(paths: Sequence[str | Path], output: str | Path, stats_path: str | Path) -> dict:
    """Merge a corpus's score shards into `output` with `percentile_within_split`."""
    files = score_files(paths)
    tables = [pq.read_table(f) for f in files] or [SCORE_SCHEMA.empty_table()]
    merged, stats = merge_scores(tables)
    values = np.asarray(
        pc.fill_null(merged.column("nll_mean"), float("nan")).to_numpy(zero_copy_only=False),
        dtype=np.float64,
    )
    percentile = percentile_within(values, merged.column("split").to_pylist())
    merged = merged.append_column(
        PERCENTILE, pa.array(percentile, pa.float64(), mask=np.isnan(percentile))
    )
    splits = merged.column("split").to_pylist()
    scored = ~np.isnan(values)
    stats.update(
        score_files=[str(f) for f in files],
        scored=int(scored.sum()),
        flagged=dict(sorted(Counter(f for f in merged.column("flag").to_pylist() if f).items())),
        scored_per_split=dict(
            sorted(Counter(s for s, ok in zip(splits, scored, strict=True) if ok).items())
        ),
        has_ifd="ifd" in merged.column_names,
    )
    write_parquet(merged, output)
    write_json(stats_path, stats)
    log.info(
        "%s: %d ids (%d scored) from %d score files", output, len(values), scored.sum(), len(files)
    )
    return stats

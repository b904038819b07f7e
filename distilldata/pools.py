"""Candidate pools for GPU scoring: deduplicated rows grouped by purpose, Parquet shards + manifest.

A pool is a named row predicate over whatever columns exist; a pool whose columns are missing
(or that matches no row) is not created. Every pool row carries `id, text, loss_mode`, the
`dataset/subset/split` provenance and all `meta_*`, `quality_*` and `stats_*` columns.
Duplicates (`quality_is_duplicate`) and rows with special-token literals never enter a pool.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from distilldata.errors import InputError
from distilldata.store import write_json

log = logging.getLogger(__name__)

BASE_COLUMNS = ("id", "text", "loss_mode", "dataset", "subset", "split", "dup_cluster_id")


@dataclass(frozen=True)
class PoolConfig:
    high_correctness: float = 0.75
    low_correctness: float = 0.25
    long_context_tokens: int = 8192
    rows_per_file: int = 100_000


def _col(table: pa.Table, name: str):
    return table.column(name) if name in table.column_names else None


def pool_masks(table: pa.Table, config: PoolConfig) -> dict[str, pa.Array]:
    """{pool name: boolean mask} for the pools this table's columns allow."""
    masks: dict[str, Callable[[], pa.Array]] = {}
    correctness = _col(table, "meta_correctness")
    if correctness is not None:
        masks["missing_correctness_meta"] = lambda: pc.is_null(correctness)
        masks["high_correctness"] = lambda: pc.greater_equal(correctness, config.high_correctness)
        masks["low_correctness"] = lambda: pc.less(correctness, config.low_correctness)
    correct = _col(table, "meta_correct_count")
    if correct is not None:
        masks["verified_correct"] = lambda: pc.greater(correct, 0)
    tools = _col(table, "meta_has_tool_calls")
    if tools is not None:
        masks["tool_use"] = lambda: tools
    tokens = _col(table, "stats_approx_tokens")
    if tokens is not None:
        masks["long_context"] = lambda: pc.greater_equal(tokens, config.long_context_tokens)
    reasoning = _col(table, "meta_reasoning")
    if reasoning is not None:
        lowered = pc.utf8_lower(pc.cast(reasoning, pa.string()))
        masks["reasoning_on"] = lambda: pc.is_in(lowered, pa.array(["on", "true", "yes"]))
        masks["reasoning_off"] = lambda: pc.is_in(lowered, pa.array(["off", "false", "no"]))
    target = _col(table, "meta_capability_target")
    if target is not None:
        for value in sorted(v for v in pc.unique(target).to_pylist() if v):
            slug = "".join(c if c.isalnum() else "_" for c in value.lower()).strip("_")
            masks[f"capability_{slug}"] = lambda v=value: pc.equal(target, v)
    return {name: pc.fill_null(make(), False) for name, make in masks.items()}


def eligible(table: pa.Table) -> pa.Array:
    mask = pa.array([True] * table.num_rows, pa.bool_())
    for column in ("quality_is_duplicate", "quality_special_token_literal"):
        if column in table.column_names:
            mask = pc.and_(mask, pc.invert(pc.fill_null(table.column(column), False)))
    return mask


def pool_columns(table: pa.Table) -> list[str]:
    prefixed = [c for c in table.column_names if c.startswith(("meta_", "quality_", "stats_"))]
    return [c for c in BASE_COLUMNS if c in table.column_names] + prefixed


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def build_pools(shards: Sequence[str | Path], out_dir: str | Path, config: PoolConfig) -> dict:
    """Write `<out>/<pool>/part-NNNNN.parquet` for every non-empty pool and a manifest with
    rows, bytes and sha256 per file. Streams shard by shard; a pool file is closed at
    `rows_per_file` rows."""
    shards = sorted(Path(s) for s in shards)
    if not shards:
        raise InputError("no input shards for the candidate pools")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    writers: dict[str, tuple[pq.ParquetWriter, Path, int]] = {}
    files: list[dict] = []
    counts: dict[str, int] = {}
    parts: dict[str, int] = {}

    def close(pool: str) -> None:
        writer, path, rows = writers.pop(pool)
        writer.close()
        files.append({"pool": pool, "path": str(path.relative_to(out_dir)), "rows": rows})

    rows_in = 0
    for shard in shards:
        table = pq.read_table(shard)
        rows_in += table.num_rows
        if table.num_rows == 0:
            continue
        base = eligible(table)
        columns = pool_columns(table)
        for pool, mask in pool_masks(table, config).items():
            selected = table.filter(pc.and_(base, mask)).select(columns)
            if selected.num_rows == 0:
                continue
            counts[pool] = counts.get(pool, 0) + selected.num_rows
            offset = 0
            while offset < selected.num_rows:
                if pool in writers and writers[pool][2] >= config.rows_per_file:
                    close(pool)
                if pool not in writers:
                    part = parts.get(pool, 0)
                    parts[pool] = part + 1
                    path = out_dir / pool / f"part-{part:05d}.parquet"
                    path.parent.mkdir(parents=True, exist_ok=True)
                    writer = pq.ParquetWriter(path, selected.schema, compression="zstd")
                    writers[pool] = (writer, path, 0)
                writer, path, rows = writers[pool]
                piece = selected.slice(offset, config.rows_per_file - rows)
                writer.write_table(piece)
                writers[pool] = (writer, path, rows + piece.num_rows)
                offset += piece.num_rows
    for pool in list(writers):
        close(pool)
    for entry in files:
        path = out_dir / entry["path"]
        entry["bytes"] = path.stat().st_size
        entry["sha256"] = sha256_file(path)
    manifest = {
        "rows_in": rows_in,
        "pools": dict(sorted(counts.items())),
        "files": sorted(files, key=lambda f: f["path"]),
        "config": {
            "high_correctness": config.high_correctness,
            "low_correctness": config.low_correctness,
            "long_context_tokens": config.long_context_tokens,
            "rows_per_file": config.rows_per_file,
        },
    }
    write_json(out_dir / "pools_manifest.json", manifest)
    log.info("pools: %s", manifest["pools"])
    return manifest

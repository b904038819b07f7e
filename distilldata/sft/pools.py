"""Candidate pools for GPU scoring: deduplicated rows grouped by purpose, Parquet shards + manifest.

A pool is a named row predicate over one defining column. Pools are decided from the values,
not the schema (the normalized schema always has every column): a pool whose column is missing
or null in every row is skipped, and so is a pool no eligible row matches; the manifest says
which and why (`skipped`). Every pool row carries `id, text, loss_mode`, the
`dataset/subset/split` provenance and all `meta_*`, `quality_*` and `stats_*` columns.
Duplicates (`quality_is_duplicate`) and rows with special-token literals never enter a pool.
The pool folder is written under a temp name and renamed into place whole.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from distilldata.core.errors import InputError
from distilldata.core.store import atomic_path, sha256_file, write_json

log = logging.getLogger(__name__)

BASE_COLUMNS = ("id", "text", "loss_mode", "dataset", "subset", "split", "dup_cluster_id")
CAPABILITY_COLUMN = "meta_capability_target"


@dataclass(frozen=True)
class PoolConfig:
    high_correctness: float = 0.75
    low_correctness: float = 0.25
    long_context_tokens: int = 8192
    rows_per_file: int = 100_000


@dataclass(frozen=True)
class Pool:
    """A pool: its name, the column it is defined on, and its row predicate on that column."""

    name: str
    column: str
    select: Callable[[pa.ChunkedArray, PoolConfig], pa.ChunkedArray]


def _lowered(values: pa.ChunkedArray) -> pa.ChunkedArray:
    return pc.utf8_lower(pc.cast(values, pa.string()))


POOLS = (
    Pool("missing_correctness_meta", "meta_correctness", lambda c, _: pc.is_null(c)),
    Pool(
        "high_correctness",
        "meta_correctness",
        lambda c, cfg: pc.greater_equal(c, cfg.high_correctness),
    ),
    Pool("low_correctness", "meta_correctness", lambda c, cfg: pc.less(c, cfg.low_correctness)),
    Pool("verified_correct", "meta_correct_count", lambda c, _: pc.greater(c, 0)),
    Pool("tool_use", "meta_has_tool_calls", lambda c, _: c),
    Pool(
        "long_context",
        "stats_approx_tokens",
        lambda c, cfg: pc.greater_equal(c, cfg.long_context_tokens),
    ),
    Pool(
        "reasoning_on",
        "meta_reasoning",
        lambda c, _: pc.is_in(_lowered(c), pa.array(["on", "true", "yes"])),
    ),
    Pool(
        "reasoning_off",
        "meta_reasoning",
        lambda c, _: pc.is_in(_lowered(c), pa.array(["off", "false", "no"])),
    ),
)


def capability_pools(values: set[str]) -> list[Pool]:
    """One `capability_<slug>` pool per value of `meta_capability_target`."""
    pools = []
    for value in sorted(values):
        slug = "".join(c if c.isalnum() else "_" for c in value.lower()).strip("_")
        pools.append(
            Pool(f"capability_{slug}", CAPABILITY_COLUMN, lambda c, _, v=value: pc.equal(c, v))
        )
    return pools


@dataclass
class ColumnSurvey:
    """Which pool columns exist and hold a value somewhere in the shards (a cheap first pass)."""

    present: set[str]
    with_values: set[str]
    capability_values: set[str]

    @classmethod
    def of(cls, shards: Sequence[Path]) -> ColumnSurvey:
        wanted = {p.column for p in POOLS} | {CAPABILITY_COLUMN}
        survey = cls(set(), set(), set())
        for shard in shards:
            columns = sorted(wanted & set(pq.read_schema(shard).names))
            table = pq.read_table(shard, columns=columns)
            survey.present.update(columns)
            survey.with_values.update(
                c for c in columns if table.column(c).null_count < table.num_rows
            )
            if CAPABILITY_COLUMN in columns:
                values = pc.unique(table.column(CAPABILITY_COLUMN)).to_pylist()
                survey.capability_values.update(v for v in values if v)
        return survey

    def why_skipped(self, column: str) -> str | None:
        if column not in self.present:
            return f"{column} is missing"
        if column not in self.with_values:
            return f"{column} is null in every row"
        return None


def plan_pools(survey: ColumnSurvey) -> tuple[list[Pool], dict[str, str]]:
    """(pools to build, {skipped pool: reason}) from the column survey."""
    pools, skipped = [], {}
    for pool in POOLS:
        reason = survey.why_skipped(pool.column)
        if reason:
            skipped[pool.name] = reason
        else:
            pools.append(pool)
    reason = survey.why_skipped(CAPABILITY_COLUMN)
    if reason:
        skipped["capability_*"] = reason
    pools += capability_pools(survey.capability_values)
    return pools, skipped


def pool_masks(table: pa.Table, config: PoolConfig, pools: Sequence[Pool]) -> dict[str, pa.Array]:
    """{pool name: boolean mask} of one table (nulls never select a row)."""
    return {
        pool.name: pc.fill_null(pool.select(table.column(pool.column), config), False)
        for pool in pools
        if pool.column in table.column_names
    }


def eligible(table: pa.Table) -> pa.Array:
    mask = pa.array([True] * table.num_rows, pa.bool_())
    for column in ("quality_is_duplicate", "quality_special_token_literal"):
        if column in table.column_names:
            mask = pc.and_(mask, pc.invert(pc.fill_null(table.column(column), False)))
    return mask


def pool_columns(table: pa.Table) -> list[str]:
    prefixed = [c for c in table.column_names if c.startswith(("meta_", "quality_", "stats_"))]
    return [c for c in BASE_COLUMNS if c in table.column_names] + prefixed


class PoolFiles:
    """Which Parquet file of which pool the next rows go to: a new file every `rows_per_file`
    rows, files opened by `open_writer(path, schema)` under `root`."""

    def __init__(self, root: Path, rows_per_file: int, open_writer: Callable):
        self.root, self.rows_per_file, self.open_writer = root, rows_per_file, open_writer
        self.open: dict[str, tuple[pq.ParquetWriter, Path, int]] = {}
        self.parts: dict[str, int] = {}
        self.counts: dict[str, int] = {}
        self.files: list[dict] = []

    def pieces(self, pool: str, rows: pa.Table) -> Iterator[tuple[pq.ParquetWriter, pa.Table]]:
        """(writer, slice of `rows`) pairs that fill the pool's files in order."""
        if rows.num_rows == 0:
            return
        self.counts[pool] = self.counts.get(pool, 0) + rows.num_rows
        offset = 0
        while offset < rows.num_rows:
            if pool in self.open and self.open[pool][2] >= self.rows_per_file:
                self._close(pool)
            if pool not in self.open:
                self._start(pool, rows.schema)
            writer, path, done = self.open[pool]
            piece = rows.slice(offset, self.rows_per_file - done)
            self.open[pool] = (writer, path, done + piece.num_rows)
            offset += piece.num_rows
            yield writer, piece

    def _start(self, pool: str, schema: pa.Schema) -> None:
        part = self.parts.get(pool, 0)
        self.parts[pool] = part + 1
        path = self.root / pool / f"part-{part:05d}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        self.open[pool] = (self.open_writer(path, schema), path, 0)

    def _close(self, pool: str) -> None:
        writer, path, rows = self.open.pop(pool)
        writer.close()
        self.files.append(
            {
                "pool": pool,
                "path": str(path.relative_to(self.root)),
                "rows": rows,
                "bytes": path.stat().st_size,
                "sha256": sha256_file(path),
            }
        )

    def close(self) -> list[dict]:
        for pool in list(self.open):
            self._close(pool)
        return sorted(self.files, key=lambda f: f["path"])


def build_pools(shards: Sequence[str | Path], out_dir: str | Path, config: PoolConfig) -> dict:
    """Write `<out>/<pool>/part-NNNNN.parquet` for every non-empty pool and a manifest with
    rows, bytes and sha256 per file, plus the pools skipped and why. Streams shard by shard;
    the folder replaces `out_dir` only once complete."""
    shards = sorted(Path(s) for s in shards)
    if not shards:
        raise InputError("no input shards for the candidate pools")
    pools, skipped = plan_pools(ColumnSurvey.of(shards))
    rows_in = 0
    with atomic_path(out_dir) as tmp:
        tmp.mkdir()
        out = PoolFiles(
            tmp,
            config.rows_per_file,
            lambda path, schema: pq.ParquetWriter(path, schema, compression="zstd"),
        )
        for shard in shards:
            table = pq.read_table(shard)
            rows_in += table.num_rows
            base, columns = eligible(table), pool_columns(table)
            for pool, mask in pool_masks(table, config, pools).items():
                selected = table.filter(pc.and_(base, mask)).select(columns)
                for writer, piece in out.pieces(pool, selected):
                    writer.write_table(piece)
        files = out.close()
        for pool in pools:
            if pool.name not in out.counts:
                skipped[pool.name] = "no eligible row matches"
        manifest = {
            "rows_in": rows_in,
            "pools": dict(sorted(out.counts.items())),
            "skipped": dict(sorted(skipped.items())),
            "files": files,
            "config": {
                "high_correctness": config.high_correctness,
                "low_correctness": config.low_correctness,
                "long_context_tokens": config.long_context_tokens,
                "rows_per_file": config.rows_per_file,
            },
        }
        write_json(tmp / "pools_manifest.json", manifest)
    log.info("pools: %s; skipped: %s", manifest["pools"], manifest["skipped"])
    return manifest

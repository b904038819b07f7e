"""Exact + near-duplicate removal in four file-based stages (datatrove's layout), one job each:

1. `compute_signatures` (per shard): the dedup key of every row (completion, prompt or full
   text), its exact hash (xxh3-128) and its MinHash LSH band keys -> a signature Parquet file.
2. `find_bucket_edges` (per bucket job; bands are dealt round-robin to jobs, exact hashes go to
   job 0): rows sharing a band key (or exact hash) -> edges (id, id, kind).
3. `build_clusters` (one job): union-find over the edges. Survivor = the lowest id of a
   component (deterministic); `dup_cluster_id` = that id. Exact duplicates are the non-survivors
   of the exact-only components; near duplicates the other non-survivors.
4. `filter_shard` (per shard): adds `dup_cluster_id`/`quality_is_duplicate`, drops exact
   duplicates (and near duplicates when configured), counts everything in a stats file.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from distilldata.errors import InputError
from distilldata.exact_dedup import exact_hash
from distilldata.harmony import HarmonyParseError, parse_harmony
from distilldata.minhash import MinHashConfig, MinHasher, bucket_edges
from distilldata.store import write_json

log = logging.getLogger(__name__)

KEYS = ("completion", "prompt", "text")
EDGE_SCHEMA = pa.schema([("a", pa.string()), ("b", pa.string()), ("kind", pa.string())])
CLUSTER_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("dup_cluster_id", pa.string()),
        ("exact_duplicate", pa.bool_()),
        ("near_duplicate", pa.bool_()),
        ("keep_origin", pa.string()),
    ]
)


@dataclass(frozen=True)
class DedupConfig:
    key: str = "completion"
    minhash: MinHashConfig = field(default_factory=MinHashConfig)
    near_duplicates: str = "tag"  # tag | drop | off
    drop_exact: bool = True

    def __post_init__(self):
        if self.key not in KEYS:
            raise InputError(f"unknown dedup key {self.key!r}; expected one of {KEYS}")
        if self.near_duplicates not in ("tag", "drop", "off"):
            raise InputError("near_duplicates must be tag, drop or off")


def dedup_key(text: str, key: str) -> str:
    """The part of a Harmony text a dedup key is computed on: assistant bodies (`completion`),
    user bodies (`prompt`) or everything (`text`)."""
    if key == "text":
        return text
    try:
        messages = parse_harmony(text)
    except HarmonyParseError:
        return text
    if key == "completion":
        return "\n".join(m.content for m in messages if m.author == "assistant")
    return "\n".join(m.content for m in messages if m.author == "user")


def signature_schema(bands: int) -> pa.Schema:
    return pa.schema(
        [
            ("id", pa.string()),
            ("origin", pa.string()),
            ("has_key", pa.bool_()),
            ("exact_hi", pa.uint64()),
            ("exact_lo", pa.uint64()),
            *[(f"band_{i:03d}", pa.uint64()) for i in range(bands)],
        ]
    )


def compute_signatures(
    shard: str | Path, output: str | Path, config: DedupConfig, batch_rows: int = 2000
) -> int:
    """Stage 1: one signature row per normalized row (streamed in batches)."""
    hasher = MinHasher(config.minhash)
    schema = signature_schema(config.minhash.bands)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    rows = 0
    with pq.ParquetWriter(output, schema, compression="zstd") as writer:
        pf = pq.ParquetFile(shard)
        columns = ["id", "text", "split", "source_file", "source_row"]
        for batch in pf.iter_batches(batch_size=batch_rows, columns=columns):
            ids = batch.column("id").to_pylist()
            keys = [dedup_key(t, config.key) for t in batch.column("text").to_pylist()]
            exact = [exact_hash(k) for k in keys]
            has_key = [bool(k.strip()) for k in keys]
            if config.near_duplicates != "off":
                bands = hasher.band_keys(hasher.signatures_for_texts(keys))
            else:
                bands = np.zeros((len(ids), config.minhash.bands), dtype=np.uint64)
            columns = {
                "id": ids,
                "origin": origins(batch),
                "has_key": has_key,
                "exact_hi": [e[0] for e in exact],
                "exact_lo": [e[1] for e in exact],
            }
            for i in range(config.minhash.bands):
                columns[f"band_{i:03d}"] = bands[:, i]
            writer.write_table(pa.table(columns, schema=schema))
            rows += len(ids)
        if rows == 0:
            writer.write_table(schema.empty_table())
    return rows


def origins(batch: pa.RecordBatch | pa.Table) -> list[str]:
    """Where each row came from (`split/source_file:source_row`): unique within a dataset."""
    return [
        f"{split}/{name}:{row:012d}"
        for split, name, row in zip(
            *(batch.column(c).to_pylist() for c in ("split", "source_file", "source_row")),
            strict=True,
        )
    ]


def _same_id_edges(table: pa.Table, edges: dict) -> None:
    """Rows without a uuid get a content-hash id, so identical rows share an id: keep the row
    with the smallest origin (edge id -> origin, kind `same_id`)."""
    keeper: dict[str, str] = {}
    repeated: set[str] = set()
    for rid, origin in zip(
        table.column("id").to_pylist(), table.column("origin").to_pylist(), strict=True
    ):
        if rid in keeper:
            repeated.add(rid)
            keeper[rid] = min(keeper[rid], origin)
        else:
            keeper[rid] = origin
    for rid in sorted(repeated):
        edges["a"].append(rid)
        edges["b"].append(keeper[rid])
        edges["kind"].append("same_id")


def find_bucket_edges(
    signatures: Sequence[str | Path], output: str | Path, bucket: int, buckets: int, bands: int
) -> int:
    """Stage 2: edges between rows sharing a band key (bands b with b % buckets == bucket);
    bucket 0 also emits the exact-hash edges."""
    mine = [b for b in range(bands) if b % buckets == bucket]
    columns = ["id", "has_key"] + [f"band_{b:03d}" for b in mine]
    if bucket == 0:
        columns += ["exact_hi", "exact_lo", "origin"]
    tables = [pq.read_table(p, columns=columns) for p in signatures]
    table = pa.concat_tables(tables) if tables else None
    edges: dict[str, list[str]] = {"a": [], "b": [], "kind": []}
    if table is not None and table.num_rows:
        if bucket == 0:
            _same_id_edges(table, edges)
        keep = np.asarray(table.column("has_key").to_numpy(zero_copy_only=False), dtype=bool)
        ids = np.asarray(table.column("id").to_pylist(), dtype=object)[keep]
        if bucket == 0:
            hi = table.column("exact_hi").to_numpy()[keep]
            lo = table.column("exact_lo").to_numpy()[keep]
            combined = np.rec.fromarrays([hi, lo]).view(np.dtype((np.void, 16))).ravel()
            _, inverse = np.unique(combined, return_inverse=True)
            _add(edges, ids, bucket_edges(inverse.astype(np.uint64)), "exact")
        for b in mine:
            column = table.column(f"band_{b:03d}").to_numpy()[keep]
            _add(edges, ids, bucket_edges(column), "near")
    out = pa.table(edges, schema=EDGE_SCHEMA)
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(out, output, compression="zstd")
    return out.num_rows


def _add(edges: dict, ids: np.ndarray, pairs: list[tuple[int, int]], kind: str) -> None:
    for first, other in pairs:
        if ids[first] == ids[other]:  # identical rows sharing a content-hash id: `same_id`
            continue
        edges["a"].append(ids[first])
        edges["b"].append(ids[other])
        edges["kind"].append(kind)


class UnionFind:
    """Union-find whose root is always the smallest id (so survivors are deterministic)."""

    def __init__(self):
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        parent = self.parent
        root = x
        while parent.get(root, root) != root:
            root = parent[root]
        while parent.get(x, x) != root:
            parent[x], x = root, parent[x]
        return root

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            low, high = (ra, rb) if ra < rb else (rb, ra)
            self.parent[high] = low
            self.parent.setdefault(low, low)


def build_clusters(edge_files: Sequence[str | Path], output: str | Path, stats: str | Path) -> dict:
    """Stage 3: components over all edges -> one row per id that has a duplicate."""
    exact, every = UnionFind(), UnionFind()
    keepers: dict[str, str] = {}
    n_edges = Counter()
    for path in edge_files:
        table = pq.read_table(path)
        for a, b, kind in zip(
            *(table.column(c).to_pylist() for c in ("a", "b", "kind")), strict=True
        ):
            n_edges[kind] += 1
            if kind == "same_id":
                keepers[a] = b
                continue
            every.union(a, b)
            if kind == "exact":
                exact.union(a, b)
    members = sorted(set(every.parent) | set(keepers))
    rows: dict[str, list] = {name: [] for name in CLUSTER_SCHEMA.names}
    exact_dups = near_dups = 0
    for member in members:
        root = every.find(member)
        is_exact = exact.find(member) != member
        is_near = not is_exact and root != member
        rows["id"].append(member)
        rows["dup_cluster_id"].append(root)
        rows["exact_duplicate"].append(is_exact)
        rows["near_duplicate"].append(is_near)
        rows["keep_origin"].append(keepers.get(member))
        exact_dups += is_exact
        near_dups += is_near
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(rows, schema=CLUSTER_SCHEMA), output, compression="zstd")
    summary = {
        "edges": dict(n_edges),
        "rows_in_clusters": len(every.parent),
        "clusters": len({every.find(m) for m in every.parent}),
        "exact_duplicates": exact_dups,
        "near_duplicates": near_dups,
        "ids_shared_by_identical_rows": len(keepers),
    }
    write_json(stats, summary)
    return summary


def filter_shard(
    shard: str | Path,
    clusters: str | Path,
    output: str | Path,
    stats: str | Path,
    config: DedupConfig,
) -> dict:
    """Stage 4: tag and drop duplicates of one normalized shard."""
    table = pq.read_table(shard)
    cl = pq.read_table(clusters)
    lookup = {
        row[0]: row[1:]
        for row in zip(*(cl.column(k).to_pylist() for k in CLUSTER_SCHEMA.names), strict=True)
    }
    info = []
    for rid, origin in zip(table.column("id").to_pylist(), origins(table), strict=True):
        cluster, exact, near, keeper = lookup.get(rid, (None, False, False, None))
        if keeper is not None and origin != keeper:  # an identical row (same content-hash id)
            cluster, exact, near = cluster or rid, True, False
        info.append((cluster, exact, near))
    keep = [
        not (e and config.drop_exact) and not (n and config.near_duplicates == "drop")
        for _, e, n in info
    ]
    column = table.schema.get_field_index("quality_is_duplicate")
    is_dup = pa.array([e or n for _, e, n in info], pa.bool_())
    table = table.set_column(column, "quality_is_duplicate", is_dup)
    table = table.append_column("dup_cluster_id", pa.array([c for c, _, _ in info], pa.string()))
    out = table.filter(pa.array(keep, pa.bool_()))
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(out, output, compression="zstd")
    exact = sum(1 for _, e, _ in info if e)
    near = sum(1 for _, _, n in info if n)
    summary = {
        "source": str(shard),
        "rows_in": len(info),
        "rows_out": out.num_rows,
        "dropped": {
            "exact_duplicate": exact if config.drop_exact else 0,
            "near_duplicate": near if config.near_duplicates == "drop" else 0,
        },
        "tagged_near_duplicate": near,
    }
    assert summary["rows_in"] == summary["rows_out"] + sum(summary["dropped"].values())
    write_json(stats, summary)
    return summary

"""Exact + near-duplicate removal in four file-based stages (datatrove's layout), one job each:

1. `compute_signatures` (per shard): the dedup key of every row (completion, prompt or full
   text), its exact hash (xxh3-128), its MinHash LSH band keys (null when near-duplicate search
   is off or the key has no words) and its node key -> a signature Parquet file.
2. `find_bucket_edges` (per bucket job; bands are dealt round-robin to jobs, exact hashes go to
   job 0): rows sharing a band key (or exact hash) -> edges (node, node, kind).
3. `build_clusters` (one job): union-find over the edges. Survivor = the first row of a
   component in (corpus order, quality severity of its `quality_tags`, id) order, so the
   cleanest copy wins and ties are deterministic; `dup_cluster_id` = the survivor's id. Exact
   duplicates are the non-survivors of the exact-only components; near duplicates the other
   non-survivors.
4. `filter_shard` (per shard): adds `dup_cluster_id`/`quality_is_duplicate`, drops exact
   duplicates (and near duplicates when configured), counts everything in a stats file.

A node is one (corpus, id). Per-corpus runs give every row the same corpus; a cross-corpus run
feeds the signatures of several corpora (each with its config position) to one set of bucket
and cluster jobs, so a conversation found in two corpora survives only in the first.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from distilldata.core.errors import InputError
from distilldata.core.store import atomic_path, write_json, write_parquet
from distilldata.sft.quality import severity
from distilldata.text.exact_hash import exact_hash
from distilldata.text.harmony import HarmonyParseError, parse_harmony
from distilldata.text.minhash import MinHashConfig, MinHasher, bucket_edges

log = logging.getLogger(__name__)

KEYS = ("completion", "prompt", "text")
EDGE_SCHEMA = pa.schema(
    [
        ("a", pa.string()),
        ("b", pa.string()),
        ("kind", pa.string()),
        ("a_rank", pa.int32()),  # quality severity of the rows (survivor order); null: none
        ("b_rank", pa.int32()),
    ]
)
CLUSTER_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("corpus", pa.string()),
        ("dup_cluster_id", pa.string()),
        ("survivor_corpus", pa.string()),
        ("exact_duplicate", pa.bool_()),
        ("near_duplicate", pa.bool_()),
        ("keep_origin", pa.string()),
    ]
)
_SEP = ":"


def node_key(corpus_order: int, corpus: str, rid: str) -> str:
    """A row's node in the duplicate graph: (corpus position in the config, corpus, id)."""
    return f"{corpus_order:04d}{_SEP}{corpus}{_SEP}{rid}"


def split_node(node: str) -> tuple[str, str]:
    """(corpus, id) of a node key."""
    _, corpus, rid = node.split(_SEP, 2)
    return corpus, rid


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
            ("node", pa.string()),
            ("rank", pa.int32()),
            ("origin", pa.string()),
            ("has_key", pa.bool_()),
            ("exact_hi", pa.uint64()),
            ("exact_lo", pa.uint64()),
            *[(f"band_{i:03d}", pa.uint64()) for i in range(bands)],
        ]
    )


def compute_signatures(
    shard: str | Path,
    output: str | Path,
    config: DedupConfig,
    batch_rows: int = 2000,
    corpus: str = "",
    corpus_order: int = 0,
) -> int:
    """Stage 1: one signature row per normalized row (streamed in batches). `corpus` and
    `corpus_order` (its position in the config) matter when several corpora are clustered
    together: the first corpus keeps a shared row."""
    if _SEP in corpus:
        raise InputError(f"corpus name {corpus!r} must not contain {_SEP!r}")
    hasher = MinHasher(config.minhash)
    schema = signature_schema(config.minhash.bands)
    rows = 0
    with atomic_path(output) as tmp, pq.ParquetWriter(tmp, schema, compression="zstd") as writer:
        pf = pq.ParquetFile(shard)
        columns = ["id", "text", "split", "source_file", "source_row", "quality_tags"]
        for batch in pf.iter_batches(batch_size=batch_rows, columns=columns):
            ids = batch.column("id").to_pylist()
            tags = batch.column("quality_tags").to_pylist()
            keys = [dedup_key(t, config.key) for t in batch.column("text").to_pylist()]
            exact = [exact_hash(k) for k in keys]
            has_key = [bool(k.strip()) for k in keys]
            bands = _band_columns(hasher, keys, config)
            columns = {
                "id": ids,
                "node": [node_key(corpus_order, corpus, rid) for rid in ids],
                "rank": [severity(t) for t in tags],
                "origin": origins(batch),
                "has_key": has_key,
                "exact_hi": [e[0] for e in exact],
                "exact_lo": [e[1] for e in exact],
            }
            columns.update(bands)
            writer.write_table(pa.table(columns, schema=schema))
            rows += len(ids)
        if rows == 0:
            writer.write_table(schema.empty_table())
    return rows


def _band_columns(hasher: MinHasher, keys: list[str], config: DedupConfig) -> dict:
    """`band_NNN` columns; null (never bucketed) when near-duplicate search is off and for keys
    without shingles (no word character), whose band keys would all collide."""
    bands = config.minhash.bands
    if config.near_duplicates == "off":
        nulls = pa.nulls(len(keys), pa.uint64())
        return {f"band_{i:03d}": nulls for i in range(bands)}
    values, has_shingles = hasher.band_keys_for_texts(keys)
    missing = ~has_shingles
    return {
        f"band_{i:03d}": pa.array(values[:, i], pa.uint64(), mask=missing) for i in range(bands)
    }


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
    """Rows without a uuid get a content-hash id, so identical rows of a corpus share a node:
    keep the row with the smallest origin (edge node -> origin, kind `same_id`)."""
    keeper: dict[str, tuple[str, int]] = {}
    repeated: set[str] = set()
    for node, origin, rank in zip(
        *(table.column(c).to_pylist() for c in ("node", "origin", "rank")), strict=True
    ):
        if node in keeper:
            repeated.add(node)
            keeper[node] = (min(keeper[node][0], origin), min(keeper[node][1], rank))
        else:
            keeper[node] = (origin, rank)
    for node in sorted(repeated):
        _edge(edges, node, keeper[node][0], "same_id", keeper[node][1], None)


def _edge(edges: dict, a: str, b: str, kind: str, a_rank: int | None, b_rank: int | None):
    for column, value in zip(EDGE_SCHEMA.names, (a, b, kind, a_rank, b_rank), strict=True):
        edges[column].append(value)


def find_bucket_edges(
    signatures: Sequence[str | Path], output: str | Path, bucket: int, buckets: int, bands: int
) -> int:
    """Stage 2: edges between rows sharing a band key (bands b with b % buckets == bucket);
    bucket 0 also emits the exact-hash edges."""
    mine = [b for b in range(bands) if b % buckets == bucket]
    columns = ["node", "rank", "has_key"] + [f"band_{b:03d}" for b in mine]
    if bucket == 0:
        columns += ["exact_hi", "exact_lo", "origin"]
    tables = [pq.read_table(p, columns=columns) for p in signatures]
    table = pa.concat_tables(tables) if tables else None
    edges: dict[str, list] = {name: [] for name in EDGE_SCHEMA.names}
    if table is not None and table.num_rows:
        if bucket == 0:
            _same_id_edges(table, edges)
        keep = np.asarray(table.column("has_key").to_numpy(zero_copy_only=False), dtype=bool)
        nodes = np.asarray(table.column("node").to_pylist(), dtype=object)[keep]
        ranks = table.column("rank").to_numpy()[keep]
        if bucket == 0:
            hi = table.column("exact_hi").to_numpy()[keep]
            lo = table.column("exact_lo").to_numpy()[keep]
            combined = np.rec.fromarrays([hi, lo]).view(np.dtype((np.void, 16))).ravel()
            _, inverse = np.unique(combined, return_inverse=True)
            _add(edges, nodes, ranks, bucket_edges(inverse.astype(np.uint64)), "exact")
        for b in mine:
            _add_band(edges, nodes, ranks, table.column(f"band_{b:03d}"), keep)
    out = pa.table(edges, schema=EDGE_SCHEMA)
    write_parquet(out, output, compression="zstd")
    return out.num_rows


def _add_band(
    edges: dict, nodes: np.ndarray, ranks: np.ndarray, column: pa.ChunkedArray, keep: np.ndarray
) -> None:
    """Near edges of one band; null keys (near search off, no shingles) are never bucketed."""
    valid = keep & np.asarray(pc.is_valid(column).to_numpy(zero_copy_only=False), dtype=bool)
    if not valid.any():
        return
    rows = np.flatnonzero(valid[keep])
    values = pc.fill_null(column, 0).to_numpy()[valid]
    _add(edges, nodes[rows], ranks[rows], bucket_edges(values), "near")


def _add(
    edges: dict, nodes: np.ndarray, ranks: np.ndarray, pairs: list[tuple[int, int]], kind: str
) -> None:
    for first, other in pairs:
        if nodes[first] == nodes[other]:  # identical rows sharing a node: `same_id` edges
            continue
        _edge(edges, nodes[first], nodes[other], kind, int(ranks[first]), int(ranks[other]))


class UnionFind:
    """Plain union-find over node keys (survivors are chosen per component afterwards)."""

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


@dataclass
class Graph:
    """Everything stage 3 reads from the edge files."""

    exact: UnionFind = field(default_factory=UnionFind)
    every: UnionFind = field(default_factory=UnionFind)
    keepers: dict[str, str] = field(default_factory=dict)  # node -> origin of the row kept
    ranks: dict[str, int] = field(default_factory=dict)  # node -> best quality severity
    edges: Counter = field(default_factory=Counter)

    def rank(self, node: str, value: int | None) -> None:
        if value is not None:
            self.ranks[node] = min(value, self.ranks.get(node, value))

    def survivor_order(self, node: str) -> tuple:
        """Corpus position, then quality severity, then corpus and id."""
        return node.split(_SEP, 1)[0], self.ranks.get(node, 0), node

    def survivors(self, uf: UnionFind) -> dict[str, str]:
        """{component root: its surviving node}."""
        best: dict[str, str] = {}
        for node in uf.parent:
            root = uf.find(node)
            if root not in best or self.survivor_order(node) < self.survivor_order(best[root]):
                best[root] = node
        return best


def _read_edges(edge_files: Sequence[str | Path]) -> Graph:
    graph = Graph()
    for path in edge_files:
        table = pq.read_table(path)
        for a, b, kind, a_rank, b_rank in zip(
            *(table.column(c).to_pylist() for c in EDGE_SCHEMA.names), strict=True
        ):
            graph.edges[kind] += 1
            graph.rank(a, a_rank)
            if kind == "same_id":
                graph.keepers[a] = b
                continue
            graph.rank(b, b_rank)
            graph.every.union(a, b)
            if kind == "exact":
                graph.exact.union(a, b)
    return graph


def build_clusters(edge_files: Sequence[str | Path], output: str | Path, stats: str | Path) -> dict:
    """Stage 3: components over all edges -> one row per (corpus, id) that has a duplicate."""
    graph = _read_edges(edge_files)
    every, exact = graph.survivors(graph.every), graph.survivors(graph.exact)
    rows: dict[str, list] = {name: [] for name in CLUSTER_SCHEMA.names}
    counts: Counter = Counter()
    for member in sorted(set(graph.every.parent) | set(graph.keepers)):
        survivor = every.get(graph.every.find(member), member)
        is_exact = exact.get(graph.exact.find(member), member) != member
        is_near = not is_exact and survivor != member
        (corpus, rid), (survivor_corpus, survivor_id) = split_node(member), split_node(survivor)
        keeper = graph.keepers.get(member)
        values = (rid, corpus, survivor_id, survivor_corpus, is_exact, is_near, keeper)
        for name, value in zip(CLUSTER_SCHEMA.names, values, strict=True):
            rows[name].append(value)
        counts["exact_duplicates"] += is_exact
        counts["near_duplicates"] += is_near
        counts["cross_corpus_duplicates"] += survivor_corpus != corpus
    write_parquet(pa.table(rows, schema=CLUSTER_SCHEMA), output, compression="zstd")
    summary = {
        "edges": dict(graph.edges),
        "rows_in_clusters": len(graph.every.parent),
        "clusters": len(every),
        **{key: counts[key] for key in ("exact_duplicates", "near_duplicates")},
        "cross_corpus_duplicates": counts["cross_corpus_duplicates"],
        "ids_shared_by_identical_rows": len(graph.keepers),
    }
    write_json(stats, summary)
    return summary


def _cluster_lookup(clusters: str | Path) -> dict[tuple[str, str], tuple]:
    """(corpus, id) -> (survivor id, survivor corpus, exact, near, keep origin)."""
    cl = pq.read_table(clusters)
    columns = [cl.column(k).to_pylist() for k in CLUSTER_SCHEMA.names]
    return {(row[1], row[0]): row[2:] for row in zip(*columns, strict=True)}


def filter_shard(
    shard: str | Path,
    clusters: str | Path,
    output: str | Path,
    stats: str | Path,
    config: DedupConfig,
    corpus: str = "",
) -> dict:
    """Stage 4: tag and drop duplicates of one normalized shard of `corpus`."""
    table = pq.read_table(shard)
    lookup = _cluster_lookup(clusters)
    info = []
    for rid, origin in zip(table.column("id").to_pylist(), origins(table), strict=True):
        cluster, other, exact, near, keeper = lookup.get(
            (corpus, rid), (None, corpus, False, False, None)
        )
        if keeper is not None and origin != keeper:  # an identical row (same content-hash id)
            cluster, other, exact, near = cluster or rid, corpus, True, False
        info.append((cluster, exact, near, other != corpus))
    keep = [
        not (e and config.drop_exact) and not (n and config.near_duplicates == "drop")
        for _, e, n, _ in info
    ]
    column = table.schema.get_field_index("quality_is_duplicate")
    is_dup = pa.array([e or n for _, e, n, _ in info], pa.bool_())
    table = table.set_column(column, "quality_is_duplicate", is_dup)
    table = table.append_column("dup_cluster_id", pa.array([i[0] for i in info], pa.string()))
    out = table.filter(pa.array(keep, pa.bool_()))
    exact = sum(1 for i in info if i[1])
    near = sum(1 for i in info if i[2])
    summary = {
        "source": str(shard),
        "corpus": corpus,
        "rows_in": len(info),
        "rows_out": out.num_rows,
        "dropped": {
            "exact_duplicate": exact if config.drop_exact else 0,
            "near_duplicate": near if config.near_duplicates == "drop" else 0,
        },
        "tagged_near_duplicate": near,
        "cross_corpus_duplicates": sum(1 for i in info if i[3]),
    }
    if summary["rows_in"] != summary["rows_out"] + sum(summary["dropped"].values()):
        raise RuntimeError(
            f"{shard}: rows in ({summary['rows_in']}) != rows out ({summary['rows_out']}) + "
            f"dropped {summary['dropped']}; nothing written"
        )
    write_parquet(out, output, compression="zstd")
    write_json(stats, summary)
    return summary

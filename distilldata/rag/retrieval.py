"""Retrieval for the workflow and the seed's Python API, behind one interface (`Retriever`).

Python API (as ScaleDown's `scaledown.data.retrieval`):

    from distilldata.rag.retrieval import SPLADERetriever, make_retriever
    results = SPLADERetriever("package:cognition/model").retrieve(queries, corpus, top_k=5)
    # corpus: [{"id", "title", "text"}]; results[i]: [{"id", "title", "text", "retrieval_score"}]
    bm25 = make_retriever("bm25", lang="en")   # also "dense", "hybrid"

Workflow steps (one script each, one Snakemake job each):
- `build_index`: the index of one corpus part (`splade`: `.npz`, `dense`: `.npy`) or, for BM25,
  of all parts at once (a bm25s folder);
- `search_shard`: one query batch against one part (or the BM25 index): the batch's top-k with
  each hit's (part, row), so the merge can apply the tie rule;
- `merge_hits`: the shards of a (dataset, retriever) -> `hits/<dataset>/<retriever>.parquet`,
  `qid, chunk_ids, scores` in rank order, equal to an unsharded search;
- `fuse_hits`: reciprocal-rank fusion of retrievers' merged hits (a `hybrid` retriever).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa

from distilldata.core.errors import InputError
from distilldata.core.progress import Progress
from distilldata.core.store import atomic_path, write_parquet
from distilldata.llm.cache import parse_shard
from distilldata.rag.bm25 import BM25Retriever
from distilldata.rag.dense import DenseRetriever
from distilldata.rag.hybrid import RRF_K, HybridRetriever, rrf_fuse
from distilldata.rag.ranking import Retriever, TopK, document_text, merge_ranked
from distilldata.rag.splade import SPLADERetriever

log = logging.getLogger(__name__)

__all__ = [
    "BM25Retriever",
    "DenseRetriever",
    "HybridRetriever",
    "Retriever",
    "SPLADERetriever",
    "make_retriever",
]

RETRIEVER_KINDS = ("splade", "bm25", "dense", "hybrid")
HITS_SCHEMA = pa.schema(
    [("qid", pa.string()), ("chunk_ids", pa.list_(pa.string())), ("scores", pa.list_(pa.float32()))]
)
SHARD_SCHEMA = pa.schema(
    [
        *HITS_SCHEMA,
        ("parts", pa.list_(pa.int32())),
        ("rows", pa.list_(pa.int64())),
    ]
)


def make_retriever(kind: str, **options) -> Retriever:
    """A retriever by kind. Options: `model`/`model_name`, `batch_size`, `max_length`,
    `device`, `threads` (splade, dense); `screen` (splade); `faiss_min_chunks` (dense); `lang`,
    `stemmer`, `stopwords`, `ja`, `k1`, `b`, `method` (bm25); `retrievers` (a list of retrievers
    or of `{"kind", ...}` option dicts; default splade + bm25), `rrf_k`, `depth` (hybrid)."""
    options = {k: v for k, v in options.items() if v is not None}
    model = options.pop("model", None) or options.pop("model_name", None)
    if kind == "splade":
        return SPLADERetriever(**({"model_name": model} if model else {}), **options)
    if kind == "dense":
        return DenseRetriever(**({"model_name": model} if model else {}), **options)
    if kind == "bm25":
        return BM25Retriever(**options)
    if kind == "hybrid":
        parts = options.pop("retrievers", None) or [
            {"kind": "splade", **({"model": model} if model else {})},
            {"kind": "bm25"},
        ]
        components = [p if isinstance(p, Retriever) else make_retriever(**p) for p in parts]
        return HybridRetriever(components, **options)
    raise InputError(f"unknown retriever kind {kind!r}; choose from {RETRIEVER_KINDS}")


# ---- reading corpus parts and queries ---------------------------------------------------------


def read_chunk_texts(parts: Sequence[str | Path]) -> list[str]:
    """What a retriever indexes, part after part: `f"{title} {text}"` of every chunk."""
    import pyarrow.parquet as pq

    texts = []
    for part in parts:
        table = pq.read_table(part, columns=["title", "text"])
        texts += [
            document_text(t, x)
            for t, x in zip(table["title"].to_pylist(), table["text"].to_pylist(), strict=True)
        ]
    return texts


def part_sizes(parts: Sequence[str | Path]) -> list[int]:
    import pyarrow.parquet as pq

    return [pq.ParquetFile(p).metadata.num_rows for p in parts]


def parse_batch(text: str) -> tuple[int, int]:
    """`"b/N"` (0-based b) -> (b, N), as `--batch`."""
    try:
        return parse_shard(text)
    except InputError as exc:
        raise InputError(str(exc).replace("--shard", "--batch")) from None


def query_batch(path: str | Path, batch: str) -> tuple[list[str], list[str]]:
    """(qids, queries) of batch b of N: rows [b*n//N, (b+1)*n//N) of a queries file."""
    import pyarrow.parquet as pq

    table = pq.read_table(path, columns=["qid", "query"])
    b, n_batches = parse_batch(batch)
    lo, hi = b * table.num_rows // n_batches, (b + 1) * table.num_rows // n_batches
    table = table.slice(lo, hi - lo)
    return table["qid"].to_pylist(), table["query"].to_pylist()


# ---- the steps --------------------------------------------------------------------------------


def build_index(retriever: Retriever, parts: Sequence[str | Path], output: str | Path) -> int:
    """Index one part (or, for a corpus-wide retriever, all parts in order); returns chunks."""
    if len(parts) != 1 and not retriever.corpus_wide:
        raise InputError(f"a {retriever.kind} index covers one corpus part; got {len(parts)}")
    texts = read_chunk_texts(parts)
    progress = Progress(len(texts), "chunks", log)
    if isinstance(retriever, SPLADERetriever):
        index = retriever.build(texts, progress)
    else:
        index = retriever.build(texts)
        progress.update(len(texts))
    retriever.save(index, output)
    return len(texts)


def _take_chunk_ids(parts: Sequence[str | Path], part_of: np.ndarray, rows: np.ndarray):
    """chunk_id of every (part, row), reading each part's chunk_id column once."""
    import pyarrow.parquet as pq

    ids = np.empty(len(rows), dtype=object)
    for p in np.unique(part_of):
        mask = part_of == p
        column = pq.read_table(parts[p], columns=["chunk_id"])["chunk_id"]
        ids[mask] = column.take(pa.array(rows[mask])).to_pylist()
    return ids


def search_shard(
    retriever: Retriever,
    index_path: str | Path,
    queries_path: str | Path,
    batch: str,
    parts: Sequence[str | Path],
    part_numbers: Sequence[int],
    top_k: int,
    output: str | Path,
) -> int:
    """Top-k of one query batch against one index: one row per query, its hits with their
    chunk ids and (part, row) corpus positions. Returns the number of queries."""
    qids, queries = query_batch(queries_path, batch)
    index = retriever.load(index_path)
    sizes = part_sizes(parts)
    hits: TopK = retriever.search(index, queries, top_k)
    offsets = np.cumsum([0, *sizes])
    flat = hits.rows.reshape(-1)
    local = np.searchsorted(offsets, flat, side="right") - 1  # which of `parts`
    part_rows = flat - offsets[local]
    chunk_ids = _take_chunk_ids(parts, local, part_rows).reshape(hits.rows.shape)
    part_no = np.asarray(part_numbers, dtype=np.int32)[local].reshape(hits.rows.shape)
    table = pa.Table.from_pydict(
        {
            "qid": qids,
            "chunk_ids": [list(r) for r in chunk_ids],
            "scores": [list(r) for r in hits.scores],
            "parts": [list(r) for r in part_no],
            "rows": [list(r) for r in part_rows.reshape(hits.rows.shape)],
        },
        schema=SHARD_SCHEMA,
    )
    write_parquet(table, output)
    return len(qids)


def _merge_batch(shards: Sequence[str | Path], top_k: int) -> dict[str, tuple[list, list]]:
    """{qid: (chunk ids, scores)} of one query batch, over the shards of its parts."""
    import pyarrow.parquet as pq

    candidates: dict[str, list[dict]] = {}
    for shard in shards:
        for row in pq.read_table(shard).to_pylist():
            candidates.setdefault(row["qid"], []).append(row)
    merged = {}
    for qid, lists in candidates.items():
        keys = [np.asarray([r["parts"], r["rows"]], dtype=np.int64).T for r in lists]
        scores = [np.asarray(r["scores"], dtype=np.float32) for r in lists]
        ids = [c for r in lists for c in r["chunk_ids"]]
        order, best = merge_ranked(scores, keys, top_k)
        merged[qid] = ([ids[i] for i in order], best.tolist())
    return merged


def merge_hits(
    shards: Sequence[str | Path],
    queries_path: str | Path,
    query_batches: int,
    top_k: int,
    output: str | Path,
) -> int:
    """The search shards of one (dataset, retriever), batch-major (every part of batch 0, then
    batch 1, ...) -> its hits in queries-file order: per query, the top_k over all parts by
    (score desc, part, row). One batch in memory at a time; every query must be found."""
    import pyarrow.parquet as pq

    if query_batches <= 0 or len(shards) % query_batches:
        raise InputError(
            f"{len(shards)} search shards do not split into {query_batches} query batches"
        )
    per_batch = len(shards) // query_batches
    qids = pq.read_table(queries_path, columns=["qid"])["qid"].to_pylist()
    n = len(qids)
    with atomic_path(output) as tmp, pq.ParquetWriter(tmp, HITS_SCHEMA) as writer:
        for b in range(query_batches):
            merged = _merge_batch(shards[b * per_batch : (b + 1) * per_batch], top_k)
            batch_qids = qids[b * n // query_batches : (b + 1) * n // query_batches]
            missing = [q for q in batch_qids if q not in merged]
            if missing:
                raise InputError(
                    f"{len(missing)} queries of {queries_path} (batch {b}/{query_batches}) are"
                    f" in no search shard (first {missing[0]!r}); rerun the search jobs"
                )
            columns = {
                "qid": batch_qids,
                "chunk_ids": [merged[q][0] for q in batch_qids],
                "scores": [merged[q][1] for q in batch_qids],
            }
            writer.write_table(pa.Table.from_pydict(columns, schema=HITS_SCHEMA))
    return n


def corpus_positions(parts: Sequence[str | Path], wanted: set[str]) -> dict[str, tuple[int, int]]:
    """(part, row) of each wanted chunk id, reading only the chunk_id columns."""
    import pyarrow.parquet as pq

    found = {}
    for p, part in enumerate(parts):
        column = pq.read_table(part, columns=["chunk_id"])["chunk_id"].to_pylist()
        for row, chunk_id in enumerate(column):
            if chunk_id in wanted:
                found[chunk_id] = (p, row)
    missing = wanted - set(found)
    if missing:
        raise InputError(
            f"{len(missing)} hit chunk ids are in no corpus part (e.g. {sorted(missing)[0]!r});"
            " the hits come from another corpus build: rerun the search"
        )
    return found


def fuse_hits(
    hits: Sequence[str | Path],
    parts: Sequence[str | Path],
    top_k: int,
    output: str | Path,
    rrf_k: int = RRF_K,
) -> int:
    """Reciprocal-rank fusion of merged hits files (same queries, same order) -> hits."""
    import pyarrow.parquet as pq

    tables = [pq.read_table(h, columns=["qid", "chunk_ids"]) for h in hits]
    qids = tables[0]["qid"].to_pylist()
    for path, table in zip(hits, tables, strict=True):
        if table["qid"].to_pylist() != qids:
            raise InputError(f"{path}: other queries than {hits[0]}; fuse hits of one dataset")
    lists = [t["chunk_ids"].to_pylist() for t in tables]
    order = corpus_positions(parts, {c for ranked in lists for row in ranked for c in row})
    out = {"qid": qids, "chunk_ids": [], "scores": []}
    for q in range(len(qids)):
        fused = rrf_fuse([ranked[q] for ranked in lists], order, rrf_k, top_k)
        out["chunk_ids"].append([c for c, _ in fused])
        out["scores"].append([s for _, s in fused])
    write_parquet(pa.Table.from_pydict(out, schema=HITS_SCHEMA), output)
    return len(qids)


# ---- command-line options shared by the index and search scripts -------------------------------


def add_retriever_flags(p) -> None:
    """The flags that choose and configure a retriever (build_index.py and search.py)."""
    p.add_argument("--kind", required=True, choices=["splade", "bm25", "dense"], help="retriever")
    p.add_argument(
        "--model", default=None, help="encoder (splade, dense): Hub id, folder, package:"
    )
    p.add_argument("--batch_size", type=int, default=32, help="encoder batch size")
    p.add_argument("--max_length", type=int, default=256, help="encoder max tokens per text")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument(
        "--screen",
        default="auto",
        choices=["auto", "on", "off"],
        help="splade: skip zero weights with an exact bf16 screen (auto: CPUs with bf16 units)",
    )
    p.add_argument(
        "--faiss_min_chunks",
        type=int,
        default=100_000,
        help="dense: search parts of at least this many chunks with faiss.IndexFlatIP",
    )
    p.add_argument("--lang", default="en", help="bm25: the corpus language (analyzer)")
    p.add_argument("--stemmer", default="snowball", choices=["snowball", "none"], help="bm25")
    p.add_argument("--no_stopwords", action="store_true", help="bm25: keep stop words")
    p.add_argument(
        "--ja",
        default="janome_base",
        choices=["janome_surface", "janome_base", "bigram"],
        help="bm25, Japanese: janome surface or base forms, or character bigrams",
    )
    p.add_argument("--k1", type=float, default=1.5, help="bm25 k1")
    p.add_argument("--b", type=float, default=0.75, help="bm25 b")
    p.add_argument("--method", default="lucene", help="bm25s scoring variant")


def retriever_from_flags(args) -> Retriever:
    if args.kind == "bm25":
        return make_retriever(
            "bm25",
            lang=args.lang,
            stemmer=args.stemmer,
            stopwords=not args.no_stopwords,
            ja=args.ja,
            k1=args.k1,
            b=args.b,
            method=args.method,
        )
    common = dict(
        model=args.model,
        batch_size=args.batch_size,
        max_length=args.max_length,
        threads=args.threads,
    )
    if args.kind == "splade":
        return make_retriever("splade", screen=args.screen, **common)
    return make_retriever("dense", faiss_min_chunks=args.faiss_min_chunks, **common)

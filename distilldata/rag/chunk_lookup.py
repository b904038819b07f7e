"""Look up chunks by id in corpus parts and join hit lists with their queries.

Corpus parts (`results/rag/corpus/<name>/part-NNNNN.parquet`) can hold millions of chunks, while
a hits file names at most `top_k` per query: parts are read a record batch at a time and only
the named chunks are kept, so memory is O(chunks named), not O(corpus).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from distilldata.core.errors import InputError

HIT_COLUMNS = ("qid", "chunk_ids", "scores")


def check_columns(path: str | Path, columns: Sequence[str], what: str) -> pa.Schema:
    """The schema of a Parquet file that has `columns`, or an InputError naming the file."""
    path = Path(path)
    try:
        schema = pq.read_schema(path)
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"{path}: not a readable {what} Parquet file ({exc})") from exc
    missing = [c for c in columns if c not in schema.names]
    if missing:
        raise InputError(
            f"{path}: missing column(s) {missing} of a {what} file; found {schema.names}"
        )
    return schema


def read_parquet(path: str | Path, columns: Sequence[str], what: str) -> pa.Table:
    """A Parquet file's `columns`, or an InputError naming the file and what is missing."""
    check_columns(path, columns, what)
    return pq.read_table(path, columns=list(columns))


def load_chunks(
    corpus_paths: Sequence[str | Path],
    chunk_ids: Iterable[str],
    columns: Sequence[str] = ("title", "text"),
    batch_rows: int = 65_536,
) -> dict[str, dict]:
    """`{chunk_id: {column: value}}` for the wanted ids found in the parts (a chunk id in two
    parts is an error: ids must be unique across a corpus)."""
    wanted = pa.array(sorted(set(chunk_ids)), pa.string())
    found: dict[str, dict] = {}
    where: dict[str, str] = {}
    for path in map(Path, corpus_paths):
        check_columns(path, ("chunk_id", *columns), "corpus part")
        for batch in pq.ParquetFile(path).iter_batches(batch_rows, columns=["chunk_id", *columns]):
            picked = batch.filter(pc.is_in(batch.column("chunk_id"), value_set=wanted))
            for row in picked.to_pylist():
                cid = row.pop("chunk_id")
                if cid in found:
                    raise InputError(
                        f"chunk id {cid!r} is in both {where[cid]} and {path}; chunk ids must be "
                        "unique across a corpus (rebuild the corpus parts)"
                    )
                found[cid] = row
                where[cid] = str(path)
    return found


def read_hits(hits_path: str | Path, query_ids: set[str], queries_path: str | Path) -> pa.Table:
    """The hits table, checked: known qids (each once), score lists aligned, no empty list."""
    hits = read_parquet(hits_path, HIT_COLUMNS, "hits")
    qids = hits.column("qid").to_pylist()
    seen: set[str] = set()
    n_ids = pc.list_value_length(hits.column("chunk_ids")).to_pylist()
    n_scores = pc.list_value_length(hits.column("scores")).to_pylist()
    for row, qid in enumerate(qids):
        if qid not in query_ids:
            raise InputError(
                f"{hits_path}: row {row}: qid {qid!r} is not in {queries_path}; the hits were made "
                "from other queries: rerun retrieval for these queries"
            )
        if qid in seen:
            raise InputError(f"{hits_path}: row {row}: qid {qid!r} appears twice; one row per qid")
        seen.add(qid)
        if not n_ids[row]:
            raise InputError(
                f"{hits_path}: row {row}: qid {qid!r} has no documents (empty chunk_ids); "
                "retrieval found nothing: is the corpus empty?"
            )
        if n_ids[row] != n_scores[row]:
            raise InputError(
                f"{hits_path}: row {row}: qid {qid!r} has {n_ids[row]} chunk ids but "
                f"{n_scores[row]} scores; they must align"
            )
    return hits


def missing_chunk(hits: pa.Table, found: dict, hits_path, corpus_paths) -> None:
    """Fail on the first hit whose chunk id is in no corpus part, naming it."""
    for row, (qid, ids) in enumerate(
        zip(hits.column("qid").to_pylist(), hits.column("chunk_ids").to_pylist(), strict=True)
    ):
        for cid in ids:
            if cid not in found:
                parts = ", ".join(map(str, corpus_paths[:3])) + (
                    ", ..." if len(corpus_paths) > 3 else ""
                )
                raise InputError(
                    f"{hits_path}: row {row}: qid {qid!r}: chunk id {cid!r} is in none of the "
                    f"{len(corpus_paths)} corpus part(s) ({parts}); pass every part of the corpus "
                    "the hits were searched in"
                )

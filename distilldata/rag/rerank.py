"""The documents step: each query's retrieved chunks, optionally rescored and cut by a reranker.

`documents.parquet` has one row per query of the hits file (hits order): `qid, query, chunk_ids,
titles, texts, retrieval_scores, reranking_scores` (lists aligned with `texts`; `reranking_scores`
is null when reranking is off). Its schema metadata (`distilldata.documents`) says what scored
the documents.

Reranking follows ScaleDown's `scaledown/data/reranker.py`: every (query, document) pair is
scored (by the shared scorers of `distilldata.scoring.pair_scorers`); with `top_k > 0` the
documents are sorted by descending score and the first `top_k` kept, `reranking_scores` in that
order; with `top_k = 0` the scores are only attached, in retrieval order. Ties keep retrieval
order (ScaleDown's `sorted(..., reverse=True)` is stable too). Scores: a `cross-encoder` gives raw
logits (`activation="raw"`, ScaleDown: `logits.squeeze(-1)`) or the model's own activation
(`"model"`, as the Provence teacher scores); a `bi-encoder` gives cosine similarity, a stand-in
where no cross-encoder is available offline, and the metadata says so. ScaleDown scores the
document text alone; `with_title` scores `"<title> <text>"` instead.

`add_reranking_scores` / `rerank_and_filter` are the seed's Python API on in-memory records.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa

from distilldata.core.errors import InputError
from distilldata.core.progress import Progress
from distilldata.core.store import write_parquet
from distilldata.rag.chunk_lookup import load_chunks, missing_chunk, read_hits, read_parquet
from distilldata.rag.cli_flags import SCALEDOWN_RERANKER as DEFAULT_RERANKER
from distilldata.scoring.pair_scorers import PairScorer, make_scorer

log = logging.getLogger(__name__)

SCORES = pa.list_(pa.float32())
DOCUMENTS_SCHEMA = pa.schema(
    [
        ("qid", pa.string()),
        ("query", pa.string()),
        ("chunk_ids", pa.list_(pa.string())),
        ("titles", pa.list_(pa.string())),
        ("texts", pa.list_(pa.string())),
        ("retrieval_scores", SCORES),
        ("reranking_scores", SCORES),
    ]
)
INFO_KEY = b"distilldata.documents"
ROWS_PER_CALL = 1024  # queries scored per scorer call (bounds memory, paces the progress line)


def scorer_label(kind: str, activation: str) -> str:
    if kind == "bi-encoder":
        return "bi-encoder cosine similarity (a stand-in for a cross-encoder)"
    return "cross-encoder raw logits" if activation == "raw" else "cross-encoder, model activation"


def attach_documents(
    queries_path: str | Path, hits_path: str | Path, corpus_paths: Sequence[str | Path]
) -> pa.Table:
    """One row per hits row: the query text and its chunks' ids, titles, texts and scores."""
    queries = read_parquet(queries_path, ("qid", "query"), "queries")
    text_of = dict(
        zip(queries.column("qid").to_pylist(), queries.column("query").to_pylist(), strict=True)
    )
    hits = read_hits(hits_path, set(text_of), queries_path)
    ids = hits.column("chunk_ids").to_pylist()
    found = load_chunks(corpus_paths, (c for row in ids for c in row))
    missing_chunk(hits, found, hits_path, list(map(str, corpus_paths)))
    qids = hits.column("qid").to_pylist()
    columns = {
        "qid": qids,
        "query": [text_of[q] for q in qids],
        "chunk_ids": ids,
        "titles": [[found[c]["title"] or "" for c in row] for row in ids],
        "texts": [[found[c]["text"] for c in row] for row in ids],
        "retrieval_scores": hits.column("scores").cast(SCORES),
        "reranking_scores": pa.nulls(len(qids), SCORES),
    }
    unmatched = len(text_of) - len(qids)
    if unmatched:
        log.info(
            "%d of %d queries have no hits row (not in %s)", unmatched, len(text_of), hits_path
        )
    return pa.table(columns, schema=DOCUMENTS_SCHEMA)


def order_by_scores(scores: np.ndarray, top_k: int) -> np.ndarray:
    """Positions by descending score, ties in input order; the first `top_k` (0 = all, and then
    input order is kept: scores are only attached)."""
    if not top_k:
        return np.arange(len(scores))
    return np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")[:top_k]


def pair_text(title: str, text: str, with_title: bool) -> str:
    return f"{title} {text}" if with_title and title else text


def score_lists(
    scorer: PairScorer, queries: Sequence[str], doc_texts: Sequence[Sequence[str]]
) -> list[np.ndarray]:
    """One score array per query, aligned with its documents (one scorer call for all pairs)."""
    flat_q = [q for q, docs in zip(queries, doc_texts, strict=True) for _ in docs]
    flat_t = [t for docs in doc_texts for t in docs]
    flat = scorer.score(flat_q, flat_t) if flat_t else np.empty(0, np.float32)
    bounds = np.cumsum([0, *map(len, doc_texts)])
    return [flat[bounds[i] : bounds[i + 1]] for i in range(len(doc_texts))]


def rerank_table(
    table: pa.Table, scorer: PairScorer, top_k: int = 0, with_title: bool = False
) -> pa.Table:
    """Score every (query, document) pair of a documents table; sort and cut when `top_k`."""
    rows = table.to_pylist()
    progress = Progress(len(rows), "queries", log)
    for start in range(0, len(rows), ROWS_PER_CALL):
        part = rows[start : start + ROWS_PER_CALL]
        texts = [
            [pair_text(t, x, with_title) for t, x in zip(r["titles"], r["texts"], strict=True)]
            for r in part
        ]
        for row, scores in zip(
            part, score_lists(scorer, [r["query"] for r in part], texts), strict=True
        ):
            keep = order_by_scores(scores, top_k)
            for column in ("chunk_ids", "titles", "texts", "retrieval_scores"):
                row[column] = [row[column][i] for i in keep]
            row["reranking_scores"] = [float(scores[i]) for i in keep]
        progress.update(len(part))
    return pa.Table.from_pylist(rows, schema=DOCUMENTS_SCHEMA)


def build_documents(
    queries_path: str | Path,
    hits_path: str | Path,
    corpus_paths: Sequence[str | Path],
    output_path: str | Path,
    enable_reranking: bool = False,
    reranker_model: str = DEFAULT_RERANKER,
    reranker_kind: str = "cross-encoder",
    top_k_reranking: int = 0,
    activation: str = "raw",
    batch_size: int = 16,
    max_length: int | None = 512,
    with_title: bool = False,
    scorer: PairScorer | None = None,
) -> dict:
    """Write `documents.parquet`; returns the summary stored in its metadata."""
    if top_k_reranking < 0:
        raise InputError(f"--top_k_reranking {top_k_reranking}: use 0 (keep all) or a positive K")
    table = attach_documents(queries_path, hits_path, corpus_paths)
    info: dict = {"queries": table.num_rows, "hits": str(hits_path)}
    if enable_reranking:
        scorer = scorer or make_scorer(
            reranker_kind, reranker_model, batch_size, max_length=max_length, activation=activation
        )
        table = rerank_table(table, scorer, top_k_reranking, with_title)
        info["reranking"] = {
            "model": reranker_model,
            "kind": reranker_kind,
            "activation": activation if reranker_kind == "cross-encoder" else None,
            "scores": scorer_label(reranker_kind, activation),
            "top_k": top_k_reranking,
            "with_title": with_title,
            "max_length": max_length,
        }
    else:
        info["reranking"] = None
    metadata = {INFO_KEY: json.dumps(info, ensure_ascii=False).encode()}
    write_parquet(table.replace_schema_metadata(metadata), output_path)
    log.info("wrote %s: %d queries (reranking %s)", output_path, table.num_rows, info["reranking"])
    return info


def documents_info(schema: pa.Schema) -> dict:
    """The summary a documents file carries ({} for a file without one)."""
    raw = (schema.metadata or {}).get(INFO_KEY)
    return json.loads(raw) if raw else {}


# ---- the seed's Python API ----------------------------------------------------------------------


def add_reranking_scores(
    queries_with_docs: list[dict],
    reranker_model_name: str = DEFAULT_RERANKER,
    batch_size: int = 16,
    top_k: int | None = None,
    kind: str = "cross-encoder",
    activation: str = "raw",
    max_length: int | None = 512,
    with_title: bool = False,
    scorer: PairScorer | None = None,
) -> list[dict]:
    """Copies of `[{"query", "documents": [{"title", "text"}, ...]}]` with `reranking_scores`
    (and each document's `reranking_score`); with `top_k`, documents sorted by descending score
    and cut to `top_k`, the scores in that order."""
    scorer = scorer or make_scorer(
        kind, reranker_model_name, batch_size, max_length=max_length, activation=activation
    )
    results = copy.deepcopy(queries_with_docs)
    texts = [
        [pair_text(d.get("title") or "", d["text"], with_title) for d in item["documents"]]
        for item in results
    ]
    for item, scores in zip(
        results, score_lists(scorer, [r["query"] for r in results], texts), strict=True
    ):
        for doc, score in zip(item["documents"], scores, strict=True):
            doc["reranking_score"] = float(score)
        keep = order_by_scores(scores, top_k or 0)
        item["documents"] = [item["documents"][i] for i in keep]
        item["reranking_scores"] = [d["reranking_score"] for d in item["documents"]]
    return results


def rerank_and_filter(
    queries_with_docs: list[dict],
    top_k: int = 5,
    reranker_model_name: str = DEFAULT_RERANKER,
    **options,
) -> list[dict]:
    """ScaleDown's other entry: rerank and keep the `top_k` best documents."""
    return add_reranking_scores(queries_with_docs, reranker_model_name, top_k=top_k, **options)

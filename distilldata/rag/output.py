"""The training data: `train_data.json` in the seed's format, plus a provenance Parquet.

`train_data.json` is one pretty-printed JSON array (as ScaleDown's `prepare_dataset` writes it) of
`{"query", "documents": [text, ...], "answer", "reranking_scores"?}`: `documents` are the chunk
texts (titles dropped, as ScaleDown does), in documents.parquet order; `reranking_scores` only
when reranking ran, aligned with `documents`. Rows are the queries that got a teacher answer
(with backend `none`, every sampled query, `answer: null`), in documents.parquet order.
`train_data.parquet` has the same rows, in the same order, with their provenance: qid, chunk ids,
titles, retrieval and reranking scores, prompt kind and size, teacher model, generation settings.

Every answers shard names its run (shard k of N, sample, group size, settings); assembling checks
that all N shards are there, that they agree, and that each holds exactly the queries its shard
of the sample must hold, before anything is written.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from distilldata.core.errors import InputError
from distilldata.core.store import write_json, write_parquet, write_text
from distilldata.llm.cache import shard_plan
from distilldata.rag.chunk_lookup import check_columns
from distilldata.rag.rerank import DOCUMENTS_SCHEMA, documents_info
from distilldata.rag.teacher import ANSWERS_SCHEMA, SPLIT, answers_info, sample_order

log = logging.getLogger(__name__)

RUN_KEYS = ("shards", "group_size", "max_queries", "seed", "fingerprint")
PROVENANCE_SCHEMA = pa.schema(
    [
        *(DOCUMENTS_SCHEMA.field(n) for n in ("qid", "query", "chunk_ids", "titles")),
        *(DOCUMENTS_SCHEMA.field(n) for n in ("retrieval_scores", "reranking_scores")),
        *(f for f in ANSWERS_SCHEMA if f.name != "qid"),
    ]
)


def read_shards(answer_paths: Sequence[str | Path]) -> tuple[list[pa.Table], list[dict]]:
    tables, infos = [], []
    for path in answer_paths:
        schema = check_columns(path, ANSWERS_SCHEMA.names, "answers shard")
        info = answers_info(schema)
        if not all(k in info for k in ("shard", *RUN_KEYS)):
            raise InputError(
                f"{path}: no run summary in its metadata; it was not written by "
                "scripts/rag/answer.py: rerun that shard"
            )
        tables.append(pq.read_table(path).cast(ANSWERS_SCHEMA))
        infos.append({**info, "path": str(path)})
    return tables, infos


def check_runs(infos: list[dict], qids: list[str], tables: list[pa.Table]) -> None:
    """All shards of one run, each present once, each holding the queries its shard must hold."""
    if not infos:
        raise InputError("no answers shard given; pass every --answers shard file")
    first = infos[0]
    for info in infos[1:]:
        for key in RUN_KEYS:
            if info[key] != first[key]:
                raise InputError(
                    f"{info['path']} and {first['path']} come from different runs ({key}: "
                    f"{info[key]!r} vs {first[key]!r}); rerun the odd shard(s) with the same "
                    "settings"
                )
    n = first["shards"]
    by_shard: dict[int, dict] = {}
    for info in infos:
        if info["shard"] in by_shard:
            raise InputError(
                f"shard {info['shard']}/{n} is given twice ({by_shard[info['shard']]['path']}, "
                f"{info['path']}); pass each shard once"
            )
        by_shard[info["shard"]] = info
    order = sample_order(qids, first["seed"], first["max_queries"])
    for k in range(n):
        plan = shard_plan({SPLIT: len(order)}, first["group_size"], k, n)
        expected = [qids[order[i]] for _, s, e in plan for i in range(s, e)]
        if k not in by_shard:
            if expected:
                raise InputError(
                    f"the answers of shard {k}/{n} are missing ({len(expected)} queries, e.g. "
                    f"qid {expected[0]!r}); pass every shard's file"
                )
            continue
        table = tables[infos.index(by_shard[k])]
        if table.column("qid").to_pylist() != expected:
            raise InputError(
                f"{by_shard[k]['path']}: its queries are not shard {k}/{n} of this documents "
                "file's sample: it was made from another documents.parquet; rerun the answers"
            )


def assemble(
    documents_path: str | Path,
    answer_paths: Sequence[str | Path],
    output_file: str | Path,
    provenance_path: str | Path,
    stats_path: str | Path,
) -> dict:
    """Write train_data.json, its provenance Parquet and stats.json; returns the stats."""
    check_columns(documents_path, DOCUMENTS_SCHEMA.names, "documents")
    docs = pq.read_table(documents_path)
    reranked = bool(documents_info(docs.schema).get("reranking"))
    rows = docs.select(DOCUMENTS_SCHEMA.names).to_pylist()
    qids = [r["qid"] for r in rows]
    tables, infos = read_shards(answer_paths)
    check_runs(infos, qids, tables)
    answers = {a["qid"]: a for t in tables for a in t.to_pylist()}
    generation = infos[0].get("generation") or {}
    real_teacher = generation.get("backend", "none") != "none"
    dropped: Counter = Counter()
    records, provenance = [], []
    for row in rows:
        answer = answers.get(row["qid"])
        if answer is None:
            dropped["not_in_sample"] += 1
            continue
        if real_teacher and not (answer["answer"] or "").strip():
            dropped["empty_answer"] += 1
            continue
        record = {"query": row["query"], "documents": row["texts"], "answer": answer["answer"]}
        if reranked:
            record["reranking_scores"] = row["reranking_scores"]
        records.append(record)
        provenance.append(
            {k: row[k] for k in ("qid", "query", "chunk_ids", "titles")}
            | {"retrieval_scores": row["retrieval_scores"]}
            | {"reranking_scores": row["reranking_scores"] if reranked else None}
            | {k: answer[k] for k in ANSWERS_SCHEMA.names if k != "qid"}
        )
    stats = {
        "rows_in": len(rows),
        "rows_out": len(records),
        "dropped": dict(sorted(dropped.items())),
        "reranking_scores": reranked,
        "shards": infos[0]["shards"],
        "teacher": generation,
    }
    if stats["rows_in"] != stats["rows_out"] + sum(dropped.values()):
        raise AssertionError(f"row accounting does not add up: {stats}")
    write_text(output_file, json.dumps(records, indent=2, ensure_ascii=False) + "\n")
    write_parquet(pa.Table.from_pylist(provenance, schema=PROVENANCE_SCHEMA), provenance_path)
    write_json(stats_path, stats)
    log.info(
        "wrote %s: %d of %d queries %s", output_file, len(records), len(rows), stats["dropped"]
    )
    return stats

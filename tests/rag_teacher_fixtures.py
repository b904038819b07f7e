"""Small rag inputs in the contract schemas (queries, corpus parts, hits), from real SQuAD 2.0 dev
paragraphs and questions, for the rerank / teacher / output / report tests.

The hits are a deterministic word-overlap ranking (ties in corpus order): a stand-in for a
retriever's output, so the tests do not depend on the retrieval code.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

# the contract schemas, from the modules that write them
from distilldata.rag.corpus_parts import CHUNK_SCHEMA as CORPUS_SCHEMA
from distilldata.rag.queries import QUERY_SCHEMA as QUERIES_SCHEMA
from distilldata.rag.retrieval import HITS_SCHEMA

REPO = Path(__file__).resolve().parents[1]
SQUAD = REPO / "data" / "squad" / "dev-v2.0.json"


@cache
def squad_sample(articles: int = 2, paragraphs: int = 3, questions: int = 4):
    """(chunks, queries): `paragraphs` chunks per article, `questions` answerable questions per
    chunk, with gold answers and KILT-style gold passages (paragraph 0 is the title line)."""
    data = json.loads(SQUAD.read_text("utf-8"))["data"][:articles]
    chunks, queries = [], []
    for article in data:
        doc_id = f"squad:{article['title']}"
        for p, para in enumerate(article["paragraphs"][:paragraphs], start=1):
            context = para["context"]
            chunks.append(
                {
                    "chunk_id": f"{doc_id}#{p - 1}",
                    "doc_id": doc_id,
                    "title": article["title"].replace("_", " "),
                    "text": context,
                    "start_paragraph": p,
                    "start_character": 0,
                    "end_paragraph": p,
                    "end_character": len(context),
                    "n_tokens": len(context.split()),
                }
            )
            answerable = [qa for qa in para["qas"] if qa["answers"]][:questions]
            for qa in answerable:
                first = qa["answers"][0]
                queries.append(
                    {
                        "qid": qa["id"],
                        "query": qa["question"],
                        "source": "squad",
                        "lang": "en",
                        "answers": sorted({a["text"] for a in qa["answers"]}),
                        "gold": [
                            {
                                "doc_id": doc_id,
                                "start_paragraph": p,
                                "start_character": first["answer_start"],
                                "end_paragraph": p,
                                "end_character": first["answer_start"] + len(first["text"]),
                            }
                        ],
                    }
                )
    return chunks, queries


def words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


def overlap_hits(queries: list[dict], chunks: list[dict], top_k: int = 5) -> list[dict]:
    rows = []
    for q in queries:
        qw = words(q["query"])
        scored = [(len(qw & words(c["title"] + " " + c["text"])), i) for i, c in enumerate(chunks)]
        best = sorted(scored, key=lambda s: (-s[0], s[1]))[:top_k]
        rows.append(
            {
                "qid": q["qid"],
                "chunk_ids": [chunks[i]["chunk_id"] for _, i in best],
                "scores": [float(s) for s, _ in best],
            }
        )
    return rows


def write_inputs(root: Path, top_k: int = 5, parts: int = 2) -> dict[str, Path | list[Path]]:
    """queries.parquet, corpus part-0000N.parquet files and hits.parquet under `root`."""
    chunks, queries = squad_sample()
    root.mkdir(parents=True, exist_ok=True)
    paths: dict = {"queries": root / "queries.parquet", "hits": root / "hits.parquet"}
    pq.write_table(pa.Table.from_pylist(queries, schema=QUERIES_SCHEMA), paths["queries"])
    corpus = []
    step = -(-len(chunks) // parts)
    for k in range(parts):
        part = root / "corpus" / f"part-{k:05d}.parquet"
        part.parent.mkdir(exist_ok=True)
        rows = chunks[k * step : (k + 1) * step]
        pq.write_table(pa.Table.from_pylist(rows, schema=CORPUS_SCHEMA), part)
        corpus.append(part)
    paths["corpus"] = corpus
    hits = overlap_hits(queries, chunks, top_k)
    pq.write_table(pa.Table.from_pylist(hits, schema=HITS_SCHEMA), paths["hits"])
    return paths

"""The rag quality report: retrieval per retriever and after rerank, teacher answers vs gold.

For every hits file (one per retriever) and for documents.parquet (the documents the teacher got,
after reranking when it ran): answer-containment accuracy@1/5/10/20 over the queries with gold
answers and gold-passage recall@k over the queries with gold passages (`distilldata.rag.metrics`).
For the teacher answers in the provenance Parquet: token F1 and exact match against the gold
answers, where a query has them. The markdown names the best retriever by accuracy@5 (by gold
recall@5 when no query has answers); the plot draws accuracy@k (or recall@k) per retriever.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import pyarrow.parquet as pq

from distilldata.core.errors import InputError
from distilldata.core.store import atomic_path, write_json, write_text
from distilldata.rag.chunk_lookup import check_columns, load_chunks, read_parquet
from distilldata.rag.metrics import KS, answer_ranks, at_k, best_scores, by_characters, gold_ranks
from distilldata.rag.rerank import documents_info

log = logging.getLogger(__name__)

SPAN_COLUMNS = ("doc_id", "start_paragraph", "start_character", "end_paragraph", "end_character")
DOCUMENTS_ROW = "documents"


def parse_named(items: Sequence[str]) -> dict[str, str]:
    """`NAME=PATH` arguments, in order, each name once."""
    named: dict[str, str] = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise InputError(
                f"--hits {item!r}: write NAME=PATH, e.g. splade=results/.../hits.parquet"
            )
        if name in named:
            raise InputError(f"--hits: retriever name {name!r} is given twice")
        named[name] = path
    return named


def read_queries(path: str | Path) -> dict[str, dict]:
    schema = check_columns(path, ("qid", "query"), "queries")
    columns = [c for c in ("qid", "query", "lang", "answers", "gold") if c in schema.names]
    rows = pq.read_table(path, columns=columns).to_pylist()
    return {r["qid"]: r for r in rows}


def retrieval_scores(
    ranked: dict[str, list[str]], queries: dict[str, dict], chunks: dict[str, dict]
) -> dict:
    """Accuracy@k and gold recall@k of ranked chunk ids per qid."""
    qids = [q for q in ranked if q in queries]
    texts = [[chunks[c]["text"] for c in ranked[q]] for q in qids]
    spans = [[chunks[c] for c in ranked[q]] for q in qids]
    answers = [queries[q].get("answers") or [] for q in qids]
    langs = [queries[q].get("lang") for q in qids]
    golds = [queries[q].get("gold") or [] for q in qids]
    a_ranks = answer_ranks(texts, answers, langs)
    g_ranks = gold_ranks(spans, golds)
    return {
        "queries": len(qids),
        "depth": max((len(v) for v in ranked.values()), default=0),
        "with_answers": len(a_ranks),
        "accuracy": at_k(a_ranks),
        "with_gold": len(g_ranks),
        "gold_recall": at_k(g_ranks),
    }


def teacher_scores(provenance: str | Path | None, queries: dict[str, dict]) -> dict:
    if not provenance:
        return {"answers": 0}
    rows = read_parquet(provenance, ("qid", "answer"), "provenance").to_pylist()
    scored = []
    for row in rows:
        query = queries.get(row["qid"], {})
        golds = [g for g in query.get("answers") or [] if g]
        if row["answer"] is not None and golds:
            scored.append(best_scores(row["answer"], golds, query.get("lang")))
    langs = sorted({q.get("lang") or "?" for q in queries.values()})
    return {
        "answers": sum(1 for r in rows if r["answer"] is not None),
        "with_gold_answers": len(scored),
        "token_f1": sum(f for f, _ in scored) / len(scored) if scored else None,
        "exact_match": sum(e for _, e in scored) / len(scored) if scored else None,
        "tokens": "characters" if any(by_characters(lang) for lang in langs) else "words",
    }


def best_retriever(retrievers: dict[str, dict]) -> dict:
    for metric in ("accuracy", "gold_recall"):
        values = {n: r[metric]["@5"] for n, r in retrievers.items() if r[metric]["@5"] is not None}
        if values:
            name = max(values, key=lambda n: (values[n], -list(retrievers).index(n)))
            return {"by": f"{metric}@5", "name": name, "value": values[name]}
    return {"by": None, "name": None, "value": None}


def build_report(
    queries_path: str | Path,
    corpus_paths: Sequence[str | Path],
    hits: dict[str, str],
    documents_path: str | Path,
    provenance_path: str | Path | None = None,
) -> dict:
    queries = read_queries(queries_path)
    ranked: dict[str, dict[str, list[str]]] = {}
    for name, path in hits.items():
        table = read_parquet(path, ("qid", "chunk_ids"), "hits")
        ranked[name] = dict(
            zip(table.column("qid").to_pylist(), table.column("chunk_ids").to_pylist(), strict=True)
        )
    docs = read_parquet(documents_path, ("qid", "chunk_ids"), "documents")
    ranked[DOCUMENTS_ROW] = dict(
        zip(docs.column("qid").to_pylist(), docs.column("chunk_ids").to_pylist(), strict=True)
    )
    wanted = {c for per in ranked.values() for ids in per.values() for c in ids}
    schema_cols = set(pq.read_schema(corpus_paths[0]).names) if corpus_paths else set()
    columns = ("text", *(c for c in SPAN_COLUMNS if c in schema_cols))
    chunks = load_chunks(corpus_paths, wanted, columns)
    lost = wanted - set(chunks)
    if lost:
        raise InputError(
            f"{len(lost)} ranked chunk id(s) (e.g. {sorted(lost)[0]!r}) are in none of the corpus "
            "parts given; pass every part of the corpus"
        )
    if not set(SPAN_COLUMNS) <= schema_cols:
        for q in queries.values():
            q["gold"] = []  # no offsets to compare gold passages with
    retrievers = {n: retrieval_scores(ranked[n], queries, chunks) for n in hits}
    info = documents_info(pq.read_schema(documents_path))
    return {
        "queries": {
            "total": len(queries),
            "with_answers": sum(1 for q in queries.values() if any(q.get("answers") or [])),
            "with_gold": sum(1 for q in queries.values() if q.get("gold")),
            "langs": sorted({q.get("lang") or "?" for q in queries.values()}),
        },
        "retrievers": retrievers,
        "documents": retrieval_scores(ranked[DOCUMENTS_ROW], queries, chunks)
        | {"reranking": info.get("reranking")},
        "teacher": teacher_scores(provenance_path, queries),
        "best_retriever": best_retriever(retrievers),
    }


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.3f}"


def markdown(report: dict) -> str:
    q = report["queries"]
    best = report["best_retriever"]
    lines = [
        "# RAG data quality report",
        "",
        f"Queries: {q['total']} ({q['with_answers']} with gold answers, {q['with_gold']} with "
        f"gold passages; languages: {', '.join(q['langs'])}).",
        "",
    ]
    if best["name"]:
        lines += [f"**Best retriever by {best['by']}: {best['name']} ({best['value']:.3f}).**", ""]
    header = "| retriever | queries | " + " | ".join(f"acc@{k}" for k in KS)
    header += " | " + " | ".join(f"gold R@{k}" for k in KS) + " |"
    lines += [header, "|" + " --- |" * (2 + 2 * len(KS))]
    rows = [*report["retrievers"].items()]
    rerank = report["documents"]["reranking"]
    label = "documents (retrieval order)"
    if rerank:
        top = rerank["top_k"] or "all"
        label = f"documents (reranked: {rerank['scores']}, {rerank['model']}, top {top})"
    rows.append((label, report["documents"]))
    for name, r in rows:
        cells = [_fmt(r["accuracy"][f"@{k}"]) for k in KS] + [
            _fmt(r["gold_recall"][f"@{k}"]) for k in KS
        ]
        lines.append(f"| {name} | {r['queries']} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "acc@k: share of queries with gold answers whose top k documents contain one (DPR's "
        "answer containment: NFD, lower case, DPR tokens; Japanese: NFKC characters). gold R@k: "
        "share of queries with gold passages whose top k documents overlap one. Queries with "
        "fewer than k documents count with what they have.",
        "",
        "## Teacher answers",
        "",
    ]
    t = report["teacher"]
    if t.get("with_gold_answers"):
        lines.append(
            f"{t['answers']} answers; against the gold answers of {t['with_gold_answers']}: token "
            f"F1 {t['token_f1']:.3f}, exact match {t['exact_match']:.3f} (SQuAD normalisation; "
            f"tokens: {t['tokens']})."
        )
    else:
        lines.append(f"{t['answers']} answers; none has a gold answer to compare with.")
    return "\n".join(lines) + "\n"


def plot(report: dict, path: str | Path) -> None:
    """Accuracy@k (or gold recall@k) per retriever; a PNG without timestamps or version text."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metric = (
        "gold_recall" if (report["best_retriever"]["by"] or "").startswith("gold") else "accuracy"
    )
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    reranked = report["documents"]["reranking"]
    last = "documents (after rerank)" if reranked else "documents"
    series = [*report["retrievers"].items(), (last, report["documents"])]
    for name, r in series:
        values = [r[metric][f"@{k}"] for k in KS]
        if any(v is not None for v in values):
            style = "--" if name == last else "-"
            ax.plot(
                KS,
                [v if v is not None else float("nan") for v in values],
                style,
                marker="o",
                label=name,
            )
    ax.set_xlabel("k (documents)")
    ax.set_ylabel("answer containment accuracy@k" if metric == "accuracy" else "gold recall@k")
    ax.set_xticks(KS)
    ax.set_ylim(0, 1.02)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", metadata={"Software": None})
    plt.close(fig)


def write_report(
    queries_path: str | Path,
    corpus_paths: Sequence[str | Path],
    hits: dict[str, str],
    documents_path: str | Path,
    provenance_path: str | Path | None,
    output_markdown: str | Path,
    output_json: str | Path,
    output_plot: str | Path,
) -> dict:
    report = build_report(queries_path, corpus_paths, hits, documents_path, provenance_path)
    write_json(output_json, report)
    write_text(output_markdown, markdown(report))
    plot(report, output_plot)
    log.info("wrote %s (best retriever: %s)", output_markdown, report["best_retriever"])
    return report

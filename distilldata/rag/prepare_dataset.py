"""ScaleDown's entry point, in process: queries -> corpus chunks -> retrieval -> rerank ->
teacher answers -> one JSON array, with ScaleDown's flags and defaults
(`scaledown/data/prepare_dataset.py`).

    python -m distilldata.rag.prepare_dataset --queries_file queries.txt \\
        --corpus_path kilt_knowledgesource.json --output_file train_data.json \\
        --top_k_retrieval 20 --top_k_reranking 5 --enable_reranking

What follows ScaleDown: exactly one query source (`--queries_file`, `--num_synthetic_queries`,
`--download_ms_marco`); `--top_k_retrieval 20`; reranking runs when `--top_k_reranking` or
`--enable_reranking` is given, `--top_k_reranking K` sorts and keeps K, `reranking_scores` are
written only with `--enable_reranking`; its default models; its teacher prompt and sampling;
the output format. What is ours, and why:
- `--retriever {splade,bm25,dense,hybrid}` and `--retriever_model` (ScaleDown always builds
  `SPLADERetriever()` with its default model); SPLADE vectors are sparse, not vocabulary-dense;
- the corpus is chunked (`--chunking`; default `first_paragraph`, ScaleDown's one passage per
  article, but the first *body* paragraph: ScaleDown's KILT `text[0]` is the title line), and
  read by `distilldata.rag.corpus` (KILT lines, `{id, title, text}` records, FlashRAG passages);
- `--num_synthetic_queries N` asks about the corpus's titles (ScaleDown's "What is example topic
  {i}?" queries match no document);
- `--download_ms_marco` is the explicit opt-in to the network (`--ms_marco_file` reads a local
  `queries.dev.small.tsv` instead); nothing is written to the working folder besides the output;
- queries are normalised and de-duplicated (`distilldata.rag.queries`);
- chunk token counts come from `--chunk_tokenizer` (default: the retriever model's), also for
  BM25, which has no model of its own;
- `--teacher_backend` (`none`: `answer: null`, retrieval only), `--prompt paper`, `--decoding
  greedy`, batched generation, a prompt budget that drops documents rather than the question.
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path

from distilldata.core.cli import run_main, script_parser, setup_logging
from distilldata.core.errors import InputError
from distilldata.core.store import write_parquet, write_text
from distilldata.rag.cli_flags import (
    SCALEDOWN_RERANKER,
    SCALEDOWN_TEACHER,
    add_reranker_flags,
    add_teacher_flags,
    teacher_options,
)

log = logging.getLogger(__name__)

SCALEDOWN_RETRIEVER = "naver/splade-cocondenser-ensembledistil"


def read_corpus(
    corpus_path: str | Path,
    max_corpus_size: int | None,
    chunking: str = "first_paragraph",
    tokenizer: str = SCALEDOWN_RETRIEVER,
    corpus_format: str = "auto",
    lang: str = "en",
    max_tokens: int = 128,
) -> list[dict]:
    """The corpus as ScaleDown's `[{"id", "title", "text"}]`, one entry per chunk."""
    from distilldata.rag.chunking import Chunker
    from distilldata.rag.corpus import read_documents
    from distilldata.rag.corpus_parts import load_tokenizer

    if not corpus_path:
        raise InputError(
            "--corpus_path is required: a KILT kilt_knowledgesource.json, a JSONL/Parquet of "
            "{id, title, text} records, or FlashRAG passages"
        )
    if not Path(corpus_path).is_file():
        raise InputError(f"--corpus_path {corpus_path}: no such file")
    chunker = Chunker(chunking, load_tokenizer(tokenizer), lang, max_tokens)
    docs = read_documents([corpus_path], corpus_format, max_documents=max_corpus_size or 0)
    corpus = [
        {"id": c.chunk_id, "title": c.title, "text": c.text, "_chunk": c}
        for doc in docs
        for c in chunker.chunks(doc)
    ]
    if not corpus:
        raise InputError(f"{corpus_path}: no document with text in the corpus")
    log.info("corpus: %d chunks (%s) from %s", len(corpus), chunking, corpus_path)
    return corpus


def synthetic_from_titles(corpus: list[dict], n: int, seed: int) -> list:
    """N queries from the corpus's titles (through a temporary corpus part)."""
    import pyarrow as pa

    from distilldata.rag.corpus_parts import CHUNK_SCHEMA
    from distilldata.rag.queries import synthetic_queries

    with tempfile.TemporaryDirectory() as tmp:
        part = Path(tmp) / "part-00000.parquet"
        rows = [{k: getattr(c["_chunk"], k) for k in CHUNK_SCHEMA.names} for c in corpus]
        write_parquet(pa.Table.from_pylist(rows, schema=CHUNK_SCHEMA), part)
        return list(synthetic_queries([part], n, seed))


def load_queries(args: argparse.Namespace, corpus: list[dict]) -> list[str]:
    from distilldata.rag.queries import (
        MSMARCO_URL,
        clean_queries,
        read_msmarco_queries,
        read_text_queries,
    )

    if args.queries_file:
        path = Path(args.queries_file)
        if not path.is_file():
            raise InputError(f"--queries_file {path}: no such file")
        raw, source = read_text_queries(path), "text"
    elif args.download_ms_marco:
        local = Path(args.ms_marco_file) if args.ms_marco_file else None
        raw, source = read_msmarco_queries(local, MSMARCO_URL, network=local is None), "msmarco"
    else:
        if args.num_synthetic_queries <= 0:
            raise InputError("--num_synthetic_queries must be a positive number")
        raw, source = (
            synthetic_from_titles(corpus, args.num_synthetic_queries, args.seed),
            "synthetic",
        )
    result = clean_queries(raw, source, args.lang)
    if not result.rows:
        raise InputError(f"no queries left (read {result.stats}); check the query source")
    log.info("queries: %d (%s), dropped %s", len(result.rows), source, result.stats["dropped"])
    return [r["query"] for r in result.rows]


def retriever_options(kind: str, model: str | None, lang: str) -> dict:
    if kind == "bm25":
        return {"lang": lang}
    if kind == "hybrid":
        sparse = {"kind": "splade", "model": model or SCALEDOWN_RETRIEVER}
        return {"retrievers": [sparse, {"kind": "bm25", "lang": lang}]}
    if kind == "splade":
        return {"model": model or SCALEDOWN_RETRIEVER}
    return {"model": model}  # dense: its own default (MiniLM) when none is given


def prepare_dataset(
    queries: Sequence[str],
    corpus_path: str | None = None,
    output_file: str = "train_data.json",
    top_k_retrieval: int = 20,
    top_k_reranking: int | None = 5,
    enable_reranking: bool = False,
    teacher_model: str = SCALEDOWN_TEACHER,
    reranker_model: str = SCALEDOWN_RERANKER,
    max_corpus_size: int | None = None,
    teacher_8bit: bool = False,
    retriever: str = "splade",
    retriever_model: str | None = None,
    corpus: list[dict] | None = None,
    reranker_kind: str = "cross-encoder",
    activation: str = "raw",
    teacher: dict | None = None,
    **corpus_options,
) -> list[dict]:
    """ScaleDown's `prepare_dataset` (same arguments and defaults, including its function default
    `top_k_reranking=5`, which reranks); returns the records it writes to `output_file`.
    `teacher` holds the other `TeacherSettings` (backend, prompt, decoding, ...)."""
    from distilldata.rag.rerank import add_reranking_scores
    from distilldata.rag.retrieval import make_retriever
    from distilldata.rag.teacher import generate_teacher_answers

    if top_k_retrieval <= 0:
        raise InputError("--top_k_retrieval must be positive")
    lang = corpus_options.get("lang", "en")
    if corpus is None:
        tokenizer = corpus_options.pop("tokenizer", None) or retriever_model or SCALEDOWN_RETRIEVER
        corpus = read_corpus(corpus_path, max_corpus_size, tokenizer=tokenizer, **corpus_options)
    documents = [{k: v for k, v in d.items() if k != "_chunk"} for d in corpus]
    engine = make_retriever(retriever, **retriever_options(retriever, retriever_model, lang))
    log.info(
        "[1/3] retrieving the top %d of %d chunks with %s",
        top_k_retrieval,
        len(documents),
        retriever,
    )
    hits = engine.retrieve(list(queries), documents, top_k=top_k_retrieval)
    items = [{"query": q, "documents": docs} for q, docs in zip(queries, hits, strict=True)]
    if top_k_reranking or enable_reranking:
        log.info("[2/3] reranking with %s (%s)", reranker_model, reranker_kind)
        items = add_reranking_scores(
            items, reranker_model, top_k=top_k_reranking, kind=reranker_kind, activation=activation
        )
    else:
        log.info("[2/3] no reranking")
    log.info("[3/3] teacher answers (%s)", teacher_model)
    settings = dict(teacher or {})
    answered = generate_teacher_answers(
        items,
        teacher_model,
        max_new_tokens=settings.pop("max_new_tokens", 128),
        load_in_8bit=teacher_8bit,
        **settings,
    )
    records = []
    for item in answered:
        record = {
            "query": item["query"],
            "documents": [d["text"] for d in item["documents"]],
            "answer": item["answer"],
        }
        if enable_reranking and "reranking_scores" in item:
            record["reranking_scores"] = item["reranking_scores"]
        records.append(record)
    write_text(output_file, json.dumps(records, indent=2, ensure_ascii=False) + "\n")
    log.info("saved %d examples to %s", len(records), output_file)
    return records


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = script_parser(__doc__)
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--queries_file", help="file with one query per line")
    source.add_argument(
        "--num_synthetic_queries", type=int, help="N synthetic queries about the corpus's titles"
    )
    source.add_argument(
        "--download_ms_marco",
        action="store_true",
        help="MS MARCO dev queries (queries.dev.small.tsv): downloaded, or --ms_marco_file",
    )
    p.add_argument(
        "--ms_marco_file", default=None, help="a local queries.dev.small.tsv (no download)"
    )
    p.add_argument("--corpus_path", default=None, help="KILT JSON lines, records or FlashRAG")
    p.add_argument("--max_corpus_size", type=int, default=None, help="read at most N documents")
    p.add_argument("--output_file", default="train_data.json", help="the JSON array to write")
    p.add_argument("--top_k_retrieval", type=int, default=20, help="documents per query")
    p.add_argument(
        "--enable_reranking", action="store_true", help="score documents, write reranking_scores"
    )
    p.add_argument(
        "--top_k_reranking", type=int, default=None, help="rerank and keep the K best documents"
    )
    p.add_argument(
        "--retriever",
        default="splade",
        choices=("splade", "bm25", "dense", "hybrid"),
        help="retrieval method (ScaleDown: splade)",
    )
    p.add_argument(
        "--retriever_model",
        default=None,
        help=f"retriever model (splade default: {SCALEDOWN_RETRIEVER}; dense: MiniLM)",
    )
    add_reranker_flags(p)
    add_teacher_flags(p)
    p.add_argument(
        "--chunking",
        default="first_paragraph",
        choices=("first_paragraph", "paper", "none"),
        help="first body paragraph (ScaleDown), ~128-token chunks (paper), or whole records",
    )
    p.add_argument(
        "--corpus_format",
        default="auto",
        choices=("auto", "kilt", "records", "flashrag"),
        help="corpus record layout (auto: by the fields of each record)",
    )
    p.add_argument("--max_tokens", type=int, default=128, help="paper chunking: tokens per chunk")
    p.add_argument(
        "--chunk_tokenizer",
        default=None,
        help="tokenizer counting chunk tokens (default: retriever's)",
    )
    p.add_argument("--lang", default="en", help="language of queries and corpus (en, ja, ...)")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    setup_logging(args.log_level)
    tokenizer = args.chunk_tokenizer or args.retriever_model or SCALEDOWN_RETRIEVER
    corpus = read_corpus(
        args.corpus_path,
        args.max_corpus_size,
        args.chunking,
        tokenizer,
        args.corpus_format,
        args.lang,
        args.max_tokens,
    )
    queries = load_queries(args, corpus)
    teacher = teacher_options(args)
    prepare_dataset(
        queries,
        output_file=args.output_file,
        top_k_retrieval=args.top_k_retrieval,
        top_k_reranking=args.top_k_reranking,
        enable_reranking=args.enable_reranking,
        teacher_model=teacher.pop("model"),
        reranker_model=args.reranker_model,
        teacher_8bit=teacher.pop("load_in_8bit"),
        retriever=args.retriever,
        retriever_model=args.retriever_model,
        corpus=corpus,
        reranker_kind=args.reranker_kind,
        activation=args.activation,
        lang=args.lang,
        teacher=teacher,
    )


if __name__ == "__main__":
    run_main(main)

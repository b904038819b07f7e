"""Queries for RAG-compression data: read from one of several sources, normalised,
de-duplicated, with stable ids, written as `results/rag/queries/<name>.parquet`.

Columns (the contract with the teacher side): `qid, query, source, lang, answers: list<string>`
(gold answers, possibly empty) and `gold: list<struct<doc_id, start_paragraph, start_character,
end_paragraph, end_character>>` (gold passages in KILT provenance style, empty when unknown).

Sources (`kind`):
- `text`: one query per line (ScaleDown's `--queries_file`);
- `msmarco`: `qid\\tquery` lines (`queries.dev.small.tsv`), a local file, or fetched from the
  seed's URL only when the config opts in to the network;
- `squad`: SQuAD-format JSON (SQuAD 2.0, JSQuAD); unanswerable questions are kept, with no
  answers ("retrieval for all questions");
- `jsonl`: any JSONL with a query/question/input field and optional answers (`answers`,
  `golden_answers`, KILT `output[].answer`) and KILT `output[].provenance` (gold);
- `hub`: a Hub dataset with a question column (needs `hub.online`);
- `synthetic`: N queries from the titles of a built corpus, from a seeded choice of templates.

Every query is NFC-normalised with whitespace collapsed and stripped; empty queries and
duplicates (the same normalised text, case-folded; the first is kept) are dropped and counted.
The qid is the source's id when it has one, else the first 16 hex digits of the sha1 of the
normalised query; two records with one qid are an error naming both.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from distilldata.core.errors import InputError
from distilldata.core.store import write_json, write_parquet
from distilldata.rag.squad import Gold, read_squad

log = logging.getLogger(__name__)

MSMARCO_URL = "https://msmarco.z22.web.core.windows.net/msmarcoranking/queries.dev.small.tsv"
QUERY_KINDS = ("text", "msmarco", "squad", "jsonl", "hub", "synthetic")
QUERY_FIELDS = ("query", "question", "input")
ID_FIELDS = ("id", "qid", "_id")
ANSWER_FIELDS = ("answers", "golden_answers", "answer")
# Paragraph offsets missing from a KILT provenance entry mean the whole paragraph.
WHOLE_PARAGRAPH_END = 2**31 - 1
SYNTHETIC_TEMPLATES = (
    "What is {title}?",
    "Tell me about {title}.",
    "What is {title} known for?",
    "Give an overview of {title}.",
    "What are the main facts about {title}?",
)

GOLD_TYPE = pa.struct(
    [
        ("doc_id", pa.string()),
        ("start_paragraph", pa.int32()),
        ("start_character", pa.int32()),
        ("end_paragraph", pa.int32()),
        ("end_character", pa.int32()),
    ]
)
QUERY_SCHEMA = pa.schema(
    [
        ("qid", pa.string()),
        ("query", pa.string()),
        ("source", pa.string()),
        ("lang", pa.string()),
        ("answers", pa.list_(pa.string())),
        ("gold", pa.list_(GOLD_TYPE)),
    ]
)


@dataclass
class RawQuery:
    """A query as a source gave it, before normalisation; `where` names it in messages."""

    query: str
    where: str
    qid: str | None = None
    answers: list[str] = field(default_factory=list)
    gold: list[Gold] = field(default_factory=list)


# ---- normalisation, ids, de-duplication --------------------------------------------------------

_SPACE = re.compile(r"\s+")


def normalize_query(text: str) -> str:
    """Unicode NFC, every whitespace run one space, stripped."""
    return _SPACE.sub(" ", unicodedata.normalize("NFC", text)).strip()


def text_qid(query: str) -> str:
    """The id of a query without a source id: a short sha1 of its normalised text."""
    return hashlib.sha1(query.encode("utf-8")).hexdigest()[:16]


@dataclass
class QuerySet:
    rows: list[dict]
    stats: dict


def clean_queries(
    raw: Iterable[RawQuery],
    source: str,
    lang: str,
    max_queries: int = 0,
    sample: str = "first",
    seed: int = 42,
) -> QuerySet:
    """Normalised, de-duplicated rows with unique qids; drops counted by reason.

    `max_queries` > 0 keeps that many of the clean queries: the first ones (`sample: first`) or
    a seeded random sample kept in source order (`sample: random`)."""
    rows, dropped = [], {"empty": 0, "duplicate": 0, "not_sampled": 0}
    seen_text: set[str] = set()
    seen_qid: dict[str, str] = {}
    rows_in = 0
    for item in raw:
        rows_in += 1
        query = normalize_query(item.query or "")
        if not query:
            dropped["empty"] += 1
            continue
        key = query.casefold()
        if key in seen_text:
            dropped["duplicate"] += 1
            continue
        seen_text.add(key)
        qid = str(item.qid) if item.qid not in (None, "") else text_qid(query)
        if qid in seen_qid:
            raise InputError(
                f"qid {qid!r} is used twice: {seen_qid[qid]} and {item.where}; ids must be unique"
            )
        seen_qid[qid] = item.where
        answers = [a for a in dict.fromkeys(normalize_query(str(a)) for a in item.answers) if a]
        rows.append(
            {
                "qid": qid,
                "query": query,
                "source": source,
                "lang": lang,
                "answers": answers,
                "gold": [g.as_dict() for g in dict.fromkeys(item.gold)],
            }
        )
    kept = sample_rows(rows, max_queries, sample, seed)
    dropped["not_sampled"] = len(rows) - len(kept)
    stats = {"rows_in": rows_in, "rows_out": len(kept), "dropped": dropped}
    return QuerySet(kept, stats)


def sample_rows(rows: list[dict], max_queries: int, sample: str, seed: int) -> list[dict]:
    if max_queries <= 0 or len(rows) <= max_queries:
        return rows
    if sample == "first":
        return rows[:max_queries]
    if sample != "random":
        raise InputError(f"--sample must be 'first' or 'random', got {sample!r}")
    chosen = sorted(random.Random(seed).sample(range(len(rows)), max_queries))
    return [rows[i] for i in chosen]


# ---- sources -----------------------------------------------------------------------------------


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text) of a UTF-8 text file; invalid UTF-8 names its line."""
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            try:
                yield lineno, raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as exc:
                raise InputError(
                    f"{path}:{lineno}: invalid UTF-8 ({exc}); re-encode the file as UTF-8"
                ) from exc


def read_text_queries(path: Path) -> Iterator[RawQuery]:
    for lineno, line in _lines(path):
        yield RawQuery(line, f"{path}:{lineno}")


def parse_msmarco_lines(lines: Iterable[tuple[int, str]], where: str) -> Iterator[RawQuery]:
    for lineno, line in lines:
        if not line.strip():
            continue
        qid, sep, query = line.partition("\t")
        if not sep:
            raise InputError(
                f"{where}:{lineno}: expected 'qid<TAB>query' (MS MARCO queries.*.tsv), got "
                f"{line[:80]!r}"
            )
        yield RawQuery(query, f"{where}:{lineno}", qid=qid.strip())


def download_text(url: str, network: bool) -> str:
    """A file from the network, only when the config allows it."""
    if not network:
        raise InputError(
            f"MS MARCO queries: no local file given and the network is off. Either download "
            f"{url} yourself and set `path:` on the query source, or set `rag: {{network: true}}`"
            " to let the workflow fetch it"
        )
    import urllib.request

    log.info("downloading %s", url)
    with urllib.request.urlopen(url, timeout=120) as response:  # noqa: S310 (an https URL)
        return response.read().decode("utf-8")


def read_msmarco_queries(path: Path | None, url: str, network: bool) -> Iterator[RawQuery]:
    if path is not None:
        yield from parse_msmarco_lines(_lines(path), str(path))
        return
    text = download_text(url, network)
    yield from parse_msmarco_lines(enumerate(text.splitlines(), start=1), url)


def read_squad_queries(path: Path) -> Iterator[RawQuery]:
    for article in read_squad(path):
        for q in article.questions:
            yield RawQuery(q.question, q.where, qid=q.qid, answers=q.answers, gold=q.gold)


def _first(record: dict, names: Sequence[str]):
    return next((record[n] for n in names if record.get(n) not in (None, "")), None)


def _as_answers(value) -> list[str]:
    """Answers as a list of strings: a string, a list, or SQuAD's `{"text": [...]}`."""
    if value is None:
        return []
    if isinstance(value, dict):
        value = value.get("text", [])
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value if v not in (None, "")]


def kilt_gold(provenance: dict) -> Gold:
    """A KILT provenance entry as gold; missing character offsets mean the whole paragraph."""
    start_p = int(provenance["start_paragraph_id"])
    return Gold(
        doc_id=str(provenance["wikipedia_id"]),
        start_paragraph=start_p,
        start_character=int(provenance.get("start_character", 0)),
        end_paragraph=int(provenance.get("end_paragraph_id", start_p)),
        end_character=int(provenance.get("end_character", WHOLE_PARAGRAPH_END)),
    )


def jsonl_record_query(record: dict, where: str) -> RawQuery:
    """One JSONL record: KILT task files, FlashRAG's `{id, question, golden_answers}`, ..."""
    if not isinstance(record, dict):
        raise InputError(f"{where}: expected a JSON object, got {type(record).__name__}")
    query = _first(record, QUERY_FIELDS)
    if query is None and not any(n in record for n in QUERY_FIELDS):
        raise InputError(f"{where}: no query field; expected one of {QUERY_FIELDS}")
    answers = _as_answers(_first(record, ANSWER_FIELDS))
    gold = []
    for output in record.get("output") or []:
        if isinstance(output, dict):
            answers += _as_answers(output.get("answer"))
            gold += [kilt_gold(p) for p in output.get("provenance") or []]
    qid = _first(record, ID_FIELDS)
    return RawQuery(str(query or ""), where, qid=qid, answers=answers, gold=gold)


def read_jsonl_queries(path: Path) -> Iterator[RawQuery]:
    for lineno, line in _lines(path):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise InputError(f"{where}: invalid JSON ({exc}); fix or remove the line") from exc
        yield jsonl_record_query(record, where)


def read_hub_queries(
    dataset: str,
    subset: str | None,
    split: str,
    column: str,
    id_column: str | None,
    answers_column: str | None,
) -> Iterator[RawQuery]:
    from datasets import load_dataset

    try:
        rows = load_dataset(dataset, subset, split=split)
    except Exception as exc:  # datasets raises many types for "not found / offline"
        raise InputError(
            f"could not load Hub dataset {dataset!r} (subset {subset!r}, split {split!r}): {exc}."
            " Hub sources need `hub: {online: true}` (e.g. config/hub-online.yaml)"
        ) from exc
    if column not in rows.column_names:
        raise InputError(f"{dataset}: no column {column!r}; columns are {rows.column_names}")
    for i, row in enumerate(rows):
        yield RawQuery(
            str(row[column] or ""),
            f"{dataset}[{split}] row {i}",
            qid=str(row[id_column]) if id_column else None,
            answers=_as_answers(row.get(answers_column)) if answers_column else [],
        )


def synthetic_queries(corpus_parts: Sequence[str | Path], n: int, seed: int) -> Iterator[RawQuery]:
    """`n` queries from the titles of a built corpus (its documents in corpus order).

    Each title gets the templates in its own seeded order; round r asks every title its r-th
    template, until `n` queries exist. Gold: the document, from its first to its last chunk."""
    import pyarrow.parquet as pq

    docs: dict[str, dict] = {}
    for part in corpus_parts:
        table = pq.read_table(
            part,
            columns=[
                "doc_id",
                "title",
                "start_paragraph",
                "start_character",
                "end_paragraph",
                "end_character",
            ],
        )
        for row in table.to_pylist():
            doc = docs.setdefault(row["doc_id"], {**row})
            doc["end_paragraph"], doc["end_character"] = row["end_paragraph"], row["end_character"]
    if not docs:
        raise InputError(f"synthetic queries: the corpus parts {list(corpus_parts)} have no chunks")
    titled = [d for d in docs.values() if d["title"]]
    orders = {
        d["doc_id"]: random.Random(f"{seed}:{d['doc_id']}").sample(
            SYNTHETIC_TEMPLATES, len(SYNTHETIC_TEMPLATES)
        )
        for d in titled
    }
    made = 0
    for r in range(len(SYNTHETIC_TEMPLATES)):
        for d in titled:
            if made >= n:
                return
            gold = Gold(
                d["doc_id"],
                d["start_paragraph"],
                d["start_character"],
                d["end_paragraph"],
                d["end_character"],
            )
            query = orders[d["doc_id"]][r].format(title=d["title"])
            yield RawQuery(query, f"synthetic query {made}", gold=[gold])
            made += 1


# ---- the queries step --------------------------------------------------------------------------


@dataclass
class QuerySource:
    """A configured query source (`queries.<name>` in the config)."""

    kind: str
    path: str | None = None
    lang: str = "en"
    url: str = MSMARCO_URL
    network: bool = False
    corpus_parts: Sequence[str] = ()
    num_queries: int = 0
    dataset: str | None = None
    subset: str | None = None
    split: str = "train"
    column: str = "question"
    id_column: str | None = None
    answers_column: str | None = None
    seed: int = 42


def read_source(src: QuerySource) -> Iterator[RawQuery]:
    if src.kind not in QUERY_KINDS:
        raise InputError(f"unknown query kind {src.kind!r}; choose from {QUERY_KINDS}")
    path = Path(src.path) if src.path else None
    if src.kind in ("text", "squad", "jsonl") and path is None:
        raise InputError(f"query kind {src.kind!r} needs a file (--input)")
    if path is not None and not path.is_file():
        raise InputError(f"{path}: query file not found")
    if src.kind == "text":
        return read_text_queries(path)
    if src.kind == "msmarco":
        return read_msmarco_queries(path, src.url, src.network)
    if src.kind == "squad":
        return read_squad_queries(path)
    if src.kind == "jsonl":
        return read_jsonl_queries(path)
    if src.kind == "hub":
        if not src.dataset:
            raise InputError("query kind 'hub' needs --dataset (a Hub dataset id)")
        return read_hub_queries(
            src.dataset, src.subset, src.split, src.column, src.id_column, src.answers_column
        )
    if src.num_queries <= 0:
        raise InputError("query kind 'synthetic' needs --num_queries N > 0")
    return synthetic_queries(src.corpus_parts, src.num_queries, src.seed)


def _describe(src: QuerySource) -> str:
    return src.path or src.dataset or (src.url if src.kind == "msmarco" else src.kind)


def build_queries(
    src: QuerySource,
    output: str | Path,
    stats_output: str | Path,
    max_queries: int = 0,
    sample: str = "first",
) -> dict:
    """Read, clean and write one query set (Parquet + stats JSON); returns the stats."""
    result = clean_queries(read_source(src), src.kind, src.lang, max_queries, sample, src.seed)
    if result.stats["rows_in"] == 0:
        raise InputError(f"{_describe(src)}: no queries found (the source is empty)")
    if not result.rows:
        raise InputError(
            f"{_describe(src)}: no queries left after dropping {result.stats['dropped']}"
        )
    write_parquet(pa.Table.from_pylist(result.rows, schema=QUERY_SCHEMA), output)
    stats = {"source": _describe(src), "kind": src.kind, **result.stats}
    write_json(stats_output, stats)
    log.info(
        "%s: %d queries in, %d out, dropped %s",
        _describe(src),
        stats["rows_in"],
        stats["rows_out"],
        stats["dropped"],
    )
    return stats

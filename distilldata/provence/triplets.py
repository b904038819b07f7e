"""Triplet rows: which columns are the query, the positives and the negatives.

Two input shapes are accepted:
- sentence-transformers triplets: `query|question|prompt`, `answer|positive|pos|target`,
  `negative`, `negative_1..N` / `neg...` columns (one text each);
- hard-negative lists (MS MARCO / NQ as in FlagEmbedding): `query`, `pos: [str]`, `neg: [str]`,
  where every list element is its own text (the peer space-joins a list into one text).

Negative columns are taken in natural order (`negative_2` before `negative_10`); the peer sorts
them as strings.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from distilldata.core.errors import InputError
from distilldata.provence.splits import split_groups

QUERY_COLUMNS = ("query", "question", "prompt")
POSITIVE_COLUMNS = ("answer", "positive", "pos", "target")
NEGATIVE_PREFIXES = ("negative", "neg")
OUTPUT_COLUMNS = ("id", "query", "texts", "context_spans", "labels")


def natural_key(name: str) -> tuple:
    """Sort key that orders digit runs by value: negative_2 < negative_10."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name))


@dataclass(frozen=True)
class TripletColumns:
    query: str
    positive: str
    negatives: tuple[str, ...]
    extra: tuple[str, ...]


def is_text_type(dtype: pa.DataType) -> bool:
    """A string, or a list of strings (the hard-negative list shape)."""
    if pa.types.is_list(dtype) or pa.types.is_large_list(dtype):
        dtype = dtype.value_type
    return pa.types.is_string(dtype) or pa.types.is_large_string(dtype) or pa.types.is_null(dtype)


def detect_columns(schema: pa.Schema, where: str) -> TripletColumns:
    """Pick the query/positive/negative columns of a split; everything else is carried through.

    Negatives are the text columns named `negative*`/`neg*`: score columns such as
    `neg_scores` share the prefix but hold numbers, and are carried through instead.
    """
    columns = schema.names
    query = next((c for c in QUERY_COLUMNS if c in columns), None)
    positive = next((c for c in POSITIVE_COLUMNS if c in columns), None)
    if query is None or positive is None:
        missing = "a query column" if query is None else "a positive column"
        raise InputError(
            f"{where}: no {missing}; expected one of "
            f"{QUERY_COLUMNS if query is None else POSITIVE_COLUMNS}, found columns {list(columns)}"
        )
    negatives = tuple(
        sorted(
            (
                c
                for c in columns
                if c.startswith(NEGATIVE_PREFIXES) and is_text_type(schema.field(c).type)
            ),
            key=natural_key,
        )
    )
    used = {query, positive, *negatives}
    # Carried-through columns must not shadow the output schema.
    extra = tuple(c for c in columns if c not in used)
    return TripletColumns(query, positive, negatives, extra)


def as_texts(value: object) -> list[str]:
    """One column value as a list of texts: a string is one text, a list is one per element."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, list | tuple):
        return [str(v) for v in value if v]
    return [str(value)]


def row_texts(row: dict, cols: TripletColumns) -> tuple[str, list[str], list[int]]:
    """(query, texts, labels) of one row: positives first (label 1), then negatives (0)."""
    query = row[cols.query]
    if isinstance(query, list):
        query = " ".join(str(q) for q in query if q)
    positives = as_texts(row[cols.positive])
    negatives = [t for c in cols.negatives for t in as_texts(row[c])]
    return (
        query or "",
        positives + negatives,
        [1] * len(positives) + [0] * len(negatives),
    )


# ---- SQuAD-format QA files -> triplet datasets -------------------------------------------


@dataclass
class QATriplets:
    rows: dict[str, list[dict]]  # split -> rows
    dropped: dict[str, int]  # reason -> questions
    questions: int


def _strip_title(context: str, title: str) -> tuple[str, int]:
    """JSQuAD contexts start with '<title> [SEP] '; drop it and report the offset shift."""
    prefix = f"{title} [SEP] "
    return (context[len(prefix) :], len(prefix)) if context.startswith(prefix) else (context, 0)


def _answer_spans(context: str, answers: list[dict], shift: int) -> list[list[int]] | None:
    """Gold answer offsets inside the paragraph body (answers inside a stripped title are
    skipped); None if an offset does not point at its answer text."""
    spans = set()
    for answer in answers:
        start = answer["answer_start"] - shift
        end = start + len(answer["text"])
        if start < 0:
            continue
        if context[start:end] != answer["text"]:
            return None
        spans.add((start, end))
    return [list(s) for s in sorted(spans)]


def build_qa_triplets(
    path: str | Path,
    seed: int = 42,
    max_negatives: int = 12,
    eval_fractions: tuple[float, float] = (0.1, 0.1),
) -> QATriplets:
    """Turn a SQuAD-format file into triplet rows split by article.

    query = question; positive = the paragraph holding the answer; negatives = up to
    `max_negatives` other paragraphs of the same article, sampled per question with a seeded
    RNG and kept in article order; `answer_spans` = gold answer offsets in the positive.
    Unanswerable questions are dropped and counted.
    """
    import random

    path = Path(path)
    try:
        data = json.loads(path.read_text("utf-8"))["data"]
    except (OSError, ValueError, KeyError) as exc:
        raise InputError(f"{path}: not a SQuAD-format JSON file ({exc})") from exc

    split_of = split_groups([a["title"] for a in data], seed, eval_fractions)
    rows: dict[str, list[dict]] = {"train": [], "validation": [], "test": []}
    dropped = {"unanswerable": 0, "answer_offset_mismatch": 0, "answer_only_in_title": 0}
    questions = 0
    for article in data:
        title = article["title"]
        contexts = [_strip_title(p["context"], title) for p in article["paragraphs"]]
        for p_idx, paragraph in enumerate(article["paragraphs"]):
            context, shift = contexts[p_idx]
            others = [i for i in range(len(contexts)) if i != p_idx]
            for qa in paragraph["qas"]:
                questions += 1
                if qa.get("is_impossible") or not qa.get("answers"):
                    dropped["unanswerable"] += 1
                    continue
                spans = _answer_spans(context, qa["answers"], shift)
                if not spans:
                    reason = "answer_offset_mismatch" if spans is None else "answer_only_in_title"
                    dropped[reason] += 1
                    continue
                rng = random.Random(f"{seed}:{qa['id']}")
                chosen = sorted(rng.sample(others, min(max_negatives, len(others))))
                row = {"query": qa["question"], "positive": context}
                for k in range(max_negatives):
                    row[f"negative_{k + 1}"] = contexts[chosen[k]][0] if k < len(chosen) else ""
                row.update(answer_spans=spans, title=title, source_id=qa["id"])
                rows[split_of[title]].append(row)
    return QATriplets(rows=rows, dropped=dropped, questions=questions)


def write_qa_triplets(
    path: str | Path,
    output: str | Path,
    seed: int = 42,
    max_negatives: int = 12,
    eval_fraction: float = 0.1,
    overwrite: bool = False,
) -> dict:
    """Build triplets from a SQuAD-format file and save them with a stats.json beside the splits."""
    import logging

    from distilldata.core.store import check_output, save_splits

    check_output(output, overwrite)
    built = build_qa_triplets(path, seed, max_negatives, (eval_fraction, eval_fraction))
    kept = {k: len(v) for k, v in built.rows.items()}
    stats = {
        "input": str(path),
        "questions_in": built.questions,
        "rows_out": kept,
        "dropped": built.dropped,
    }
    if built.questions != sum(kept.values()) + sum(built.dropped.values()):
        raise RuntimeError(f"{path}: {built.questions} questions in, {kept} kept + {built.dropped}")
    tables = {k: pa.Table.from_pylist(v) for k, v in built.rows.items()}
    save_splits(tables, output, overwrite, sidecars={"stats.json": stats})
    logging.getLogger(__name__).info("%s: %s (dropped %s)", output, kept, built.dropped)
    return stats

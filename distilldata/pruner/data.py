"""Training data for the reranker-pruner: dataset mixing, per-sentence targets, token labels.

Preparation follows the seed trainer (per dataset entry: items -> teacher column -> upsample ->
n_samples; eval split = validation, else test, sampled at the same ratio, never upsampled), with
these fixes:
- every random choice uses an RNG seeded by (seed, dataset key), and entries are concatenated
  in key order, so results do not depend on the order of the dataset list;
- `items` keeps rows with fewer candidates than `items` (the peer drops them silently);
- a text whose `context_spans_relevance` is `[]` (not labelled) falls back to gold labels from
  `answer_spans` when the row has them, else it is left out of the pruning loss instead of
  being taught "nothing is relevant";
- a sentence flagged -1 (unknown: the labeling prompt's truncation ladder never showed it to
  the labeler) is left out of the pruning loss too (token label -100), not taught as 0;
- the label shape is never guessed from its length: a list as long as the span list is a mask
  (1 / 0 / -1); a list of another length is read as span indices only when it cannot be a
  0/1 mask (some value >= 2, all distinct and in range), anything else is an InputError that
  names the row, the text and both lengths (the peer re-reads a mask of the wrong length as
  indices and drops out-of-range ones);
- token labels come from the fast tokenizer's character offsets against `context_spans`
  (exact, also for Japanese and for sentences cut by truncation), not from re-tokenizing
  progressively joined spans.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from distilldata.core.errors import InputError
from distilldata.pruner.inference import sentence_of_tokens
from distilldata.text.answer_spans import gold_relevance

log = logging.getLogger(__name__)

IGNORE = -100
UNKNOWN = -1  # a sentence flag: the labeler never saw this sentence (see relevance_prompt)
RELEVANCE_COLUMN = "context_spans_relevance"
EVAL_SPLITS = ("validation", "test")


# ---- per-text targets ---------------------------------------------------------------------


def text_relevance(row: dict) -> list[list[int] | None]:
    """Per text, per-sentence targets aligned with `context_spans`: 1, 0, or -1 (unknown).

    None = the whole text is unlabelled. `context_spans_relevance` wins where it is non-empty
    (read by `span_targets`); otherwise gold labels from `answer_spans` (the answer lies in
    texts[0]; every other text is all 0); otherwise None.
    """
    spans = row["context_spans"]
    labelled = row.get(RELEVANCE_COLUMN)
    if labelled and len(labelled) != len(spans):
        raise InputError(
            f"row {row.get('id')!r}: {len(labelled)} {RELEVANCE_COLUMN} lists for "
            f"{len(spans)} texts; they must align one to one"
        )
    labelled = labelled or [None] * len(spans)
    answers = row.get("answer_spans")
    out: list[list[int] | None] = []
    for i, (text_spans, flags) in enumerate(zip(spans, labelled, strict=True)):
        if flags:
            out.append(span_targets(flags, len(text_spans), row.get("id"), i))
        elif answers is not None:
            out.append(gold_relevance(text_spans, answers) if i == 0 else [0] * len(text_spans))
        else:
            out.append(None)
    return out


def span_targets(flags: Sequence[int], n_spans: int, row_id: Any, text: int) -> list[int]:
    """One text's labels as per-span targets (1 / 0 / -1), from either of the peer's shapes.

    - a mask: exactly one flag per span, each 1 (relevant), 0 or -1 (unknown);
    - a list of relevant span indices, accepted only where it cannot be a 0/1 mask: its length
      differs from `n_spans`, some value is >= 2, and the indices are distinct and in range.
    Anything else (a 0/1 list of the wrong length, an index out of range) is an InputError.
    """
    values = [int(f) for f in flags]
    where = f"row {row_id!r}, text {text}: {len(values)} flag{'s' if len(values) != 1 else ''}"
    where += f" for {n_spans} spans ({RELEVANCE_COLUMN} {values})"
    if len(values) == n_spans:
        bad = sorted({v for v in values if v not in (0, 1, UNKNOWN)})
        if bad:
            raise InputError(
                f"{where}: as long as the span list, so a mask, but it holds {bad}; a mask "
                "holds 1 (relevant), 0 (not) or -1 (unknown)"
            )
        return values
    indices = set(values)
    if max(values) >= 2 and len(indices) == len(values) and indices <= set(range(n_spans)):
        return [int(j in indices) for j in range(n_spans)]
    raise InputError(
        f"{where}: neither a mask (one flag per span) nor an unambiguous list of span indices "
        f"(distinct, in 0..{n_spans - 1}, some index >= 2); relabel this dataset"
    )


def ranking_targets(row: dict, teacher_column: str | None) -> list[float]:
    """Per text: the teacher score when the dataset has one, else the 0/1 label."""
    if teacher_column:
        scores = row.get(teacher_column)
        if scores is None:
            raise InputError(f"row {row.get('id')!r}: no teacher column {teacher_column!r}")
        return [float(s) for s in scores]
    labels = row.get("labels")
    if labels is None:
        return [1.0] + [0.0] * (len(row["texts"]) - 1)
    return [float(v) for v in labels]


# ---- items / upsample / n_samples -----------------------------------------------------------


def select_items(labels: Sequence[int] | None, n: int, items: int, rng: random.Random) -> list[int]:
    """Indices of `items` candidates: positives first (in order), the rest random negatives.

    The result is sorted (original order kept). Rows with <= items candidates keep them all.
    Without labels the choice is uniform.
    """
    if n <= items:
        return list(range(n))
    if labels is None:
        return sorted(rng.sample(range(n), items))
    positives = [i for i in range(n) if labels[i] == 1][:items]
    negatives = [i for i in range(n) if labels[i] != 1]
    rng.shuffle(negatives)
    return sorted(positives + negatives[: items - len(positives)])


def upsample_indices(n: int, factor: float, rng: random.Random) -> list[int]:
    """`int(factor)` full copies plus round(frac * n) (at least 1) rows drawn without repeats."""
    if factor < 1:
        raise InputError(f"upsample_factor must be >= 1, got {factor}")
    whole = int(factor)
    frac = factor - whole
    indices = list(range(n)) * whole
    if frac > 0 and n:
        extra = min(n, max(1, round(frac * n)))
        indices += sorted(rng.sample(range(n), extra))
    return indices


def n_samples_count(n: int, n_samples: float | None) -> int:
    """Rows kept by `n_samples`: > 1 is a count (capped at n), <= 1 a fraction (ceil)."""
    if n_samples is None:
        return n
    if n_samples <= 0:
        raise InputError(f"n_samples must be > 0, got {n_samples}")
    if n_samples > 1:
        return min(n, int(n_samples))
    return min(n, math.ceil(n_samples * n))


def sample_rows(n: int, k: int, rng: random.Random) -> list[int]:
    return list(range(n)) if k >= n else sorted(rng.sample(range(n), k))


# ---- one dataset entry --------------------------------------------------------------------


@dataclass
class DatasetEntry:
    dataset_name: str
    subset: str | None = None
    teacher_column: str | None = None
    items: int | None = None
    n_samples: float | None = None
    upsample_factor: float = 1.0
    split: str = "train"
    eval_split: str | None = None

    @property
    def key(self) -> str:
        return f"{self.dataset_name}:{self.subset or 'default'}"

    @classmethod
    def from_dict(cls, raw: dict | str) -> DatasetEntry:
        if isinstance(raw, str):
            raw = {"dataset_name": raw}
        unknown = set(raw) - set(cls.__dataclass_fields__)
        if unknown:
            raise InputError(f"dataset entry {raw}: unknown keys {sorted(unknown)}")
        entry = cls(**raw)
        if entry.items is not None and entry.items < 1:
            raise InputError(f"{entry.key}: items must be >= 1")
        return entry


def make_example(row: dict, teacher_column: str | None) -> dict:
    """One training example: query, texts, spans, per-sentence targets, ranking targets."""
    return {
        "id": row.get("id"),
        "query": row["query"],
        "texts": list(row["texts"]),
        "context_spans": [[list(s) for s in t] for t in row["context_spans"]],
        "relevance": text_relevance(row),
        "ranking": ranking_targets(row, teacher_column),
        "labels": list(row["labels"]) if row.get("labels") is not None else None,
    }


def trim_example(example: dict, keep: list[int]) -> dict:
    out = dict(example)
    for name in ("texts", "context_spans", "relevance", "ranking", "labels"):
        if out[name] is not None:
            out[name] = [out[name][i] for i in keep]
    return out


def apply_items(examples: list[dict], items: int | None, rng_seed: str) -> list[dict]:
    if items is None:
        return examples
    out = []
    for idx, ex in enumerate(examples):
        rng = random.Random(f"{rng_seed}:items:{idx}")
        out.append(trim_example(ex, select_items(ex["labels"], len(ex["texts"]), items, rng)))
    return out


@dataclass
class PreparedData:
    train: list[dict]
    eval: list[dict]
    stats: dict[str, Any] = field(default_factory=dict)


def _load_split_rows(entry: DatasetEntry) -> tuple[list[dict], list[dict], str | None]:
    from distilldata.core.sources import load_tables

    tables = load_tables(entry.dataset_name, entry.subset)
    if entry.split not in tables:
        raise InputError(f"{entry.key}: no split {entry.split!r} (found {sorted(tables)})")
    eval_name = entry.eval_split or next((s for s in EVAL_SPLITS if s in tables), None)
    if entry.eval_split and entry.eval_split not in tables:
        raise InputError(f"{entry.key}: no eval split {entry.eval_split!r}")
    for column in ("query", "texts", "context_spans"):
        if column not in tables[entry.split].column_names:
            raise InputError(f"{entry.key}: missing column {column!r}")
    if entry.teacher_column and entry.teacher_column not in tables[entry.split].column_names:
        raise InputError(
            f"{entry.key}: teacher column {entry.teacher_column!r} not found "
            f"(columns: {tables[entry.split].column_names})"
        )
    train = tables[entry.split].to_pylist()
    evals = tables[eval_name].to_pylist() if eval_name else []
    return train, evals, eval_name


def prepare_entry(
    entry: DatasetEntry, seed: int, train_rows: list[dict], eval_rows: list[dict]
) -> tuple[list[dict], list[dict], dict]:
    """items -> teacher targets -> upsample -> n_samples for one entry (eval: no upsampling)."""
    rng_seed = f"{seed}:{entry.key}"
    train = apply_items(
        [make_example(r, entry.teacher_column) for r in train_rows], entry.items, rng_seed
    )
    evals = apply_items(
        [make_example(r, entry.teacher_column) for r in eval_rows], entry.items, rng_seed + ":eval"
    )
    up = upsample_indices(len(train), entry.upsample_factor, random.Random(f"{rng_seed}:up"))
    train = [train[i] for i in up]
    k = n_samples_count(len(train), entry.n_samples)
    train = [train[i] for i in sample_rows(len(train), k, random.Random(f"{rng_seed}:n"))]
    ratio = k / len(up) if up else 1.0
    k_eval = len(evals) if entry.n_samples is None else math.ceil(ratio * len(evals))
    evals = [evals[i] for i in sample_rows(len(evals), k_eval, random.Random(f"{rng_seed}:ne"))]
    stats = {
        "rows_in": len(train_rows),
        "after_upsample": len(up),
        "train_rows": len(train),
        "eval_rows": len(evals),
        "pairs": sum(len(ex["texts"]) for ex in train),
    }
    return train, evals, stats


def prepare_datasets(
    entries: Sequence[DatasetEntry | dict | str],
    seed: int = 42,
    max_eval_samples: int | None = None,
) -> PreparedData:
    """Load and mix every dataset entry; train and eval examples in dataset-key order."""
    parsed = [e if isinstance(e, DatasetEntry) else DatasetEntry.from_dict(e) for e in entries]
    if not parsed:
        raise InputError("data_args.datasets is empty")
    keys = [e.key for e in parsed]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        raise InputError(f"data_args.datasets lists {duplicates} more than once")
    train: list[dict] = []
    evals: list[dict] = []
    stats: dict[str, Any] = {}
    for entry in sorted(parsed, key=lambda e: e.key):
        train_rows, eval_rows, eval_name = _load_split_rows(entry)
        t, e, s = prepare_entry(entry, seed, train_rows, eval_rows)
        s["eval_split"] = eval_name
        train += t
        evals += e
        stats[entry.key] = s
        log.info("%s: %s", entry.key, s)
    if max_eval_samples is not None and len(evals) > max_eval_samples:
        evals = [
            evals[i]
            for i in sample_rows(len(evals), max_eval_samples, random.Random(f"{seed}:max_eval"))
        ]
    if not train:
        raise InputError(f"no training rows after preparation ({stats})")
    return PreparedData(train=train, eval=evals, stats=stats)


# ---- token labels and the collator ----------------------------------------------------------


def token_labels(
    offsets: Sequence[Sequence[int]],
    sequence_ids: Sequence[int | None],
    spans: Sequence[Sequence[int]],
    relevance: Sequence[int] | None,
    text_sequence: int = 1,
) -> list[int]:
    """Per token: the relevance of the sentence its characters fall in, else -100.

    Only tokens of the text (sequence `text_sequence`) with a non-empty character range are
    labelled; the query, special tokens, padding and tokens between sentences stay -100. A
    token overlapping several sentences takes the highest label (never drop a relevant one),
    except that a token touching an unknown (-1) sentence and no relevant one stays -100.
    `relevance=None` (unlabelled text) and unknown sentences leave their tokens at -100.
    """
    labels = [IGNORE] * len(offsets)
    if relevance is None or not spans or all(int(r) < 0 for r in relevance):
        return labels
    starts = [s for s, _ in spans]
    import bisect

    for i, (seq, (start, end)) in enumerate(zip(sequence_ids, offsets, strict=True)):
        if seq != text_sequence or end <= start:
            continue
        j = max(bisect.bisect_right(starts, start) - 1, 0)
        best, unknown = IGNORE, False
        while j < len(spans) and spans[j][0] < end:
            s, e = spans[j]
            if s < end and start < e:
                value = int(relevance[j])
                if value < 0:
                    unknown = True
                else:
                    best = max(best, value)
            j += 1
        labels[i] = IGNORE if unknown and best != 1 else best
    return labels


class PrunerCollator:
    """Rows -> one (query, text) pair per text, tokenized with offsets; token and rank targets."""

    def __init__(self, tokenizer, max_length: int = 512):
        if not getattr(tokenizer, "is_fast", False):
            raise InputError("the pruner needs a fast tokenizer (character offsets)")
        self.tokenizer = tokenizer
        self.max_length = max_length

    def __call__(self, rows: list[dict]) -> dict:
        import torch

        queries, texts, spans, relevance, ranking = [], [], [], [], []
        for row in rows:
            for i, text in enumerate(row["texts"]):
                queries.append(row["query"])
                texts.append(text)
                spans.append(row["context_spans"][i])
                relevance.append(row["relevance"][i])
                ranking.append(row["ranking"][i])
        enc = self.tokenizer(
            queries,
            texts,
            truncation="only_second",
            max_length=self.max_length,
            padding=True,
            return_offsets_mapping=True,
            return_tensors="pt",
        )
        offsets = enc.pop("offset_mapping").tolist()
        labels, owners, query = [], [], []
        for b in range(len(texts)):
            seq = enc.sequence_ids(b)
            labels.append(token_labels(offsets[b], seq, spans[b], relevance[b]))
            owners.append(sentence_of_tokens(offsets[b], seq, spans[b]))
            query.append([int(s == 0) for s in seq])
        batch = dict(enc)
        batch["sentence_index"] = torch.tensor(owners, dtype=torch.long)
        batch["query_mask"] = torch.tensor(query, dtype=torch.long)
        batch["token_labels"] = torch.tensor(labels, dtype=torch.long)
        batch["ranking_targets"] = torch.tensor(ranking, dtype=torch.float)
        return batch

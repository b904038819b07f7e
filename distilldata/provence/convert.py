"""Triplet datasets -> the Provence format (`id, query, texts, context_spans, labels`).

Semantics follow the seed's converter (sampling, carve-out, labels), with these fixes:
negatives in natural order, spans from the splitter's own offsets, ids `<slug>:<split>:<row>`
built from the workflow's slug (never an absolute path), rows without a query or positive
dropped and counted instead of aborting the run, and inputs never written to.

Speed: each distinct text is split once (triplet data repeats passages heavily), distinct texts
are split on `num_proc` processes, and columns are built as Arrow arrays in one go.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from distilldata.core.errors import InputError
from distilldata.core.progress import Progress
from distilldata.core.sources import Tables, load_tables
from distilldata.core.store import check_output, save_splits
from distilldata.provence.splits import carve_sizes, permutation
from distilldata.provence.triplets import OUTPUT_COLUMNS, detect_columns, row_texts
from distilldata.text.sentences import Spans, span_splitter

log = logging.getLogger(__name__)

PROVENCE_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("query", pa.string()),
        ("texts", pa.list_(pa.string())),
        ("context_spans", pa.list_(pa.list_(pa.list_(pa.int64())))),
        ("labels", pa.list_(pa.int64())),
    ]
)
PARALLEL_MIN_TEXTS = 4000  # below this, starting processes costs more than it saves
CHUNK = 500


def slugify(dataset: str, subset: str | None) -> str:
    """The seed's output folder name: `owner/name` -> `owner_name`, plus `_subset`.

    A local path contributes only its final name (a file its stem), so no absolute path ends
    up in ids.
    """
    path = Path(dataset)
    if path.exists():
        base = path.stem if path.is_file() else path.name
    else:
        base = dataset.replace("/", "_")
    return f"{base}_{subset}" if subset else base


# ---- sentence spans over distinct texts ---------------------------------------------------

_worker_split = None


def _init_worker(lang: str) -> None:
    global _worker_split
    _worker_split = span_splitter(lang)


def _split_chunk(texts: list[str]) -> list[Spans]:
    return [_worker_split(t) for t in texts]


def spans_for(texts: list[str], lang: str, num_proc: int) -> dict[str, Spans]:
    """Sentence spans of each distinct text, split once each, on up to num_proc processes."""
    distinct = list(dict.fromkeys(texts))
    progress = Progress(len(distinct), "texts", log)
    chunks = [distinct[i : i + CHUNK] for i in range(0, len(distinct), CHUNK)]
    results: list[Spans] = []
    if num_proc > 1 and len(distinct) >= PARALLEL_MIN_TEXTS:
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(num_proc, initializer=_init_worker, initargs=(lang,)) as pool:
            for part in pool.imap(_split_chunk, chunks):
                results.extend(part)
                progress.update(len(part))
    else:
        split = span_splitter(lang)
        for chunk in chunks:
            results.extend(split(t) for t in chunk)
            progress.update(len(chunk))
    return dict(zip(distinct, results, strict=True))


# ---- per split ----------------------------------------------------------------------------


@dataclass
class SplitRows:
    """Converted rows of one split before spans are attached."""

    source_rows: list[int] = field(default_factory=list)
    queries: list[str] = field(default_factory=list)
    texts: list[list[str]] = field(default_factory=list)
    labels: list[list[int]] = field(default_factory=list)
    dropped: Counter = field(default_factory=Counter)


def extract_rows(table: pa.Table, where: str) -> tuple[SplitRows, tuple[str, ...]]:
    cols = detect_columns(table.schema, where)
    needed = [cols.query, cols.positive, *cols.negatives]
    out = SplitRows()
    for i, row in enumerate(table.select(needed).to_pylist()):
        query, texts, labels = row_texts(row, cols)
        if not query.strip():
            out.dropped["empty_query"] += 1
            continue
        if 1 not in labels:
            out.dropped["no_positive"] += 1
            continue
        out.source_rows.append(i)
        out.queries.append(query)
        out.texts.append(texts)
        out.labels.append(labels)
    return out, cols.extra


def assemble(
    rows: SplitRows,
    spans: dict[str, Spans],
    slug: str,
    split: str,
    table: pa.Table,
    extra: tuple[str, ...],
) -> pa.Table:
    arrays = [
        pa.array([f"{slug}:{split}:{i}" for i in range(len(rows.queries))], pa.string()),
        pa.array(rows.queries, pa.string()),
        pa.array(rows.texts, PROVENCE_SCHEMA.field("texts").type),
        pa.array(
            [[spans[t] for t in texts] for texts in rows.texts],
            PROVENCE_SCHEMA.field("context_spans").type,
        ),
        pa.array(rows.labels, PROVENCE_SCHEMA.field("labels").type),
    ]
    out = pa.Table.from_arrays(arrays, schema=PROVENCE_SCHEMA)
    carried = table.select(list(extra)).take(pa.array(rows.source_rows, pa.int64()))
    for name in extra:
        column_name = f"source_{name}" if name in OUTPUT_COLUMNS else name
        out = out.append_column(column_name, carried.column(name))
    return out


# ---- sampling and carve-out ----------------------------------------------------------------


def sample_and_carve(tables: Tables, sample_size: int | None, seed: int) -> tuple[Tables, dict]:
    """Apply --sample-size to every split, then carve validation/test out of train if missing."""
    info: dict = {}
    if sample_size is not None:
        if sample_size <= 0:
            raise InputError("--sample-size must be a positive number of rows")
        tables = {
            name: t.take(permutation(t.num_rows, seed)[:sample_size]) for name, t in tables.items()
        }
        info["sampled_to"] = sample_size
    if "validation" in tables and "test" in tables:
        info["carved"] = False
        return tables, info
    if {"validation", "test"} & set(tables):
        log.warning(
            "only one of validation/test exists; both are carved from train as the seed does"
        )
    train = tables["train"]
    if train.num_rows == 0:
        raise InputError("the train split is empty; cannot carve validation/test out of it")
    sizes = carve_sizes(train.num_rows)
    order = permutation(train.num_rows, seed)
    cut1, cut2 = sizes.validation, sizes.validation + sizes.test
    carved = dict(tables)
    carved.update(
        validation=train.take(order[:cut1]),
        test=train.take(order[cut1:cut2]),
        train=train.take(order[cut2:]),
    )
    info["carved"] = {"validation": sizes.validation, "test": sizes.test, "train": sizes.train}
    return carved, info


def convert(
    dataset: str,
    output_root: str | Path,
    lang: str = "en",
    subset: str | None = None,
    slug: str | None = None,
    sample_size: int | None = None,
    seed: int = 42,
    overwrite: bool = False,
    num_proc: int = 1,
) -> dict:
    """Convert a triplet dataset to `<output_root>/<slug>`; returns the stats written beside it."""
    slug = slug or slugify(dataset, subset)
    out_dir = check_output(Path(output_root) / slug, overwrite)
    span_splitter(lang)  # fail fast on a missing splitter, before loading anything
    tables, info = sample_and_carve(load_tables(dataset, subset), sample_size, seed)

    extracted = {name: extract_rows(table, f"{dataset} [{name}]") for name, table in tables.items()}
    all_texts = [t for rows, _ in extracted.values() for texts in rows.texts for t in texts]
    spans = spans_for(all_texts, lang, num_proc)
    out_tables, split_stats = {}, {}
    for name, (rows, extra) in extracted.items():
        out_tables[name] = assemble(rows, spans, slug, name, tables[name], extra)
        split_stats[name] = {
            "rows_in": tables[name].num_rows,
            "rows_out": len(rows.queries),
            "dropped": dict(rows.dropped),
        }
        if rows.dropped:
            log.warning("%s: dropped %s", name, dict(rows.dropped))
    if sum(t.num_rows for t in out_tables.values()) == 0:
        raise InputError(f"{dataset}: every row was dropped ({split_stats}); nothing to save")
    stats = {
        "dataset": dataset,
        "subset": subset,
        "slug": slug,
        "lang": lang,
        "seed": seed,
        **info,
        "distinct_texts": len(spans),
        "texts": len(all_texts),
        "splits": split_stats,
    }
    save_splits(out_tables, out_dir, overwrite=overwrite, sidecars={"stats.json": stats})
    log.info("saved %s: %s", out_dir, {k: v["rows_out"] for k, v in split_stats.items()})
    return stats

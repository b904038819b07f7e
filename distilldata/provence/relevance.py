"""`context_spans_relevance`: sharded, resumable span labeling and the merge into a dataset.

Layout of the work, per split (groups, shards and the cache are `distilldata.llm.cache`):
- rows are cut into *groups* of `group_size` rows at fixed boundaries (0, G, 2G, ...); a group is
  the cache unit: `<cache_root>/<dataset_name>/<labeler>/[debug/]<split>/<start>-<end>.json`
  holds `{id: [[flags per span] per text]}` and is written atomically (temp file + rename);
- shard k of N (one job, e.g. one GPU) takes a contiguous run of whole groups (splits in order,
  about 1/N of all rows), so the cache is the same whatever N is, and a killed job redoes at most
  the group it was in;
- a shard writes one Parquet file (`split, row, id, context_spans_relevance`) whose schema
  metadata names its labeler (and run stats); the merge first checks that every shard names
  the same labeler, then that the shards cover every row exactly once, and only then writes the
  dataset with its `relevance.json` summary inside it (one rename: both or neither).

`<labeler>` names the backend, model and every setting that changes labels (see
`LabelSettings.fingerprint`): a cache written by another model is never reused.

Column semantics: `context_spans_relevance[row][text]` is a list aligned with
`context_spans[row][text]`: 1 relevant, 0 not relevant, -1 unknown (a sentence the labeling
prompt did not show: the truncation ladder keeps only the first 10 or 5 chunks, or none at its
last rung). A text that got no prompt (no non-empty span) gets `[]`, which is distinct from
"nothing relevant" (all zeros). `relevance.json` counts the -1 flags per split
(`unknown_spans`), and so do the shard stats.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from distilldata.core.errors import InputError
from distilldata.core.progress import Progress
from distilldata.core.sources import Tables, load_tables
from distilldata.core.store import check_output, save_splits, write_parquet
from distilldata.llm.cache import GroupCache, digest_rows, shard_plan
from distilldata.provence.relevance_backends import (
    LabelSettings,
    RelevanceBackend,
    TextItem,
    make_backend,
)
from distilldata.provence.relevance_prompt import chunk_positions, span_flags

log = logging.getLogger(__name__)

COLUMN = "context_spans_relevance"
REQUIRED_COLUMNS = ("id", "query", "texts", "context_spans")
GOLD_COLUMN = "answer_spans"
FLAGS_TYPE = pa.list_(pa.list_(pa.int64()))
SHARD_SCHEMA = pa.schema(
    [("split", pa.string()), ("row", pa.int64()), ("id", pa.string()), (COLUMN, FLAGS_TYPE)]
)
SHARD_INFO_KEY = b"distilldata.relevance"  # shard Parquet metadata: {"labeler": ..., stats}
UNKNOWN = -1
Flags = list[list[int]]


# ---- input checks ---------------------------------------------------------------------------


def validate_split(table: pa.Table, where: str, needs_gold: bool = False) -> None:
    """Fail with a clear message on missing columns, duplicate ids or texts/spans mismatches."""
    missing = [c for c in REQUIRED_COLUMNS if c not in table.column_names]
    if needs_gold and GOLD_COLUMN not in table.column_names:
        missing.append(GOLD_COLUMN)
    if missing:
        hint = (
            " (the gold backend needs gold answer offsets, which SQuAD-derived data carries)"
            if GOLD_COLUMN in missing
            else ""
        )
        raise InputError(f"{where}: missing column(s) {missing}{hint}; found {table.column_names}")
    ids = table.column("id")
    if ids.null_count:
        raise InputError(f"{where}: {ids.null_count} row(s) have no id; ids must be unique strings")
    counts = pc.value_counts(ids)
    dup = counts.filter(pc.greater(counts.field("counts"), 1))
    if len(dup):
        examples = [v.as_py() for v in dup.field("values")[:3]]
        raise InputError(
            f"{where}: {len(dup)} duplicate id(s), e.g. {examples}; labels are keyed by id, so "
            "ids must be unique within a split"
        )
    n_texts = pc.list_value_length(table.column("texts"))
    n_spans = pc.list_value_length(table.column("context_spans"))
    bad = pc.not_equal(pc.fill_null(n_texts, -1), pc.fill_null(n_spans, -2))
    if pc.any(bad).as_py():
        first = pc.index(bad, True).as_py()
        raise InputError(
            f"{where}: row {first} (id {ids[first].as_py()!r}) has {n_texts[first].as_py()} texts "
            f"but {n_spans[first].as_py()} context_spans lists; they must align one to one"
        )


def rows_digest(rows: Sequence[dict]) -> str:
    """A group's inputs (ids, queries, texts, spans, gold), for the cache."""
    return digest_rows(rows, (*REQUIRED_COLUMNS, GOLD_COLUMN))


# ---- labeling -------------------------------------------------------------------------------


def prompted_texts(rows: Iterable[dict]) -> int:
    return sum(1 for row in rows for spans in row["context_spans"] if chunk_positions(spans))


def label_rows(
    backend: RelevanceBackend, rows: Sequence[dict], batch_size: int
) -> dict[str, Flags]:
    """Flags for every text of every row; one backend call per `batch_size` rows."""
    out: dict[str, Flags] = {}
    for start in range(0, len(rows), max(1, batch_size)):
        batch = rows[start : start + batch_size]
        items, where = [], []
        for r, row in enumerate(batch):
            gold = row.get(GOLD_COLUMN)
            for t, (text, spans) in enumerate(zip(row["texts"], row["context_spans"], strict=True)):
                if not chunk_positions(spans):
                    continue
                answers = None if gold is None and GOLD_COLUMN not in row else (gold or [])
                if answers is not None and t != 0:
                    answers = []  # gold offsets point into texts[0], the positive
                items.append(TextItem(row["query"], text, spans, answers))
                where.append((r, t))
        flags = backend.label(items) if items else []
        labeled: list[Flags] = [[[] for _ in row["texts"]] for row in batch]
        if len(flags) != len(items):
            raise ValueError(f"{backend.name}: {len(flags)} label lists for {len(items)} texts")
        for (r, t), chunk_level in zip(where, flags, strict=True):
            at = f"row {batch[r]['id']!r}, text {t}"
            labeled[r][t] = span_flags(chunk_level, batch[r]["context_spans"][t], at)
        for row, row_flags in zip(batch, labeled, strict=True):
            out[row["id"]] = row_flags
    return out


def _limit(tables: Tables, debug_limit: int | None) -> Tables:
    if debug_limit is None:
        return tables
    return {name: t.slice(0, min(debug_limit, t.num_rows)) for name, t in tables.items()}


def _group_rows(table: pa.Table, start: int, end: int, columns: Sequence[str]) -> list[dict]:
    cols = [c for c in columns if c in table.column_names]
    return table.slice(start, end - start).select(cols).to_pylist()


def label_shard(
    tables: Tables,
    backend: RelevanceBackend,
    cache: GroupCache,
    shard: int = 0,
    shards: int = 1,
    group_size: int = 1000,
    batch_size: int = 200,
    force: bool = False,
    where: str = "dataset",
) -> tuple[pa.Table, dict]:
    """Label shard `shard` of `shards` of every split; returns the shard table and counts.

    Rows are read one group at a time, so memory stays at one group whatever the shard size.
    """
    for name, table in tables.items():
        validate_split(table, f"{where} [{name}]", needs_gold=backend.needs_gold)
    plan = shard_plan({k: t.num_rows for k, t in tables.items()}, group_size, shard, shards)
    cached: dict[tuple[str, int, int], dict] = {}
    digests: dict[tuple[str, int, int], str] = {}
    to_do = 0
    for name, start, end in plan:
        rows = _group_rows(tables[name], start, end, (*REQUIRED_COLUMNS, GOLD_COLUMN))
        digests[(name, start, end)] = digest = rows_digest(rows)
        hit = None if force else cache.load(name, start, end, digest)
        if hit is not None:
            cached[(name, start, end)] = hit
        else:
            to_do += prompted_texts(rows)
    stats = {
        "groups": len(plan),
        "groups_cached": len(cached),
        "rows": sum(end - start for _, start, end in plan),
        "prompts_computed": to_do,
    }
    log.info(
        "shard %d/%d: %d group(s), %d cached, %s prompts to compute",
        shard, shards, len(plan), len(cached), f"{to_do:,}",
    )  # fmt: skip
    progress = Progress(to_do, "prompts", log)
    out_rows: dict[str, list] = {f: [] for f in SHARD_SCHEMA.names}
    started = time.monotonic()
    for name, start, end in plan:
        table = tables[name]
        result = cached.get((name, start, end))
        if result is None:
            rows = _group_rows(table, start, end, (*REQUIRED_COLUMNS, GOLD_COLUMN))
            result = {}
            for b in range(0, len(rows), max(1, batch_size)):
                batch = rows[b : b + batch_size]
                result.update(label_rows(backend, batch, batch_size))
                progress.update(prompted_texts(batch))
            cache.save(name, start, end, digests[(name, start, end)], result)
        ids = table.column("id").slice(start, end - start).to_pylist()
        out_rows["split"].extend([name] * len(ids))
        out_rows["row"].extend(range(start, end))
        out_rows["id"].extend(ids)
        out_rows[COLUMN].extend(result[i] for i in ids)
    stats["seconds"] = round(time.monotonic() - started, 3)
    stats["unknown_spans"] = count_unknown(out_rows[COLUMN])
    stats |= backend.stats()
    return pa.Table.from_pydict(out_rows, schema=SHARD_SCHEMA), stats


def count_unknown(rows: Iterable[Flags]) -> int:
    """How many span flags are -1 (never shown to the labeler)."""
    return sum(1 for row in rows for flags in row for f in flags if f == UNKNOWN)


def shard_info(table_or_schema: pa.Table | pa.Schema) -> dict:
    """The `{"labeler": ..., stats}` a shard carries in its Parquet schema metadata ({} if none)."""
    raw = table_or_schema.schema if isinstance(table_or_schema, pa.Table) else table_or_schema
    raw = (raw.metadata or {}).get(SHARD_INFO_KEY)
    return json.loads(raw) if raw else {}


def with_shard_info(table: pa.Table, info: dict) -> pa.Table:
    """`table` with `info` merged into its shard metadata."""
    merged = shard_info(table) | info
    metadata = dict(table.schema.metadata or {})
    metadata[SHARD_INFO_KEY] = json.dumps(merged, ensure_ascii=False).encode()
    return table.replace_schema_metadata(metadata)


def write_shard(table: pa.Table, path: str | Path, info: dict | None = None) -> Path:
    """Write a shard's Parquet file atomically; `info` (labeler, stats) goes in its metadata,
    so the labels and the name of their labeler are one file."""
    path = Path(path)
    write_parquet(with_shard_info(table, info or {}), path)
    return path


# ---- merge ----------------------------------------------------------------------------------


def attach(tables: Tables, shard_tables: Sequence[pa.Table], where: str = "dataset") -> Tables:
    """Add the column to every split from the shard tables, checking full, exact coverage."""
    labels = (
        pa.concat_tables([t.cast(SHARD_SCHEMA) for t in shard_tables])
        if shard_tables
        else (SHARD_SCHEMA.empty_table())
    )
    out: Tables = {}
    for name, table in tables.items():
        part = labels.filter(pc.equal(labels.column("split"), name))
        part = part.sort_by("row")
        rows = part.column("row").to_pylist()
        if rows != list(range(table.num_rows)):
            missing = sorted(set(range(table.num_rows)) - set(rows))[:5]
            raise InputError(
                f"{where} [{name}]: shard files cover {len(rows)} of {table.num_rows} rows "
                f"(missing e.g. {missing}, or duplicated); rerun the missing shard(s)"
            )
        if part.column("id").to_pylist() != table.column("id").to_pylist():
            raise InputError(
                f"{where} [{name}]: shard ids differ from the dataset's; the shards were made "
                "from another version of the dataset — delete them and rerun"
            )
        if COLUMN in table.column_names:
            log.warning("%s [%s]: replacing the existing %s column", where, name, COLUMN)
            table = table.drop_columns([COLUMN])
        out[name] = table.append_column(COLUMN, part.column(COLUMN))
    return out


def relevance_summary(tables: Tables) -> dict:
    """Per split: texts, prompts, spans, relevant and unknown (-1) spans; the relevant ratio is
    over the spans the labeler saw."""
    summary = {}
    for name, table in tables.items():
        texts = prompted = spans = relevant = unknown = 0
        for row in table.column(COLUMN).to_pylist():
            for flags in row:
                texts += 1
                if flags:
                    prompted += 1
                    spans += len(flags)
                    relevant += sum(1 for f in flags if f == 1)
                    unknown += sum(1 for f in flags if f == UNKNOWN)
        known = spans - unknown
        summary[name] = {
            "rows": table.num_rows,
            "texts": texts,
            "texts_prompted": prompted,
            "texts_without_prompt": texts - prompted,
            "spans": spans,
            "spans_relevant": relevant,
            "unknown_spans": unknown,
            "relevant_ratio": round(relevant / known, 4) if known else None,
        }
    return summary


def default_output(dataset_path: str | Path, debug: bool = False) -> Path:
    path = Path(dataset_path)
    return path.parent / f"{path.name}{'_with_relevance_debug' if debug else '_with_relevance'}"


def load_inputs(dataset_path: str | Path, debug_limit: int | None) -> Tables:
    return _limit(load_tables(str(dataset_path)), debug_limit)


def shard_labelers(shard_paths: Sequence[str | Path]) -> list[dict]:
    """Each shard's info (`labeler`, stats, `path`), from its Parquet metadata or, for shards
    written before the metadata existed, its `<shard>.json` sidecar; all must name one labeler.
    """
    runs = []
    for path in map(Path, shard_paths):
        try:
            info = shard_info(pq.read_schema(path))
        except (OSError, pa.ArrowException) as exc:
            raise InputError(f"{path}: not a readable shard Parquet file ({exc})") from exc
        sidecar = Path(f"{path}.json")
        if not info.get("labeler") and sidecar.exists():
            try:
                info = json.loads(sidecar.read_text("utf-8"))
            except ValueError as exc:
                raise InputError(f"{sidecar}: not a JSON shard summary ({exc})") from exc
        if not info.get("labeler"):
            raise InputError(
                f"{path}: cannot tell which labeler made this shard (no labeler in its Parquet "
                f"metadata, no {sidecar.name}); rerun it with "
                "scripts/provence/add_span_relevance.py --shard"
            )
        runs.append({"path": str(path), **info})
    labelers = sorted({r["labeler"] for r in runs})
    if len(labelers) > 1:
        listing = "; ".join(f"{r['path']}: {r['labeler']}" for r in runs)
        raise InputError(
            f"the shards were labeled by {len(labelers)} different labelers {labelers} "
            f"({listing}); rerun the odd ones with the same labeler settings"
        )
    return runs


def merge_relevance(
    dataset_path: str | Path,
    shard_paths: Sequence[str | Path],
    output_path: str | Path,
    overwrite: bool = False,
    debug_limit: int | None = None,
    extra: dict | None = None,
) -> dict:
    """Assemble `<dataset>_with_relevance` from the shard files of the labeling jobs.

    Everything is checked before anything is written: one labeler for all shards, full and
    exact row coverage; the dataset and its `relevance.json` are then saved in one rename.
    """
    out_dir = check_output(output_path, overwrite)
    runs = shard_labelers(shard_paths)
    tables = load_inputs(dataset_path, debug_limit)
    shards = [pq.read_table(p) for p in shard_paths]
    merged = attach(tables, shards, where=str(dataset_path))
    summary = {
        "dataset": str(dataset_path),
        "labeler": runs[0]["labeler"] if runs else None,
        "shards": len(shards),
        "runs": runs,
        **(extra or {}),
    }
    summary["splits"] = relevance_summary(merged)
    save_splits(merged, out_dir, overwrite=overwrite, sidecars={"relevance.json": summary})
    log.info("saved %s: %s", out_dir, {k: v["rows"] for k, v in summary["splits"].items()})
    return summary


def run_shard(
    dataset_path: str | Path,
    settings: LabelSettings,
    shard: int = 0,
    shards: int = 1,
    dataset_name: str | None = None,
    cache_root: str | Path = "cache/context_spans_relevance",
    group_size: int = 1000,
    batch_size: int = 200,
    force: bool = False,
    debug_limit: int | None = None,
    backend: RelevanceBackend | None = None,
) -> tuple[pa.Table, dict]:
    """Load the dataset and label one shard through the group cache."""
    tables = load_inputs(dataset_path, debug_limit)
    name = dataset_name or Path(dataset_path).name
    cache = GroupCache(cache_root, name, settings.fingerprint(), debug=debug_limit is not None)
    backend = backend or make_backend(settings)
    try:
        table, stats = label_shard(
            tables, backend, cache, shard, shards, group_size, batch_size, force, str(dataset_path)
        )
    finally:
        backend.close()
    return with_shard_info(table, {"labeler": settings.fingerprint()}), stats


def add_span_relevance(
    dataset_path: str | Path,
    settings: LabelSettings,
    output_path: str | Path | None = None,
    overwrite: bool = False,
    debug_limit: int | None = None,
    backend: RelevanceBackend | None = None,
    **shard_options,
) -> dict:
    """The seed's one-shot run: label every row (through the cache) and save the dataset."""
    out_dir = check_output(
        output_path or default_output(dataset_path, debug_limit is not None), overwrite
    )
    table, stats = run_shard(
        dataset_path, settings, debug_limit=debug_limit, backend=backend, **shard_options
    )
    tables = load_inputs(dataset_path, debug_limit)
    merged = attach(tables, [table], where=str(dataset_path))
    summary = {
        "dataset": str(dataset_path),
        "labeler": settings.fingerprint(),
        "run": stats,
        "splits": relevance_summary(merged),
    }
    save_splits(merged, out_dir, overwrite=overwrite, sidecars={"relevance.json": summary})
    log.info("saved %s", out_dir)
    return summary

"""`teacher_scores.<name>`: one score per (query, text) from a teacher model, aligned with `texts`.

The scorers (`cross-encoder`, `bi-encoder`) are `distilldata.scoring.pair_scorers`.

The column is `list<float32>`. Re-running with another teacher stacks another column; the
workflow scores each teacher in its own job into a Parquet file, then stacks them in one merge.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from distilldata.core.errors import InputError
from distilldata.core.models import model_slug
from distilldata.core.progress import Progress
from distilldata.core.sources import Tables, load_tables
from distilldata.core.store import check_output, save_splits, write_json, write_parquet
from distilldata.scoring.pair_scorers import PairScorer, make_scorer

log = logging.getLogger(__name__)

PREFIX = "teacher_scores."
SUFFIX = "_with_teacher_scores"
SCORES_TYPE = pa.list_(pa.float32())


# ---- datasets ---------------------------------------------------------------------------------


def check_split(table: pa.Table, where: str) -> None:
    missing = [c for c in ("query", "texts") if c not in table.column_names]
    if missing:
        raise InputError(f"{where}: missing column(s) {missing}; found {table.column_names}")
    if table.column("texts").null_count or table.column("query").null_count:
        raise InputError(f"{where}: null query or texts; every row needs a query and a text list")


def score_split(scorer: PairScorer, table: pa.Table, progress: Progress, chunk_rows: int = 4096):
    """The scores of one split as a list<float32> array aligned with `texts`."""
    texts = table.column("texts").combine_chunks()
    queries = table.column("query").combine_chunks()
    offsets = pc.subtract(texts.offsets, texts.offsets[0])
    flat_texts = texts.flatten().to_pylist()
    parents = pc.list_parent_indices(texts)
    flat_queries = queries.take(parents).to_pylist()
    scores = np.empty(len(flat_texts), dtype=np.float32)
    bounds = offsets.to_numpy()
    for row in range(0, table.num_rows, chunk_rows):
        lo, hi = int(bounds[row]), int(bounds[min(row + chunk_rows, table.num_rows)])
        scores[lo:hi] = scorer.score(flat_queries[lo:hi], flat_texts[lo:hi])
        progress.update(hi - lo)
    return pa.ListArray.from_arrays(offsets, pa.array(scores, pa.float32())).cast(SCORES_TYPE)


def default_output(dataset_path: str | Path) -> Path:
    path = Path(dataset_path)
    return path if path.name.endswith(SUFFIX) else path.parent / f"{path.name}{SUFFIX}"


def describe(tables: Tables, column: str, samples: int) -> dict:
    """Mean/std/min/max over the first 1000 rows of each split, and the first rows' scores."""
    out = {}
    for name, table in tables.items():
        head = table.slice(0, 1000).column(column).combine_chunks().flatten().to_numpy()
        out[name] = (
            {
                "mean": float(head.mean()),
                "std": float(head.std()),
                "min": float(head.min()),
                "max": float(head.max()),
            }
            if len(head)
            else {}
        )
        for row in table.slice(0, samples).select(["id", "query", column]).to_pylist():
            log.info("%s %s %r -> %s", name, row.get("id"), row["query"][:60], row[column][:5])
    return out


def compute_scores(
    dataset_path: str | Path,
    model: str,
    kind: str = "cross-encoder",
    batch_size: int = 16,
    dtype: str | None = None,
    device: str | None = None,
    debug_limit: int | None = None,
    scorer: PairScorer | None = None,
    max_length: int | None = None,
) -> tuple[Tables, dict[str, pa.Array], dict]:
    tables = load_tables(str(dataset_path))
    if debug_limit is not None:
        tables = {k: t.slice(0, min(debug_limit, t.num_rows)) for k, t in tables.items()}
    for name, table in tables.items():
        check_split(table, f"{dataset_path} [{name}]")
    started = time.monotonic()
    scorer = scorer or make_scorer(kind, model, batch_size, dtype, device, max_length)
    loaded = time.monotonic()
    total = sum(
        pc.sum(pc.list_value_length(t.column("texts"))).as_py() or 0 for t in tables.values()
    )
    progress = Progress(total, "pairs", log)
    scores = {name: score_split(scorer, table, progress) for name, table in tables.items()}
    seconds = time.monotonic() - loaded
    stats = {
        "pairs": total,
        "load_seconds": round(loaded - started, 3),
        "score_seconds": round(seconds, 3),
        "pairs_per_second": round(total / seconds, 1) if seconds > 0 else math.inf,
    }
    log.info(
        "scored %s pairs in %.1fs (%s pairs/s)", f"{total:,}", seconds, stats["pairs_per_second"]
    )
    return tables, scores, stats


def add_teacher_scores(
    dataset_path: str | Path,
    model: str,
    column_name: str | None = None,
    kind: str = "cross-encoder",
    output_path: str | Path | None = None,
    batch_size: int = 16,
    dtype: str | None = None,
    device: str | None = None,
    debug_limit: int | None = None,
    validate_samples: int = 0,
    overwrite: bool = False,
    scores_path: str | Path | None = None,
    scorer: PairScorer | None = None,
    max_length: int | None = None,
) -> dict:
    """Score every (query, text) and save `<dataset>_with_teacher_scores` (or only the scores)."""
    column = PREFIX + (column_name or model_slug(model))
    out_dir = None
    if scores_path is None:
        out_dir = Path(output_path) if output_path else default_output(dataset_path)
        in_place = out_dir.resolve() == Path(dataset_path).resolve()
        check_output(out_dir, overwrite or in_place)
    tables, scores, stats = compute_scores(
        dataset_path, model, kind, batch_size, dtype, device, debug_limit, scorer, max_length
    )
    stats |= {"column": column, "model": model, "kind": kind}
    if scores_path is not None:
        write_scores(tables, scores, column, scores_path)
        write_json(f"{scores_path}.json", stats)
        return stats
    for name, table in tables.items():
        if column in table.column_names:
            if not overwrite:
                raise InputError(
                    f"{dataset_path} [{name}] already has {column}; pass --overwrite to replace it"
                )
            table = table.drop_columns([column])
        tables[name] = table.append_column(column, scores[name])
    stats["splits"] = describe(tables, column, validate_samples)
    save_splits(tables, out_dir, overwrite=True)
    log.info("saved %s with %s", out_dir, column)
    return stats


def write_scores(tables: Tables, scores: dict[str, pa.Array], column: str, path) -> Path:
    """One Parquet file per teacher: split, row, id, teacher_scores.<name>."""
    parts = []
    for name, table in tables.items():
        n = table.num_rows
        ids = table.column("id") if "id" in table.column_names else pa.nulls(n, pa.string())
        parts.append(
            pa.table(
                {
                    "split": pa.array([name] * n, pa.string()),
                    "row": pa.array(range(n), pa.int64()),
                    "id": ids,
                    column: scores[name],
                }
            )
        )
    write_parquet(pa.concat_tables(parts), path)
    return Path(path)


def merge_teacher_scores(
    dataset_path: str | Path,
    score_paths: Sequence[str | Path],
    output_path: str | Path,
    overwrite: bool = False,
) -> dict:
    """Stack the teacher columns from per-teacher score files onto the dataset."""
    out_dir = check_output(output_path, overwrite)
    tables = load_tables(str(dataset_path))
    columns = []
    for path in score_paths:
        part = pq.read_table(path)
        (column,) = [c for c in part.column_names if c.startswith(PREFIX)]
        columns.append(column)
        for name, table in tables.items():
            rows = part.filter(pc.equal(part.column("split"), name)).sort_by("row")
            if rows.num_rows != table.num_rows or (
                "id" in table.column_names
                and rows.column("id").to_pylist() != table.column("id").to_pylist()
            ):
                raise InputError(
                    f"{path}: scores for {rows.num_rows} rows of split {name!r}, which has "
                    f"{table.num_rows} (or other ids); rerun the teacher on this dataset"
                )
            if column in table.column_names:
                table = table.drop_columns([column])
            tables[name] = table.append_column(column, rows.column(column).cast(SCORES_TYPE))
    if len(set(columns)) != len(columns):
        raise InputError(f"two teachers write the same column: {columns}; give them unique names")
    summary = {
        "dataset": str(dataset_path),
        "columns": columns,
        "splits": describe(tables, columns[0], 0) if columns else {},
    }
    save_splits(tables, out_dir, overwrite=overwrite, sidecars={"teacher_scores.json": summary})
    return summary

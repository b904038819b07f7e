"""Frequency filter: drop train rows whose texts already appeared in too many earlier kept rows.

Same kept rows as the seed's greedy in-order algorithm: walk train in order; a row's dup_count
is how many of its texts (each occurrence) were in rows kept before it; the row is dropped
when dup_count > N, else kept and its texts become "seen".

Faster than the seed: texts are dictionary-encoded to integers by Arrow (exact string equality
instead of md5 in a Python loop), every threshold is decided in the same pass, and the kept
rows are written with `select` instead of a Python `filter` over all rows.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from distilldata.core.errors import InputError
from distilldata.core.progress import Progress
from distilldata.core.sources import load_tables
from distilldata.core.store import check_output, save_splits, write_json

log = logging.getLogger(__name__)


@dataclass
class ThresholdResult:
    threshold: int
    keep: np.ndarray  # bool per train row
    buckets_total: Counter
    buckets_kept: Counter
    texts_total_filtered: int
    texts_unique_filtered: int

    @property
    def dup_ratio_filtered(self) -> float:
        total = self.texts_total_filtered
        return (total - self.texts_unique_filtered) / total if total else 0.0


def encode_texts(texts: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(codes, offsets): an integer per text (equal texts, equal codes) and row offsets."""
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    if not pa.types.is_list(texts.type) and not pa.types.is_large_list(texts.type):
        raise InputError(f"texts column must be a list of strings, found {texts.type}")
    if texts.null_count:
        raise InputError("texts column has null rows; every row needs a list of texts")
    flat = texts.flatten()
    codes = pc.dictionary_encode(flat).indices.to_numpy(zero_copy_only=False)
    offsets = texts.offsets.to_numpy() - texts.offsets[0].as_py()
    return codes.astype(np.int64, copy=False), offsets


def greedy_keep(
    codes: np.ndarray, offsets: np.ndarray, thresholds: list[int]
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The seed's in-order greedy decision for every threshold in one pass over the rows.

    Returns, per threshold, the keep mask and each row's dup_count.
    """
    n_rows = len(offsets) - 1
    n_codes = int(codes.max()) + 1 if len(codes) else 0
    seen = [bytearray(n_codes) for _ in thresholds]
    keep = [np.zeros(n_rows, dtype=bool) for _ in thresholds]
    dup = [np.zeros(n_rows, dtype=np.int64) for _ in thresholds]
    code_list, bounds = codes.tolist(), offsets.tolist()
    progress = Progress(n_rows, "rows", log)
    for r in range(n_rows):
        row = code_list[bounds[r] : bounds[r + 1]]
        for k, limit in enumerate(thresholds):
            s = seen[k]
            d = sum(s[c] for c in row)
            dup[k][r] = d
            if d <= limit:
                keep[k][r] = True
                for c in row:
                    s[c] = 1
        if r % 100_000 == 99_999:
            progress.update(100_000)
    return keep, dup


def duplicate_ratio(codes: np.ndarray) -> tuple[int, int, float]:
    total = len(codes)
    unique = len(np.unique(codes)) if total else 0
    return total, unique, (total - unique) / total if total else 0.0


def filter_train(
    train: pa.Table, thresholds: list[int], texts_column: str, id_column: str
) -> tuple[list[ThresholdResult], dict]:
    for column in (texts_column, id_column):
        if column not in train.column_names:
            raise InputError(
                f"train split has no '{column}' column (columns: {train.column_names})"
            )
    if not pa.types.is_string(train.schema.field(id_column).type):
        raise InputError(
            f"'{id_column}' must hold strings, found {train.schema.field(id_column).type}; "
            "convert the ids to strings first"
        )
    codes, offsets = encode_texts(train.column(texts_column))
    keeps, dups = greedy_keep(codes, offsets, thresholds)
    lengths = np.diff(offsets)
    results = []
    for limit, keep, dup in zip(thresholds, keeps, dups, strict=True):
        kept_codes = codes[np.repeat(keep, lengths)]
        total, unique, _ = duplicate_ratio(kept_codes)
        results.append(
            ThresholdResult(
                limit, keep, Counter(dup.tolist()), Counter(dup[keep].tolist()), total, unique
            )
        )
    total, unique, ratio = duplicate_ratio(codes)
    return results, {"texts_total": total, "texts_unique": unique, "dup_ratio": ratio}


def summary_markdown(
    dataset: str, result: ThresholdResult, before: dict, rows: int, debug_limit: int | None
) -> str:
    kept = int(result.keep.sum())
    lines = [
        "# Frequency Filter Summary",
        "",
        "## Configuration",
        f"- Dataset: `{dataset}`",
        f"- Threshold (N): {result.threshold}",
        "- Filtered split: train",
        f"- Debug limit: {debug_limit or 'None'}",
        "",
        "## Train Split Statistics",
        f"- Rows (input): {rows:,}",
        f"- Rows kept: {kept:,}",
        f"- Rows removed: {rows - kept:,}",
        "",
        f"- Texts total (input): {before['texts_total']:,}",
        f"- Texts unique (input): {before['texts_unique']:,}",
        f"- Text duplicate ratio (input): {before['dup_ratio']:.4%}",
        f"- Texts total (filtered): {result.texts_total_filtered:,}",
        f"- Texts unique (filtered): {result.texts_unique_filtered:,}",
        f"- Text duplicate ratio (filtered): {result.dup_ratio_filtered:.4%}",
        "",
        "## Duplicate Distribution (by duplicate count seen before row)",
        "| Duplicate texts | Total rows | Kept rows | Removed rows |",
        "| --- | ---: | ---: | ---: |",
    ]
    for d in sorted(result.buckets_total):
        total, k = result.buckets_total[d], result.buckets_kept.get(d, 0)
        lines.append(f"| {d} | {total:,} | {k:,} | {total - k:,} |")
    return "\n".join(lines) + "\n"


def variant_paths(output_dir: str | Path, thresholds: list[int]) -> tuple[dict[int, Path], Path]:
    """The seed's layout: `<output_dir>/freq{N}/` per threshold and `<output_dir>/stats.json`."""
    out = Path(output_dir)
    return {n: out / f"freq{n}" for n in thresholds}, out / "stats.json"


def frequency_filter(
    dataset: str,
    variants: dict[int, str | Path],
    stats_path: str | Path,
    debug_limit: int | None = None,
    id_column: str = "id",
    texts_column: str = "texts",
    overwrite: bool = False,
) -> dict:
    """Write one filtered dataset per threshold ({N: folder}), plus stats and metadata files."""
    thresholds = sorted(variants)
    if not thresholds or thresholds[0] < 0:
        raise InputError(f"thresholds must be >= 0, got {thresholds}")
    for n in thresholds:
        check_output(variants[n], overwrite)
    tables = load_tables(dataset)
    train = tables["train"]
    if debug_limit is not None:
        if debug_limit <= 0:
            raise InputError("--debug-limit must be positive")
        train = train.slice(0, debug_limit)
    if train.num_rows == 0:
        raise InputError(f"{dataset}: the train split is empty; nothing to filter")

    results, before = filter_train(train, thresholds, texts_column, id_column)
    ids = train.column(id_column).to_numpy(zero_copy_only=False)
    if len(set(ids.tolist())) != len(ids):
        raise InputError(f"{dataset}: '{id_column}' values are not unique in train")
    per_threshold = {}
    for result in results:
        target = Path(variants[result.threshold])
        kept_idx = np.flatnonzero(result.keep)
        splits = {**tables, "train": train.take(pa.array(kept_idx))}
        sidecars = {
            "frequency_filter_ds_summary.md": summary_markdown(
                dataset, result, before, train.num_rows, debug_limit
            )
        }
        dropped = sorted(ids[~result.keep].tolist())
        if dropped:
            sidecars["drop_ids.txt"] = "\n".join(dropped)
        save_splits(splits, target, overwrite=overwrite, sidecars=sidecars)
        per_threshold[f"freq{result.threshold}"] = {
            "rows_in": train.num_rows,
            "rows_kept": len(kept_idx),
            "rows_dropped": {"duplicate_texts_over_threshold": train.num_rows - len(kept_idx)},
            "texts_total": result.texts_total_filtered,
            "texts_unique": result.texts_unique_filtered,
            "dup_ratio": result.dup_ratio_filtered,
        }
        log.info(
            "freq%d: kept %d/%d rows, dup ratio %.4f -> %.4f",
            result.threshold,
            len(kept_idx),
            train.num_rows,
            before["dup_ratio"],
            result.dup_ratio_filtered,
        )
    stats = {"dataset": dataset, "before": before, "thresholds": per_threshold}
    write_json(stats_path, stats)
    write_json(
        Path(stats_path).with_name("frequency_filter_metadata.json"),
        {
            "dataset": dataset,
            "thresholds": thresholds,
            "debug_limit": debug_limit,
            "outputs": {f"freq{n}": str(variants[n]) for n in thresholds},
            "generated_at": datetime.now(UTC).isoformat(),
        },
    )
    return stats

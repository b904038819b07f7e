"""Real rows for the NLL tests: vendored chats normalized by the sft library (Harmony text with
tool calls, the analysis channel and several turns), written as candidate-pool shards."""

from __future__ import annotations

import functools
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from conftest import DATA

SOURCES = {
    "hermes": DATA / "chat_tools" / "llamafactory" / "reason_tool_use_demo_50.jsonl",
    "glaive": DATA / "chat_tools" / "llamafactory" / "glaive_toolcall_en_demo.json",
    "agentic": DATA / "nemotron" / "agentic_v1_tool_calling_1row.jsonl",
}
# A hermes row with two user turns, analysis, function calls and their results, two finals.
MULTI_TURN_TOOL_ROW = "h:12f63030ba4c51e3e519b8ad5235fb34"
POOL_COLUMNS = ("id", "text", "loss_mode", "dataset", "subset", "split", "meta_correctness")


@functools.cache
def normalized(source: str, limit: int = 40) -> tuple[dict, ...]:
    """The first `limit` rows of a vendored file, normalized (sft.normalize, fixed date)."""
    from distilldata.sft.normalize import DatasetSpec, iter_source_rows, normalize_row
    from distilldata.text.harmony import SystemConfig

    spec = DatasetSpec(dataset=source, system=SystemConfig(date="2025-06-28"))
    rows = []
    for _, row, error, _ in iter_source_rows(SOURCES[source]):
        if error is None:
            rows.append(normalize_row(row, spec, "train")[0])
        if len(rows) == limit:
            break
    return tuple(rows)


def record(row_id: str) -> dict:
    return next(r for source in SOURCES for r in normalized(source) if r["id"] == row_id)


def write_pool(path: Path, rows: list[dict]) -> Path:
    """A pool shard with the columns the scorer reads (and meta_correctness for subsets)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = {c: [r.get(c) for r in rows] for c in POOL_COLUMNS}
    schema = pa.schema(
        [(c, pa.float64() if c == "meta_correctness" else pa.string()) for c in POOL_COLUMNS]
    )
    pq.write_table(pa.table(columns, schema=schema), path)
    return path

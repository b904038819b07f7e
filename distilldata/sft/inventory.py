"""Inventory and metadata coverage of source datasets, computed by DuckDB SQL over the files.

DuckDB streams JSONL/JSON/Parquet itself (nothing is loaded into Python). Per dataset and split:
row count (JSONL lines DuckDB cannot parse count as rows with every column null, reported as
`rows_empty_or_unparsed`), column names and types, and the share of rows with each column and
each field of the `metadata` struct (Math-v2's `reason_*` evaluation blocks = correctness metadata).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from distilldata.core.errors import InputError
from distilldata.core.store import atomic_path, write_json

log = logging.getLogger(__name__)

MAX_TYPE_CHARS = 400
CORRECTNESS_PREFIX = "reason_"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sources(files: Sequence[Path]) -> list[str]:
    """DuckDB table expressions, one per file format present."""
    groups: dict[str, list[str]] = {}
    for f in files:
        name = str(f)
        if name.endswith(".parquet"):
            groups.setdefault("parquet", []).append(name)
        elif name.endswith(".json"):
            groups.setdefault("json", []).append(name)
        else:
            groups.setdefault("ndjson", []).append(name)
    out = []
    for kind, names in sorted(groups.items()):
        listed = "[" + ", ".join("'" + n.replace("'", "''") + "'" for n in names) + "]"
        if kind == "parquet":
            out.append(f"read_parquet({listed}, union_by_name=true)")
        elif kind == "json":
            out.append(f"read_json({listed}, format='array', union_by_name=true)")
        else:
            out.append(
                f"read_json({listed}, format='newline_delimited', union_by_name=true, "
                "ignore_errors=true, maximum_object_size=268435456)"
            )
    return out


def _struct_fields(type_name: str) -> list[str]:
    """Top-level field names of a DuckDB STRUCT type string."""
    if not type_name.startswith("STRUCT(") or not type_name.endswith(")"):
        return []
    body, fields, depth, current = type_name[7:-1], [], 0, ""
    for ch in body:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            fields.append(current.strip())
            current = ""
        else:
            current += ch
    if current.strip():
        fields.append(current.strip())
    names = []
    for f in fields:
        if f.startswith('"'):
            names.append(f[1 : f.index('"', 1)])
        else:
            names.append(f.split(" ", 1)[0])
    return names


def inspect_source(con, source: str) -> dict:
    """Count, columns/types and coverage of one table expression."""
    described = con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
    columns = {row[0]: row[1] for row in described}
    selects = ["count(*)"] + [f"count({_quote(c)})" for c in columns]
    meta_fields: list[str] = []
    if "metadata" in columns:
        meta_fields = _struct_fields(columns["metadata"])
        selects += [f"count(metadata.{_quote(f)})" for f in meta_fields]
        reason = [f for f in meta_fields if f.startswith(CORRECTNESS_PREFIX)]
        if reason:
            any_reason = " OR ".join(f"metadata.{_quote(f)} IS NOT NULL" for f in reason)
            selects.append(f"count(*) FILTER (WHERE {any_reason})")
    all_null = " AND ".join(f"{_quote(c)} IS NULL" for c in columns) or "false"
    selects.append(f"count(*) FILTER (WHERE {all_null})")
    values = con.execute(f"SELECT {', '.join(selects)} FROM {source}").fetchall()[0]
    unparsed, values = values[-1], values[:-1]
    rows = values[0]
    non_null = dict(zip(columns, values[1 : 1 + len(columns)], strict=True))
    meta = dict(
        zip(
            meta_fields, values[1 + len(columns) : 1 + len(columns) + len(meta_fields)], strict=True
        )
    )
    correctness = (
        values[1 + len(columns) + len(meta_fields)]
        if len(values) > 1 + len(columns) + len(meta_fields)
        else 0
    )
    return {
        "rows": rows,
        "columns": columns,
        "non_null": non_null,
        "metadata_non_null": meta,
        "with_correctness": correctness,
        "unparsed": unparsed,
    }


def inventory_split(con, files: Sequence[Path]) -> dict:
    parts = [inspect_source(con, s) for s in _sources(files)]
    rows = sum(p["rows"] for p in parts)
    columns: dict[str, str] = {}
    non_null: dict[str, int] = {}
    meta: dict[str, int] = {}
    for p in parts:
        for c, t in p["columns"].items():
            t = t if len(t) <= MAX_TYPE_CHARS else t[:MAX_TYPE_CHARS] + "..."
            columns[c] = t if columns.get(c, t) == t else f"{columns[c]} | {t}"
        for c, n in p["non_null"].items():
            non_null[c] = non_null.get(c, 0) + n
        for f, n in p["metadata_non_null"].items():
            meta[f] = meta.get(f, 0) + n
    return {
        "files": [str(f) for f in files],
        "rows": rows,
        "columns": columns,
        "non_null": non_null,
        "metadata_non_null": meta,
        "rows_with_correctness": sum(p["with_correctness"] for p in parts),
        "rows_empty_or_unparsed": sum(p["unparsed"] for p in parts),
    }


def build_inventory(datasets: dict[str, dict[str, Sequence[Path]]], threads: int = 1) -> dict:
    """{dataset: {split: files}} -> inventory dict."""
    import duckdb

    con = duckdb.connect()
    con.execute(f"SET threads = {max(1, threads)}").fetchall()
    out: dict = {}
    for name, splits in sorted(datasets.items()):
        out[name] = {}
        for split, files in sorted(splits.items()):
            if not files:
                raise InputError(f"{name}/{split}: no files")
            log.info("inventory %s/%s (%d files)", name, split, len(files))
            out[name][split] = inventory_split(con, [Path(f) for f in files])
    return out


def _pct(n: int, total: int) -> str:
    return f"{100.0 * n / total:.1f}%" if total else "n/a"


def coverage_markdown(inventory: dict) -> str:
    lines = ["# Metadata coverage", ""]
    lines += [
        "Share of rows per split with correctness metadata (any `metadata.reason_*` block) and "
        "with each column / `metadata` field (non-null). Computed by DuckDB over the source files.",
        "",
    ]
    for name, splits in inventory.items():
        lines += [f"## {name}", ""]
        lines += ["| split | rows | with correctness | columns (non-null %) | metadata fields |"]
        lines += ["|---|---:|---:|---|---|"]
        for split, info in splits.items():
            total = info["rows"]
            cols = ", ".join(f"`{c}` {_pct(n, total)}" for c, n in info["non_null"].items())
            meta = ", ".join(
                f"`{f}` {_pct(n, total)}" for f, n in info["metadata_non_null"].items()
            )
            lines.append(
                f"| {split} | {total:,} | {_pct(info['rows_with_correctness'], total)} | "
                f"{cols} | {meta or '-'} |"
            )
        lines.append("")
    return "\n".join(lines)


def write_inventory(
    datasets: dict[str, dict[str, Sequence[Path]]],
    json_path: str | Path,
    markdown_path: str | Path,
    threads: int = 1,
) -> dict:
    inventory = build_inventory(datasets, threads)
    write_json(json_path, inventory)
    with atomic_path(markdown_path) as tmp:
        tmp.write_text(coverage_markdown(inventory), "utf-8")
    return inventory

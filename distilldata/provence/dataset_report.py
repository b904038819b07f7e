"""Per-artifact dataset report computed with DuckDB SQL over the Arrow data.

DuckDB 2.0 cannot read the Arrow IPC *stream* files `save_to_disk` writes, so each split is
memory-mapped by `load_from_disk` and handed to DuckDB as an Arrow table (no copy).
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from distilldata.core.sources import load_tables
from distilldata.core.store import write_json, write_text

SPLIT_SQL = """
WITH rows AS (SELECT texts, context_spans, labels FROM split_table),
     texts AS (SELECT unnest(texts) AS text FROM rows),
     spans AS (SELECT len(unnest(context_spans)) AS sentences FROM rows)
SELECT
  (SELECT count(*) FROM rows)                                   AS rows,
  (SELECT avg(len(texts)) FROM rows)                            AS texts_per_row_mean,
  (SELECT min(len(texts)) FROM rows)                            AS texts_per_row_min,
  (SELECT max(len(texts)) FROM rows)                            AS texts_per_row_max,
  (SELECT avg(sentences) FROM spans)                            AS sentences_per_text_mean,
  (SELECT max(sentences) FROM spans)                            AS sentences_per_text_max,
  (SELECT sum(list_sum(labels)) / sum(len(labels)) FROM rows)   AS positive_label_fraction,
  (SELECT count(*) FROM texts)                                  AS texts_total,
  (SELECT count(DISTINCT text) FROM texts)                      AS texts_unique
"""


def split_stats(con: duckdb.DuckDBPyConnection, table) -> dict:
    con.register("split_table", table)
    cursor = con.execute(SPLIT_SQL)
    names = [d[0] for d in cursor.description]
    stats = dict(zip(names, cursor.fetchall()[0], strict=True))
    con.unregister("split_table")
    total = stats["texts_total"] or 0
    stats["dup_ratio"] = (total - stats["texts_unique"]) / total if total else 0.0
    return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in stats.items()}


def report(dataset: str | Path, threads: int = 1) -> dict:
    """Rows per split, texts per row, sentences per text, label balance and duplicate ratio."""
    tables = load_tables(str(dataset))
    con = duckdb.connect()
    con.execute(f"SET threads = {max(1, threads)}")  # DuckDB takes every core unless told
    return {
        "dataset": str(dataset),
        "splits": {name: split_stats(con, t) for name, t in tables.items()},
    }


def to_markdown(rep: dict) -> str:
    cols = [
        ("rows", "rows"),
        ("texts/row", "texts_per_row_mean"),
        ("max texts", "texts_per_row_max"),
        ("sentences/text", "sentences_per_text_mean"),
        ("positives", "positive_label_fraction"),
        ("texts", "texts_total"),
        ("unique texts", "texts_unique"),
        ("dup ratio", "dup_ratio"),
    ]
    lines = [
        f"# Dataset report: `{rep['dataset']}`",
        "",
        "| split | " + " | ".join(c for c, _ in cols) + " |",
        "| --- |" + " ---: |" * len(cols),
    ]
    for name, s in rep["splits"].items():
        cells = []
        for _, key in cols:
            v = s[key]
            cells.append(
                f"{v:.2%}"
                if key in ("dup_ratio", "positive_label_fraction") and v is not None
                else f"{v:,.2f}"
                if isinstance(v, float)
                else f"{v:,}"
                if v is not None
                else "-"
            )
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_report(
    dataset: str | Path, markdown: str | Path, json_path: str | Path, threads: int = 1
) -> dict:
    rep = report(dataset, threads)
    write_json(json_path, rep)
    write_text(markdown, to_markdown(rep))
    return rep

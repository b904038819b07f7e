"""DuckDB inventory and metadata coverage on mixed JSONL / JSON / Parquet splits."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq

from distilldata.sft.inventory import build_inventory, coverage_markdown, write_inventory


def math_rows(n: int, with_meta: bool) -> list[dict]:
    rows = []
    for i in range(n):
        row = {"uuid": f"u{i}", "problem": f"p{i}", "messages": [{"role": "user", "content": "x"}]}
        if with_meta and i % 2 == 0:
            row["metadata"] = {
                "reason_high_no_tool": {"count": 8, "pass": i % 8, "accuracy": (i % 8) / 8}
            }
        rows.append(row)
    return rows


def test_mixed_jsonl_and_parquet_split(tmp_path):
    jsonl = tmp_path / "high.part_00.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in math_rows(6, True)) + "{broken line\n")
    parquet = tmp_path / "high-00001-of-00002.parquet"
    pq.write_table(pa.Table.from_pylist(math_rows(4, True)), parquet)
    other = tmp_path / "low.json"
    other.write_text(json.dumps(math_rows(3, False)))
    inv = build_inventory({"math": {"high": [jsonl, parquet], "low": [other]}})
    high = inv["math"]["high"]
    assert high["rows"] == 11 and high["rows_empty_or_unparsed"] == 1  # the broken line
    assert {"uuid", "problem", "messages", "metadata"} <= set(high["columns"])
    assert high["rows_with_correctness"] == 5
    assert high["metadata_non_null"] == {"reason_high_no_tool": 5}
    assert inv["math"]["low"]["rows"] == 3 and inv["math"]["low"]["rows_with_correctness"] == 0
    text = coverage_markdown(inv)
    assert "| high | 11 | 45.5% |" in text and "`reason_high_no_tool` 45.5%" in text


def test_write_inventory_files(tmp_path):
    src = tmp_path / "a.jsonl"
    src.write_text(json.dumps({"x": 1}) + "\n" + json.dumps({"x": None, "y": "s"}) + "\n")
    write_inventory({"d": {"s": [src]}}, tmp_path / "inv.json", tmp_path / "cov.md")
    saved = json.loads((tmp_path / "inv.json").read_text())
    assert saved["d"]["s"]["non_null"] == {"x": 1, "y": 1}
    assert "| s | 2 | 0.0% |" in (tmp_path / "cov.md").read_text()


def test_inventory_files_are_written_through_the_store(tmp_path, monkeypatch):
    from store_spy import all_by_store, spy_renames

    seen = spy_renames(monkeypatch)
    src = tmp_path / "a.jsonl"
    src.write_text(json.dumps({"x": 1}) + "\n")
    write_inventory({"d": {"s": [src]}}, tmp_path / "inv.json", tmp_path / "cov.md")
    assert all_by_store(seen, tmp_path / "inv.json", tmp_path / "cov.md")

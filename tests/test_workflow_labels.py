"""The labeling stages through the real snakemake CLI on config/tiny.yaml."""

from __future__ import annotations

import json

import pytest

from conftest import run_snakemake
from distilldata.core.sources import load_tables

FINAL = "results/provence/base/squad_en_with_relevance_with_teacher_scores"
QUALITY = "results/provence/label_quality/base/squad_en"


@pytest.mark.workflow
def test_labels_teacher_scores_quality_and_upload_dry_run(tmp_path):
    run_snakemake(tmp_path, FINAL, f"{QUALITY}.md", "upload")

    shards = sorted((tmp_path / "results/provence/relevance/base/squad_en").glob("*.parquet"))
    assert [p.name for p in shards] == ["shard0-of-2.parquet", "shard1-of-2.parquet"]
    relevance = json.loads(
        (tmp_path / "results/provence/base/squad_en_with_relevance/relevance.json").read_text()
    )
    assert relevance["labeler"] == "gold" and relevance["shards"] == 2

    tables = load_tables(str(tmp_path / FINAL))
    for name, table in tables.items():
        assert table.num_rows > 0, name
        cols = set(table.column_names)
        assert {
            "context_spans_relevance",
            "teacher_scores.tiny-ce",
            "teacher_scores.tiny-bi",
        } <= cols
        for row in table.slice(0, 20).to_pylist():
            n = len(row["texts"])
            assert len(row["context_spans_relevance"]) == len(row["teacher_scores.tiny-ce"]) == n
            assert sum(row["context_spans_relevance"][0]) >= 1

    quality = json.loads((tmp_path / f"{QUALITY}.json").read_text())
    assert all(s["all_texts"]["f2"] == 1.0 for s in quality["splits"].values())  # gold vs gold

    upload = json.loads((tmp_path / "results/provence/upload/squad_en.json").read_text())
    assert upload["dry_run"] is True and upload["repo_id"] == "ci/squad-context-relevance"

    again = run_snakemake(tmp_path, FINAL, f"{QUALITY}.md", "-n")
    assert "Nothing to be done" in again.stdout + again.stderr

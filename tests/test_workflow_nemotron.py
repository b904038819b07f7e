"""The Nemotron chain on config/tiny.yaml through the real snakemake CLI (real vendored rows)."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from conftest import REPO, run_snakemake

pytestmark = pytest.mark.workflow


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    path = tmp_path_factory.mktemp("nemotron_wf")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PYTHONPATH", str(REPO))  # jobs import this checkout's distilldata
        run_snakemake(path, "nemotron")
    return path


def test_inventory_and_coverage(workdir):
    inventory = json.loads((workdir / "results/nemotron/inventory.json").read_text())
    assert inventory["agentic_v1"]["tool_calling"]["rows"] == 1
    assert inventory["hermes_reasoning_tools"]["train"]["rows"] == 50
    assert "messages" in inventory["hermes_reasoning_tools"]["train"]["columns"]
    assert "with correctness" in (workdir / "results/nemotron/metadata_coverage.md").read_text()


def test_normalized_and_deduped_shards(workdir):
    base = workdir / "results/nemotron"
    stats = json.loads(
        (base / "normalized/hermes_reasoning_tools/train/part-00000.stats.json").read_text()
    )
    assert (
        stats["rows_in"]
        == 50
        == stats["rows_out"] + sum(stats["dropped"].values()) + sum(stats["quarantined"].values())
    )
    rows = pq.read_table(
        base / "deduped/hermes_reasoning_tools/train/part-00000.parquet"
    ).to_pylist()
    assert rows and all(r["text"].startswith("<|start|>system<|message|>") for r in rows)
    assert all("Current date: 2025-06-28" in r["text"] for r in rows)
    assert {"id", "loss_mode", "meta_domain", "quality_is_duplicate", "dup_cluster_id"} <= set(
        rows[0]
    )
    agentic = pq.read_table(base / "deduped/agentic_v1/tool_calling/part-00000.parquet").to_pylist()
    assert agentic[0]["id"] == "6798bc3f-cec8-41d2-8bc5-47d73b91fe32"
    assert agentic[0]["source_tools_count"] == 4 and agentic[0]["meta_domain"] == "agentic"
    catalog = json.loads((base / "normalized/agentic_v1/tools_catalog.json").read_text())
    assert [len(tools) for tools in catalog.values()] == [4]
    assert agentic[0]["source_tools_id"] in catalog


def test_pools_manifest_and_publish_plan(workdir):
    base = workdir / "results/nemotron"
    manifest = json.loads((base / "pools/hermes_reasoning_tools/pools_manifest.json").read_text())
    assert manifest["pools"]["tool_use"] > 0 and manifest["pools"]["missing_correctness_meta"] > 0
    for entry in manifest["files"]:
        assert (base / "pools/hermes_reasoning_tools" / entry["path"]).stat().st_size == entry[
            "bytes"
        ]
    plan = json.loads((base / "publish/hermes_reasoning_tools.json").read_text())
    assert plan["dry_run"] and len(plan["files"]) == len(manifest["files"]) + 1

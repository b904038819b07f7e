"""The Nemotron chain on config/tiny.yaml through the real snakemake CLI (real vendored rows)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from conftest import REPO, TINY, run_snakemake

pytestmark = pytest.mark.workflow


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    path = tmp_path_factory.mktemp("sft_wf")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PYTHONPATH", str(REPO))  # jobs import this checkout's distilldata
        run_snakemake(path, "sft")
    return path


def test_inventory_and_coverage(workdir):
    inventory = json.loads((workdir / "results/sft/inventory.json").read_text())
    assert inventory["agentic_v1"]["tool_calling"]["rows"] == 1
    assert inventory["hermes_reasoning_tools"]["train"]["rows"] == 50
    assert "messages" in inventory["hermes_reasoning_tools"]["train"]["columns"]
    assert "with correctness" in (workdir / "results/sft/metadata_coverage.md").read_text()


def test_normalized_and_deduped_shards(workdir):
    base = workdir / "results/sft"
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
    base = workdir / "results/sft"
    manifest = json.loads((base / "pools/hermes_reasoning_tools/pools_manifest.json").read_text())
    assert manifest["pools"]["tool_use"] > 0
    # No hermes row has correctness metadata: that pool would copy the whole corpus.
    assert "missing_correctness_meta" not in manifest["pools"]
    assert manifest["skipped"]["missing_correctness_meta"] == (
        "meta_correctness is null in every row"
    )
    for entry in manifest["files"]:
        assert (base / "pools/hermes_reasoning_tools" / entry["path"]).stat().st_size == entry[
            "bytes"
        ]
    plan = json.loads((base / "publish/hermes_reasoning_tools.json").read_text())
    assert plan["dry_run"] and len(plan["files"]) == len(manifest["files"]) + 1


def tiny_config(tmp_path, **sft) -> Path:
    """config/tiny.yaml with its `sft:` keys replaced, written to tmp_path."""
    config = yaml.safe_load(TINY.read_text())
    config["sft"].update(sft)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def test_cross_corpus_dedup_keeps_a_shared_row_in_the_first_corpus(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    hermes = yaml.safe_load(TINY.read_text())["sft"]["datasets"]["hermes_reasoning_tools"]
    config = tiny_config(
        tmp_path,
        dedup={"bands": 8, "rows": 4, "bucket_jobs": 1, "cross_corpus": True},
        datasets={"first": hermes, "second": hermes},
    )
    stats = {
        name: f"results/sft/deduped/{name}/train/part-00000.stats.json"
        for name in ("first", "second")
    }
    run_snakemake(tmp_path, *stats.values(), configfile=config)
    first, second = (json.loads((tmp_path / p).read_text()) for p in stats.values())
    assert first["rows_out"] > 0 and first["cross_corpus_duplicates"] == 0
    assert second["rows_in"] == first["rows_in"] and second["rows_out"] == 0
    assert second["cross_corpus_duplicates"] == second["rows_in"]
    clusters = json.loads((tmp_path / "results/sft/dedup_cross_corpus/clusters.json").read_text())
    assert clusters["cross_corpus_duplicates"] == second["rows_in"]


# ---- issue 12 item 7: declared files only; shards resolved lazily, per dataset ----------------


def test_missing_input_file_breaks_only_sft_targets(tmp_path):
    config = yaml.safe_load(TINY.read_text())["sft"]
    config["datasets"]["agentic_v1"]["splits"] = {"tool_calling": "data/nemotron/gone.jsonl"}
    path = tiny_config(tmp_path, datasets=config["datasets"])
    provence = run_snakemake(
        tmp_path, "-n", "results/provence/freq/squad_en/stats.json", configfile=path
    )
    assert "freq" in provence.stdout
    sft = run_snakemake(tmp_path, "-n", "sft", configfile=path, check=False)
    assert sft.returncode != 0
    message = sft.stdout + sft.stderr
    assert "agentic_v1" in message and "data/nemotron/gone.jsonl" in message
    other = "results/sft/deduped/hermes_reasoning_tools/train/part-00000.stats.json"
    assert run_snakemake(tmp_path, "-n", other, configfile=path).returncode == 0


def test_rules_pass_declared_files_not_folders(tmp_path):
    dry = run_snakemake(tmp_path, "-n", "-p", "results/sft/pools/agentic_v1")
    commands = [line for line in dry.stdout.splitlines() if "scripts/" in line]
    pools = next(c for c in commands if "build_candidate_pools.py" in c)
    assert "--in_dir" not in pools
    assert "results/sft/deduped/agentic_v1/tool_calling/part-00000.parquet" in pools
    normalize = next(c for c in commands if "normalize_dataset.py" in c)
    assert "--out_dir" not in normalize
    for suffix in ("parquet", "stats.json", "quarantine.jsonl", "tools.jsonl"):
        assert f"results/sft/normalized/agentic_v1/tool_calling/part-00000.{suffix}" in (normalize)


def test_stale_parts_never_enter_the_pools(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    run_snakemake(tmp_path, "results/sft/deduped/agentic_v1/tool_calling/part-00000.parquet")
    deduped = tmp_path / "results/sft/deduped/agentic_v1"
    stale = deduped / "old_split" / "part-00000.parquet"
    stale.parent.mkdir()
    stale.write_bytes((deduped / "tool_calling/part-00000.parquet").read_bytes())
    run_snakemake(tmp_path, "results/sft/pools/agentic_v1")
    manifest = json.loads(
        (tmp_path / "results/sft/pools/agentic_v1/pools_manifest.json").read_text()
    )
    assert manifest["rows_in"] == 1


def test_strict_content_reaches_the_normalize_command(tmp_path):
    """Stringifying non-string content is the default; `strict_content: true` opts out."""
    target = "results/sft/normalized/agentic_v1/tool_calling/part-00000.parquet"
    (tmp_path / "default").mkdir()
    default = run_snakemake(tmp_path / "default", "-n", "-p", target)
    assert "--strict_content" not in default.stdout
    assert "--stringify_content" not in default.stdout
    datasets = yaml.safe_load(TINY.read_text())["sft"]["datasets"]
    datasets["agentic_v1"]["strict_content"] = True
    (tmp_path / "strict").mkdir()
    config = tiny_config(tmp_path / "strict", datasets=datasets)
    strict = run_snakemake(tmp_path / "strict", "-n", "-p", target, configfile=config)
    assert "--strict_content" in strict.stdout

"""Candidate pools from deduplicated shards: purposes by column, exclusions, manifest."""

from __future__ import annotations

import hashlib
import json

import pyarrow as pa
import pyarrow.parquet as pq

from distilldata.pools import PoolConfig, build_pools


def shard(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path)


def base(i, **kw):
    row = {
        "id": f"r{i}",
        "text": f"t{i}",
        "loss_mode": "assistant_all",
        "dataset": "d",
        "split": "s",
        "meta_correctness": None,
        "meta_correct_count": None,
        "meta_has_tool_calls": False,
        "meta_reasoning": None,
        "quality_is_duplicate": False,
        "quality_special_token_literal": False,
        "stats_approx_tokens": 10,
    }
    row.update(kw)
    return row


def test_pools_and_manifest(tmp_path):
    shard(
        tmp_path / "in" / "s" / "part-00000.parquet",
        [
            base(0, meta_correctness=0.9, meta_correct_count=7, meta_reasoning="on"),
            base(1, meta_correctness=0.1, meta_correct_count=1, meta_has_tool_calls=True),
            base(2, stats_approx_tokens=9000, meta_reasoning="off"),
            base(3, quality_is_duplicate=True, meta_correctness=0.9),
            base(4, quality_special_token_literal=True),
        ],
    )
    shards = sorted((tmp_path / "in").glob("*/part-*.parquet"))
    manifest = build_pools(shards, tmp_path / "out", PoolConfig(rows_per_file=1))
    assert manifest["pools"] == {
        "high_correctness": 1,
        "long_context": 1,
        "low_correctness": 1,
        "missing_correctness_meta": 1,
        "reasoning_off": 1,
        "reasoning_on": 1,
        "tool_use": 1,
        "verified_correct": 2,
    }
    for entry in manifest["files"]:
        path = tmp_path / "out" / entry["path"]
        assert entry["bytes"] == path.stat().st_size
        assert entry["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    verified = sorted((tmp_path / "out" / "verified_correct").glob("*.parquet"))
    assert len(verified) == 2  # rows_per_file=1
    row = pq.read_table(verified[0]).to_pylist()[0]
    assert {"id", "text", "loss_mode", "meta_correctness", "quality_is_duplicate"} <= set(row)
    saved = json.loads((tmp_path / "out" / "pools_manifest.json").read_text())
    assert saved["pools"] == manifest["pools"]


def test_capability_pools_from_values(tmp_path):
    shard(
        tmp_path / "in" / "s" / "part-00000.parquet",
        [
            base(0, meta_capability_target="chat"),
            base(1, meta_capability_target="Structured outputs"),
        ],
    )
    manifest = build_pools(
        list((tmp_path / "in").glob("*/*.parquet")), tmp_path / "o", PoolConfig()
    )
    assert manifest["pools"]["capability_chat"] == 1
    assert manifest["pools"]["capability_structured_outputs"] == 1

"""Candidate pools from deduplicated shards: purposes by column, exclusions, manifest."""

from __future__ import annotations

import hashlib
import json

import pyarrow as pa
import pyarrow.parquet as pq

from distilldata.sft.pools import PoolConfig, build_pools


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


# ---- issue 12 item 6: pools decided from values, on real normalizer output ---------------------


def test_pool_whose_column_is_null_everywhere_is_skipped_and_reported(tmp_path):
    """Real rows without correctness metadata: the normalized schema has `meta_correctness`, but
    no row has a value, so `missing_correctness_meta` would be a copy of the whole corpus."""
    from pathlib import Path

    from distilldata.sft.normalize import DatasetSpec, normalize_shard

    data = Path(__file__).resolve().parents[1] / "data" / "chat_tools" / "llamafactory"
    out = tmp_path / "norm" / "train" / "part-00000.parquet"
    stats = normalize_shard(data / "reason_tool_use_demo_50.jsonl", out, DatasetSpec("h"), "train")
    assert "meta_correctness" in pq.read_schema(out).names
    manifest = build_pools([out], tmp_path / "pools", PoolConfig())
    assert manifest["rows_in"] == stats["rows_out"]
    assert "missing_correctness_meta" not in manifest["pools"]
    assert (
        manifest["skipped"]["missing_correctness_meta"] == "meta_correctness is null in every row"
    )
    assert manifest["skipped"]["verified_correct"] == "meta_correct_count is null in every row"
    assert manifest["pools"]["tool_use"] > 0
    assert not (tmp_path / "pools" / "missing_correctness_meta").exists()


# ---- issue 12 item 9: the pool folder appears whole or not at all -----------------------------


def test_pool_folder_is_written_through_the_store(tmp_path, monkeypatch):
    from store_spy import spy_renames, written_by_store

    seen = spy_renames(monkeypatch)
    path = tmp_path / "in" / "s" / "part-00000.parquet"
    shard(path, [base(0, meta_correctness=0.9, meta_correct_count=7)])
    build_pools([path], tmp_path / "out", PoolConfig())
    assert written_by_store(seen, tmp_path / "out") == {
        str(tmp_path / "out"): "distilldata.core.store"
    }


def test_failed_pool_build_keeps_the_old_folder(tmp_path):
    import pytest

    good = tmp_path / "in" / "a" / "part-00000.parquet"
    shard(good, [base(0, meta_correctness=0.9, meta_correct_count=7)])
    build_pools([good], tmp_path / "out", PoolConfig())

    def files():
        return {p: p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file()}

    before = files()
    bad = tmp_path / "in" / "b" / "part-00000.parquet"
    bad.parent.mkdir()
    bad.write_bytes(b"not parquet")
    shard(good, [base(i, meta_correctness=0.8, meta_correct_count=6) for i in range(3)])
    with pytest.raises(pa.ArrowInvalid):
        build_pools([good, bad], tmp_path / "out", PoolConfig())
    assert files() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "out"]


def test_script_reads_only_the_given_shards_or_a_whole_folder(tmp_path):
    """The workflow passes its declared shards (`--shards`); `--in_dir` (the seed's flag) still
    reads every `*/part-*.parquet` by hand."""
    import subprocess
    import sys

    from conftest import REPO, offline_env

    for split in ("a", "b"):
        shard(tmp_path / "in" / split / "part-00000.parquet", [base(0, meta_correctness=0.9)])
    script = [sys.executable, str(REPO / "scripts" / "sft/build_candidate_pools.py")]
    env = offline_env(PYTHONPATH=str(REPO))
    for name, flags, rows in [
        ("shards", ["--shards", str(tmp_path / "in" / "a" / "part-00000.parquet")], 1),
        ("folder", ["--in_dir", str(tmp_path / "in")], 2),
    ]:
        out = tmp_path / name
        proc = subprocess.run(
            [*script, *flags, "--out_dir", str(out)], capture_output=True, text=True, env=env
        )
        assert proc.returncode == 0, proc.stderr
        assert json.loads((out / "pools_manifest.json").read_text())["rows_in"] == rows

"""The four dedup stages on normalized shards: exact + near duplicates, survivors, keys."""

from __future__ import annotations

import pyarrow.parquet as pq

from distilldata.dedup import (
    DedupConfig,
    build_clusters,
    compute_signatures,
    dedup_key,
    filter_shard,
    find_bucket_edges,
)
from distilldata.exact_dedup import exact_hash, normalize_key
from distilldata.minhash import MinHashConfig
from distilldata.nemotron_normalize import DatasetSpec, normalize_shard

LONG = " ".join(f"token{i}" for i in range(120))


def row(uuid: str, prompt: str, answer: str) -> dict:
    return {
        "uuid": uuid,
        "messages": [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}],
    }


def run_all(tmp_path, shards_rows: list[list[dict]], config: DedupConfig, buckets: int = 2):
    import json

    tmp_path.mkdir(parents=True, exist_ok=True)
    normalized, signatures = [], []
    for i, rows in enumerate(shards_rows):
        src = tmp_path / f"src{i}.jsonl"
        src.write_text("".join(json.dumps(r) + "\n" for r in rows))
        out = tmp_path / "norm" / "s" / f"part-{i:05d}.parquet"
        normalize_shard(src, out, DatasetSpec("d"), "s")
        normalized.append(out)
        sig = tmp_path / "sig" / f"part-{i:05d}.parquet"
        compute_signatures(out, sig, config)
        signatures.append(sig)
    edges = []
    for b in range(buckets):
        path = tmp_path / "edges" / f"bucket-{b:03d}.parquet"
        find_bucket_edges(signatures, path, b, buckets, config.minhash.bands)
        edges.append(path)
    summary = build_clusters(edges, tmp_path / "clusters.parquet", tmp_path / "clusters.json")
    outs = []
    for i, shard in enumerate(normalized):
        out = tmp_path / "dedup" / f"part-{i:05d}.parquet"
        filter_shard(shard, tmp_path / "clusters.parquet", out, tmp_path / f"f{i}.json", config)
        outs.append(pq.read_table(out).to_pylist())
    return summary, outs


def test_exact_key_normalization_keeps_numbers():
    assert normalize_key("  Hello\n\tWORLD ") == "hello world"
    assert exact_hash("Answer 2+3") != exact_hash("Answer 7+9")
    assert exact_hash("a  b") == exact_hash("A b")


def test_dedup_key_choice():
    text = (
        "<|start|>user<|message|>Q<|end|><|start|>assistant<|channel|>analysis<|message|>T<|end|>"
        "<|start|>assistant<|channel|>final<|message|>A<|return|>"
    )
    assert dedup_key(text, "completion") == "T\nA"
    assert dedup_key(text, "prompt") == "Q"
    assert dedup_key(text, "text") == text


def test_exact_and_near_duplicates_across_shards(tmp_path):
    near = LONG.replace("token60", "changed60")  # J(5-grams) ~ 0.92 with LONG
    shards = [
        [row("b-2", "q1", LONG), row("z-9", "q2", "unrelated answer " * 20)],
        [row("a-1", "q3", LONG.upper()), row("c-3", "q4", near), row("d-4", "q5", "other " * 40)],
    ]
    summary, (first, second) = run_all(tmp_path, shards, DedupConfig(key="completion"))
    assert summary["exact_duplicates"] == 1 and summary["near_duplicates"] == 1
    # b-2 is an exact copy of a-1 (case-folded) -> dropped; survivor is the lowest id.
    assert [r["id"] for r in first] == ["z-9"]
    by_id = {r["id"]: r for r in second}
    assert by_id["a-1"]["dup_cluster_id"] == "a-1" and not by_id["a-1"]["quality_is_duplicate"]
    assert by_id["c-3"]["dup_cluster_id"] == "a-1" and by_id["c-3"]["quality_is_duplicate"]
    assert by_id["d-4"]["dup_cluster_id"] is None
    assert first[0]["dup_cluster_id"] is None


def test_multi_trajectory_rows_survive_completion_key_not_prompt_key(tmp_path):
    trajectories = [
        [row(f"t{i}", "the same problem " * 10, f"solution {i} " + LONG) for i in range(3)]
    ]
    # Different completions (numbers differ): never exact duplicates with the completion key.
    summary, (rows,) = run_all(
        tmp_path / "c", trajectories, DedupConfig(key="completion", near_duplicates="off")
    )
    assert summary["exact_duplicates"] == 0 and len(rows) == 3
    summary, (rows,) = run_all(tmp_path / "p", trajectories, DedupConfig(key="prompt"))
    assert summary["exact_duplicates"] == 2 and [r["id"] for r in rows] == ["t0"]


def test_near_duplicates_can_be_dropped(tmp_path):
    near = LONG.replace("token10", "x10")
    shards = [[row("a", "q", LONG), row("b", "q", near)]]
    config = DedupConfig(
        key="completion", near_duplicates="drop", minhash=MinHashConfig(bands=8, rows=4)
    )
    summary, (rows,) = run_all(tmp_path, shards, config, buckets=1)
    assert [r["id"] for r in rows] == ["a"]
    stats = (tmp_path / "f0.json").read_text()
    assert '"near_duplicate": 1' in stats


def test_identical_rows_without_uuid_across_shards(tmp_path):
    same = {"messages": row("x", "q", LONG)["messages"]}  # no uuid: id = content hash
    shards = [[same, row("u1", "q", "first shard answer " * 10)], [same, same]]
    summary, (first, second) = run_all(tmp_path, shards, DedupConfig(key="completion"))
    assert summary["ids_shared_by_identical_rows"] == 1
    hashed = [r for r in first + second if r["id"].startswith("h:")]
    assert len(hashed) == 1 and hashed[0]["source_file"] == "src0.jsonl"
    assert [r["id"] for r in second] == []

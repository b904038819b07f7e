"""The four dedup stages on normalized shards: exact + near duplicates, survivors, keys."""

from __future__ import annotations

import json

import pyarrow.parquet as pq

from distilldata.sft.dedup import (
    DedupConfig,
    build_clusters,
    compute_signatures,
    dedup_key,
    filter_shard,
    find_bucket_edges,
)
from distilldata.sft.normalize import DatasetSpec, normalize_shard
from distilldata.text.exact_hash import exact_hash, normalize_key
from distilldata.text.minhash import MinHashConfig

LONG = " ".join(f"token{i}" for i in range(120))


def row(uuid: str, prompt: str, answer: str) -> dict:
    return {
        "uuid": uuid,
        "messages": [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}],
    }


def run_all(
    tmp_path,
    shards_rows: list[list[dict]],
    config: DedupConfig,
    buckets: int = 2,
    spec: DatasetSpec | None = None,
):
    tmp_path.mkdir(parents=True, exist_ok=True)
    normalized, signatures = [], []
    for i, rows in enumerate(shards_rows):
        src = tmp_path / f"src{i}.jsonl"
        src.write_text("".join(json.dumps(r) + "\n" for r in rows))
        out = tmp_path / "norm" / "s" / f"part-{i:05d}.parquet"
        normalize_shard(src, out, spec or DatasetSpec("d"), "s")
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
    assert summary["exact_duplicates"] == 0 and summary["near_duplicates"] == 0
    assert [(r["id"], r["quality_is_duplicate"], r["dup_cluster_id"]) for r in rows] == [
        ("t0", False, None),
        ("t1", False, None),
        ("t2", False, None),
    ]
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


def test_near_duplicates_off_buckets_no_band(tmp_path):
    """`off`: unrelated rows are never near duplicates, and no band edge is written at all."""
    shards = [[row("a", "q1", "alpha beta gamma " * 20), row("b", "q2", "delta epsilon " * 30)]]
    config = DedupConfig(near_duplicates="off", minhash=MinHashConfig(bands=4, rows=2))
    summary, (rows,) = run_all(tmp_path, shards, config, buckets=1)
    assert summary["edges"].get("near", 0) == 0
    assert [(r["id"], r["quality_is_duplicate"]) for r in rows] == [("a", False), ("b", False)]


def test_keys_without_words_never_match(tmp_path):
    """Punctuation-only completions have no shingles: distinct ones are not near duplicates."""
    answers = ["...", "!!! ???", "?!", "-- -- --"]
    shards = [[row(f"p{i}", f"question {i}", a) for i, a in enumerate(answers)]]
    config = DedupConfig(near_duplicates="drop", minhash=MinHashConfig(bands=4, rows=2))
    summary, (rows,) = run_all(tmp_path, shards, config, buckets=1)
    assert summary["near_duplicates"] == 0 and summary["edges"].get("near", 0) == 0
    assert [r["id"] for r in rows] == ["p0", "p1", "p2", "p3"]
    assert not any(r["quality_is_duplicate"] for r in rows)


# ---- issue 12 item 5: survivors by quality, cross-corpus clusters ------------------------------

REPEATED = "\n".join(["the same line again and again"] * 25)


def test_survivor_is_the_cleanest_copy_not_the_lowest_id(tmp_path):
    """a: truncated final (unclosed fence), b: repeated lines, c: clean -> c survives."""
    shards = [
        [
            row("a", "q1", LONG + " ```python"),
            row("b", "q2", LONG + "\n" + REPEATED),
            row("c", "q3", LONG),
        ]
    ]
    config = DedupConfig(near_duplicates="tag", minhash=MinHashConfig(bands=8, rows=4))
    summary, (rows,) = run_all(tmp_path, shards, config, buckets=1)
    by_id = {r["id"]: r for r in rows}
    assert "final_truncated" in by_id["a"]["quality_tags"]
    assert "repeated_lines" in by_id["b"]["quality_tags"]
    assert {r["dup_cluster_id"] for r in rows} == {"c"}
    assert [r["id"] for r in rows if not r["quality_is_duplicate"]] == ["c"]


def test_exact_copy_survivor_prefers_the_row_without_soft_flags(tmp_path):
    """Same completion (exact duplicates); `a` is tagged too_long by its prompt -> `b` stays."""
    from distilldata.sft.quality import QualityConfig

    shards = [[row("a", "long prompt " * 400, LONG), row("b", "short prompt", LONG)]]
    spec = DatasetSpec("d", quality=QualityConfig(too_long_tokens=500))
    summary, (rows,) = run_all(tmp_path, shards, DedupConfig(), buckets=1, spec=spec)
    assert summary["exact_duplicates"] == 1
    assert [(r["id"], r["dup_cluster_id"]) for r in rows] == [("b", "b")]


def normalized_corpus(tmp_path, name: str, rows: list[dict]):
    src = tmp_path / f"{name}.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "norm" / name / "train" / "part-00000.parquet"
    normalize_shard(src, out, DatasetSpec(name), "train")
    return out


def test_cross_corpus_clusters_drop_the_copy_in_the_later_corpus(tmp_path):
    shared = {"messages": row("x", "q", LONG)["messages"]}  # no uuid: same content-hash id
    corpora = {
        "glaive": [shared, row("z-9", "q2", "glaive answer " * 20)],
        "hermes": [shared, row("a-1", "q2", "GLAIVE answer " * 20), row("h-2", "q", "other " * 30)],
    }
    config = DedupConfig(minhash=MinHashConfig(bands=8, rows=4))
    shards, signatures = {}, []
    for order, (name, rows) in enumerate(corpora.items()):
        shards[name] = normalized_corpus(tmp_path, name, rows)
        sig = tmp_path / "sig" / f"{name}.parquet"
        compute_signatures(shards[name], sig, config, corpus=name, corpus_order=order)
        signatures.append(sig)
    find_bucket_edges(signatures, tmp_path / "b.parquet", 0, 1, 8)
    summary = build_clusters([tmp_path / "b.parquet"], tmp_path / "c.parquet", tmp_path / "c.json")
    assert summary["exact_duplicates"] == 2 and summary["cross_corpus_duplicates"] == 2
    kept = {}
    for name, shard in shards.items():
        out = tmp_path / "out" / f"{name}.parquet"
        stats = filter_shard(
            shard, tmp_path / "c.parquet", out, tmp_path / f"{name}.json", config, corpus=name
        )
        kept[name] = pq.read_table(out).to_pylist()
        assert stats["rows_in"] == stats["rows_out"] + sum(stats["dropped"].values())
    # glaive comes first in the config: both shared rows survive there, although the hermes
    # copy of the second one has the lower id.
    glaive_ids = [r["id"] for r in kept["glaive"]]
    assert len(glaive_ids) == 2 and glaive_ids[0].startswith("h:") and glaive_ids[1] == "z-9"
    assert not any(r["quality_is_duplicate"] for r in kept["glaive"])
    assert [r["id"] for r in kept["hermes"]] == ["h-2"]
    assert stats["cross_corpus_duplicates"] == 2


def test_without_cross_corpus_the_same_row_stays_in_both(tmp_path):
    shared = row("same-uuid", "q", LONG)
    config = DedupConfig(minhash=MinHashConfig(bands=8, rows=4))
    for name in ("glaive", "hermes"):
        shard = normalized_corpus(tmp_path, name, [shared])
        sig = tmp_path / "sig" / f"{name}.parquet"
        compute_signatures(shard, sig, config, corpus=name)
        find_bucket_edges([sig], tmp_path / f"{name}-b.parquet", 0, 1, 8)
        build_clusters(
            [tmp_path / f"{name}-b.parquet"],
            tmp_path / f"{name}-c.parquet",
            tmp_path / f"{name}-c.json",
        )
        out = tmp_path / "out" / f"{name}.parquet"
        filter_shard(
            shard, tmp_path / f"{name}-c.parquet", out, tmp_path / "f.json", config, corpus=name
        )
        assert [r["id"] for r in pq.read_table(out).to_pylist()] == ["same-uuid"]


# ---- issue 12 item 9: every dedup artifact is renamed into place by the store ------------------


def test_dedup_stages_write_through_the_store(tmp_path, monkeypatch):
    from store_spy import all_by_store, spy_renames

    shards = [[row("a", "q", LONG), row("b", "q", LONG.upper())]]
    seen = spy_renames(monkeypatch)
    run_all(tmp_path, shards, DedupConfig(minhash=MinHashConfig(bands=4, rows=2)), buckets=1)
    written = [
        tmp_path / "sig" / "part-00000.parquet",
        tmp_path / "edges" / "bucket-000.parquet",
        tmp_path / "clusters.parquet",
        tmp_path / "clusters.json",
        tmp_path / "dedup" / "part-00000.parquet",
        tmp_path / "f0.json",
    ]
    assert all_by_store(seen, *written)


def test_failed_signature_stage_leaves_no_file(tmp_path, monkeypatch):
    import pytest

    import distilldata.sft.dedup as dedup

    shards = [[row(f"r{i}", "q", f"answer {i} " * 10) for i in range(3)]]
    run_all(tmp_path, shards, DedupConfig(), buckets=1)
    calls = []

    def failing_key(text, key):
        calls.append(text)
        if len(calls) > 1:
            raise RuntimeError("killed")
        return text

    monkeypatch.setattr(dedup, "dedup_key", failing_key)
    out = tmp_path / "sig2" / "part-00000.parquet"
    with pytest.raises(RuntimeError):
        compute_signatures(tmp_path / "norm" / "s" / "part-00000.parquet", out, DedupConfig(), 1)
    assert list((tmp_path / "sig2").iterdir()) == []


# ---- issue 12 item 10: broken row accounting is an error even under `python -O` --------------


def test_filter_accounting_mismatch_is_a_runtime_error_naming_the_shard(tmp_path):
    import pytest

    class Flipping:  # an injected bug: the drop policy changes while filtering
        near_duplicates = "tag"
        calls = 0

        @property
        def drop_exact(self):
            Flipping.calls += 1
            return Flipping.calls == 1

    shards = [[row("a", "q", LONG), row("b", "q", LONG.upper())]]
    run_all(tmp_path, shards, DedupConfig(), buckets=1)
    shard = tmp_path / "norm" / "s" / "part-00000.parquet"
    with pytest.raises(RuntimeError, match="part-00000.parquet"):
        filter_shard(
            shard,
            tmp_path / "clusters.parquet",
            tmp_path / "x.parquet",
            tmp_path / "x.json",
            Flipping(),
        )


def test_rows_sharing_a_uuid_with_different_quality_stay_one_node(tmp_path):
    """A uuid repeated on different rows (uuid_is_problem_id not set): the rows share a node
    whatever their quality tags, and only the first (by origin) is kept, as before."""
    shards = [[row("dup", "q", LONG + "\n" + REPEATED), row("dup", "q", "other answer " * 20)]]
    summary, (rows,) = run_all(tmp_path, shards, DedupConfig(), buckets=1)
    assert summary["ids_shared_by_identical_rows"] == 1
    assert [(r["id"], r["source_row"]) for r in rows] == [("dup", 0)]

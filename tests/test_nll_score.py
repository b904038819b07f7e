"""Scoring one pool shard: the output columns, flags and counts for rows that cannot be scored,
truncation, rows owned by an earlier pool shard, IFD, the cache, bad input, the CLI, and
kill-and-resume of a real process."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys

import numpy as np
import pyarrow.parquet as pq
import pytest
from nll_fixtures import normalized, write_pool
from test_nll_token_scores import reference_means, sequences

from conftest import REPO, offline_env
from distilldata.core.errors import InputError
from distilldata.llm.token_scores import make_token_scorer
from distilldata.nll.score import make_settings, score_shard

SCRIPT = REPO / "scripts" / "nll" / "score_nll.py"
BAD_ROWS = [
    {"id": "no-text", "text": None, "loss_mode": "assistant_all"},
    {"id": "broken", "text": "<|start|>user<|message|>no end", "loss_mode": "assistant_all"},
    {"id": "no-answer", "text": "<|start|>user<|message|>hi<|end|>", "loss_mode": "assistant_all"},
]


@pytest.fixture(scope="module")
def rows():
    return [*normalized("hermes")[:3], *normalized("glaive")[:2]]


@pytest.fixture(scope="module")
def scorer(tiny_causal_lm):
    scorer = make_token_scorer("local", make_settings(str(tiny_causal_lm)).scorer)
    scorer.load()
    return scorer


def settings(model, **options):
    return make_settings(str(model), device="cpu", **options)


def run(tmp_path, pool, model, scorer, name="scores", **options):
    out = tmp_path / f"{name}.parquet"
    stats = score_shard(pool, out, tmp_path / f"{name}.json", settings(model, **options), scorer)
    return pq.read_table(out).to_pylist(), stats


def test_scores_flags_and_counts(tmp_path, rows, tiny_causal_lm, scorer):
    pool = write_pool(tmp_path / "tool_use" / "part-00000.parquet", [*rows, *BAD_ROWS])
    out, stats = run(tmp_path, pool, tiny_causal_lm, scorer, max_length=3000)
    by_id = {r["id"]: r for r in out}
    assert [r["id"] for r in out] == [r["id"] for r in [*rows, *BAD_ROWS]]  # input order
    assert by_id["no-text"]["flag"] == "no_text"
    assert by_id["broken"]["flag"] == "unparseable_harmony"
    assert by_id["no-answer"]["flag"] == "no_completion_tokens"
    for bad in BAD_ROWS:
        row = by_id[bad["id"]]
        assert row["nll_mean"] is None and row["ppl"] is None  # null, never NaN
        assert row["completion_token_count"] == 0
    reference = reference_means(tiny_causal_lm, sequences(tiny_causal_lm, rows, 3000))
    scored = [by_id[r["id"]] for r in rows]
    np.testing.assert_allclose([r["nll_mean"] for r in scored], reference, atol=1e-4)
    for r in scored:
        assert r["flag"] is None and r["pool"] == "tool_use" and r["split"] == "train"
        assert r["nll_sum"] == pytest.approx(r["nll_mean"] * r["completion_token_count"])
        assert r["ppl"] == pytest.approx(math.exp(r["nll_mean"]))
        assert r["model"] == str(tiny_causal_lm) and r["loss_mode"] == "assistant_all"
    assert stats["rows_in"] == 8 == stats["scored"] + sum(stats["flagged"].values())
    assert stats["flagged"] == {"no_completion_tokens": 1, "no_text": 1, "unparseable_harmony": 1}


def test_truncation_is_flagged_and_counted(tmp_path, rows, tiny_causal_lm, scorer):
    pool = write_pool(tmp_path / "p" / "part-00000.parquet", rows)
    full, _ = run(tmp_path, pool, tiny_causal_lm, scorer, "full", max_length=100_000)
    cut, stats = run(tmp_path, pool, tiny_causal_lm, scorer, "cut", max_length=1200)
    assert not any(r["truncated"] for r in full)
    for whole, part in zip(full, cut, strict=True):
        assert part["token_count"] == whole["token_count"]
        if whole["token_count"] <= 1200:
            assert part == {**whole} and not part["truncated"]
            continue
        assert part["truncated"]
        assert (
            part["completion_token_count"] + part["scored_tokens_lost"]
            == whole["completion_token_count"]
        )
        if part["completion_token_count"] == 0:
            assert part["flag"] == "truncated_away" and part["nll_mean"] is None
    assert stats["truncated"] == sum(r["truncated"] for r in cut) > 0
    assert stats["scored_tokens_lost"] == sum(r["scored_tokens_lost"] for r in cut) > 0
    assert stats["rows_in"] == stats["scored"] + sum(stats["flagged"].values())


def test_loss_mode_override_and_ifd(tmp_path, rows, tiny_causal_lm, scorer):
    pool = write_pool(tmp_path / "p" / "part-00000.parquet", rows)
    out, stats = run(tmp_path, pool, tiny_causal_lm, scorer, loss_mode="assistant_last", ifd=True)
    for row in out:
        assert row["loss_mode"] == "assistant_last"
        assert row["ifd"] == pytest.approx(row["nll_mean"] / row["nll_mean_prompt_free"])
        assert row["completion_token_count_prompt_free"] > 0
    assert stats["groups"].keys() == {"conditioned", "prompt_free"}


def test_rows_of_an_earlier_pool_shard_are_scored_there(tmp_path, rows, tiny_causal_lm, scorer):
    first = write_pool(tmp_path / "long_context" / "part-00000.parquet", rows[:3])
    second = write_pool(tmp_path / "tool_use" / "part-00000.parquet", rows[1:])
    out = tmp_path / "second.parquet"
    stats = score_shard(
        second, out, tmp_path / "second.json", settings(tiny_causal_lm, max_records=3),
        scorer=scorer, earlier_shards=[first],
    )  # fmt: skip
    flags = [r["flag"] for r in pq.read_table(out).to_pylist()]
    assert flags == ["scored_in_earlier_pool", "scored_in_earlier_pool", None]
    assert stats["scored_in_earlier_pool"] == 2 and stats["scored"] == 1
    assert stats["dropped"] == {"max_records": 1}
    assert stats["rows_in"] == 4 == 1 + 2 + 1


def test_bad_input_is_a_clear_error(tmp_path, rows, tiny_causal_lm, scorer):
    s = settings(tiny_causal_lm)
    unknown = write_pool(tmp_path / "a" / "part-00000.parquet", [{**rows[0], "loss_mode": "all"}])
    with pytest.raises(InputError, match=r"row 0 \(id 'h:.*'\): unknown loss_mode 'all'"):
        score_shard(unknown, tmp_path / "o.parquet", tmp_path / "o.json", s, scorer=scorer)
    twice = write_pool(tmp_path / "b" / "part-00000.parquet", [rows[0], rows[0]])
    with pytest.raises(InputError, match="rows 0 and 1 share id"):
        score_shard(twice, tmp_path / "o.parquet", tmp_path / "o.json", s, scorer=scorer)
    import pyarrow as pa

    no_text = tmp_path / "c.parquet"
    pq.write_table(pa.table({"id": ["x"], "loss_mode": ["assistant_all"]}), no_text)
    with pytest.raises(InputError, match="no 'text' column"):
        score_shard(no_text, tmp_path / "o.parquet", tmp_path / "o.json", s, scorer=scorer)
    assert not (tmp_path / "o.parquet").exists()


def test_cache_reuse_and_invalidation(tmp_path, rows, tiny_causal_lm, scorer):
    pool = write_pool(tmp_path / "p" / "part-00000.parquet", rows)
    cache = tmp_path / "cache"
    s = settings(tiny_causal_lm, group_size=2)
    kwargs = {"scorer": scorer, "cache_root": cache, "cache_name": "corpus/p/part-00000"}
    first = score_shard(pool, tmp_path / "1.parquet", tmp_path / "1.json", s, **kwargs)
    second = score_shard(pool, tmp_path / "2.parquet", tmp_path / "2.json", s, **kwargs)
    assert first["groups"]["conditioned"] == {"computed": 3}
    assert second["groups"]["conditioned"] == {"cached": 3}
    assert pq.read_table(tmp_path / "1.parquet").equals(pq.read_table(tmp_path / "2.parquet"))
    changed = write_pool(pool, [*rows[:4], {**rows[4], "text": rows[3]["text"]}])
    third = score_shard(changed, tmp_path / "3.parquet", tmp_path / "3.json", s, **kwargs)
    assert third["groups"]["conditioned"] == {"cached": 2, "computed": 1}  # the changed group
    other = settings(tiny_causal_lm, group_size=2, max_length=500)  # another fingerprint
    fourth = score_shard(pool, tmp_path / "4.parquet", tmp_path / "4.json", other, **kwargs)
    assert fourth["groups"]["conditioned"] == {"computed": 3}


def cli(*args):
    return [sys.executable, str(SCRIPT), *map(str, args)]


def test_cli_scores_a_shard_and_rejects_bad_input(tmp_path, rows, tiny_causal_lm):
    pool = write_pool(tmp_path / "tool_use" / "part-00000.parquet", [*rows[:2], *BAD_ROWS[:1]])
    out = tmp_path / "scores.parquet"
    done = subprocess.run(
        cli("--input", pool, "--output", out, "--model", tiny_causal_lm / "config.json",
            "--backend", "local", "--loss_mode", "assistant_all", "--max_length", 2048,
            "--batch_size", 2, "--max_records", 3, "--device", "cpu"),
        capture_output=True, text=True, env=offline_env(), timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    stats = json.loads((tmp_path / "scores.stats.json").read_text())
    assert stats["scored"] == 2 and stats["flagged"] == {"no_text": 1}
    assert stats["model"] == str(tiny_causal_lm / "config.json")
    bad = write_pool(tmp_path / "bad" / "part-00000.parquet", [{**rows[0], "loss_mode": "x"}])
    failed = subprocess.run(
        cli("--input", bad, "--output", tmp_path / "b.parquet", "--model", tiny_causal_lm),
        capture_output=True, text=True, env=offline_env(), timeout=300,
    )  # fmt: skip
    assert failed.returncode == 2
    assert "error: " in failed.stderr and "unknown loss_mode 'x'" in failed.stderr
    assert str(bad) in failed.stderr and not (tmp_path / "b.parquet").exists()


KILLABLE = """
import sys, time
from distilldata.nll.score import make_settings, score_shard
pool, out, cache, model = sys.argv[1:5]
def stop(index, start, end):
    if index == 0:
        print("first group cached", flush=True)
        time.sleep(600)  # the test kills the process here
score_shard(pool, out, out + ".json", make_settings(model, device="cpu", group_size=2),
            cache_root=cache, cache_name="c/p/part-00000", on_group_done=stop)
"""


def test_a_killed_job_redoes_at_most_one_group(tmp_path, rows, tiny_causal_lm):
    pool = write_pool(tmp_path / "p" / "part-00000.parquet", rows)
    cache, out = tmp_path / "cache", tmp_path / "scores.parquet"
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLABLE, pool, out, cache, tiny_causal_lm],
        stdout=subprocess.PIPE, text=True, env=offline_env(PYTHONPATH=str(REPO)),
        start_new_session=True,
    )  # fmt: skip
    try:
        assert proc.stdout.readline().strip() == "first group cached"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    assert len(list(cache.rglob("*.json"))) == 1 and not out.exists()
    done = subprocess.run(
        cli("--input", pool, "--output", out, "--model", tiny_causal_lm, "--device", "cpu",
            "--group_size", 2, "--cache_root", cache, "--cache_name", "c/p/part-00000"),
        capture_output=True, text=True, env=offline_env(), timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    stats = json.loads((tmp_path / "scores.stats.json").read_text())
    assert stats["groups"]["conditioned"] == {"cached": 1, "computed": 2}
    assert stats["scored"] == len(rows)

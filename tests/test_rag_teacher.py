"""Teacher answers: the deterministic sample, shards and cache, each LLM backend end to end with a
tiny local causal LM, seeded sampling, and resume after a killed job."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import types

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from rag_teacher_fixtures import write_inputs

from conftest import REPO, offline_env
from distilldata.core.errors import InputError
from distilldata.llm.completion import GenerationSettings, make_completer
from distilldata.rag.rerank import build_documents
from distilldata.rag.teacher import (
    ANSWERS_SCHEMA,
    END_OF_TURN,
    Teacher,
    TeacherSettings,
    answer_shard,
    answers_info,
    generate_teacher_answers,
    group_seed,
    sample_order,
)


@pytest.fixture(scope="module")
def docs(tmp_path_factory):
    """documents.parquet of 20 SQuAD questions with 5 retrieved paragraphs each."""
    root = tmp_path_factory.mktemp("rag")
    inputs = write_inputs(root / "inputs")
    path = root / "squad_en" / "documents.parquet"
    build_documents(inputs["queries"], inputs["hits"], inputs["corpus"], path)
    return path


def tiny(model, **options) -> TeacherSettings:
    base = dict(
        model=str(model),
        prompt="paper",
        decoding="sample",
        temperature=1.0,
        max_new_tokens=8,
        max_prompt_tokens=512,
        batch_size=4,
    )
    return TeacherSettings(**(base | options))


def run(docs, out, settings, cache, **options):
    stats = answer_shard(docs, out, settings, cache_root=cache, **options)
    return pq.read_table(out), stats


def test_sample_is_deterministic_and_grows_by_appending():
    qids = [f"q{i}" for i in range(50)]
    five = sample_order(qids, 42, 5)
    assert five == sample_order(qids, 42, 5) and len(set(five)) == 5
    assert sample_order(qids, 42, 9)[:5] == five
    assert sorted(sample_order(qids, 42, 0)) == list(range(50))
    assert sample_order(qids, 7, 5) != five
    with pytest.raises(InputError, match="--max_queries -1"):
        sample_order(qids, 42, -1)


def test_transformers_answers_are_cached_per_group(docs, tiny_causal_lm, tmp_path):
    settings = tiny(tiny_causal_lm)
    table, stats = run(docs, tmp_path / "a.parquet", settings, tmp_path / "c", max_queries=8,
                       group_size=3)  # fmt: skip
    assert table.schema == ANSWERS_SCHEMA.with_metadata(table.schema.metadata)
    assert table.num_rows == 8 and stats["groups"] == 3 and stats["answers_computed"] == 8
    qids = pq.read_table(docs).column("qid").to_pylist()
    assert table.column("qid").to_pylist() == [qids[i] for i in sample_order(qids, 42, 8)]
    rows = table.to_pylist()
    assert all(r["answer"] and r["answer"] == r["answer"].strip() for r in rows)
    assert all(
        r["prompt_kind"] == "paper" and r["teacher_model"] == str(tiny_causal_lm) for r in rows
    )
    assert all(0 < r["prompt_tokens"] <= 512 and 1 <= r["documents_in_prompt"] <= 5 for r in rows)
    generation = json.loads(rows[0]["generation"])
    assert generation | {"model": "m"} == {
        "backend": "transformers", "model": "m", "prompt": "paper", "prompt_version": 1,
        "decoding": "sample", "temperature": 1.0, "top_p": 0.9, "seed": 42, "max_new_tokens": 8,
        "max_prompt_tokens": 512, "num_documents": 0, "load_in_8bit": False,
    }  # fmt: skip
    assert stats["answers_per_second"] > 0 and stats["model_loaded"]
    # a second run is served from the cache without loading the model
    again, stats2 = run(docs, tmp_path / "b.parquet", settings, tmp_path / "c", max_queries=8,
                        group_size=3)  # fmt: skip
    assert stats2["groups_cached"] == 3 and not stats2["model_loaded"]
    assert again.to_pylist() == rows
    assert answers_info(again.schema)["groups_cached"] == 3


def test_shards_split_the_sample_and_sampling_is_seeded_per_group(docs, tiny_causal_lm, tmp_path):
    settings = tiny(tiny_causal_lm)
    whole, _ = run(docs, tmp_path / "w.parquet", settings, tmp_path / "c1", max_queries=10,
                   group_size=3)  # fmt: skip
    parts = [
        run(
            docs,
            tmp_path / f"s{k}.parquet",
            settings,
            tmp_path / "c2",
            shard=k,
            shards=3,
            max_queries=10,
            group_size=3,
        )[0]  # fmt: skip
        for k in range(3)
    ]
    assert all(p.num_rows > 0 for p in parts)
    # other cache, other sharding: the same answers (seeded from seed and group start)
    assert pa.concat_tables(parts).to_pylist() == whole.to_pylist()
    other, _ = run(docs, tmp_path / "o.parquet", tiny(tiny_causal_lm, seed=7), tmp_path / "c3",
                   max_queries=10, group_size=3)  # fmt: skip
    assert other.column("answer").to_pylist() != whole.column("answer").to_pylist()


def test_changed_settings_or_rows_are_never_served_stale(docs, tiny_causal_lm, tmp_path):
    settings = tiny(tiny_causal_lm)
    run(docs, tmp_path / "a.parquet", settings, tmp_path / "c", max_queries=6, group_size=3)
    _, stats = run(docs, tmp_path / "b.parquet", tiny(tiny_causal_lm, max_new_tokens=9),
                   tmp_path / "c", max_queries=6, group_size=3)  # fmt: skip
    assert stats["groups_cached"] == 0
    rows = pq.read_table(docs).to_pylist()
    first = sample_order([r["qid"] for r in rows], 42, 6)[0]
    rows[first]["texts"][0] = "A changed paragraph."
    changed = tmp_path / "squad_en" / "documents.parquet"
    changed.parent.mkdir()
    pq.write_table(pa.Table.from_pylist(rows, schema=pq.read_schema(docs)), changed)
    _, stats = run(changed, tmp_path / "c.parquet", settings, tmp_path / "c", max_queries=6,
                   group_size=3)  # fmt: skip
    assert stats["groups_cached"] == 1 and stats["answers_computed"] == 3


def test_greedy_batches_give_the_answers_of_one_prompt_at_a_time(smollm2):
    """SmolLM2 (a real instruct model): left-padded, length-sorted batches change no token."""
    texts = [  # prompts of different lengths, so the batch is padded
        ("In what country is Normandy located?", "Normandy is a region in France."),
        ("What is the capital of Japan?", "Tokyo is the capital of Japan, a country in Asia."),
    ]
    rows = [
        {"qid": str(i), "query": q, "titles": [""], "texts": [t]} for i, (q, t) in enumerate(texts)
    ]
    settings = TeacherSettings(model=str(smollm2), prompt="paper", decoding="greedy",
                               max_new_tokens=6, batch_size=1)  # fmt: skip
    teacher = Teacher(settings)
    one = teacher.answer(rows, seed=0)
    teacher.completer.settings.generate_batch_size = 2
    batched = teacher.answer(rows, seed=0)
    assert batched == one
    assert one["0"]["answer"].startswith("Normandy is")  # a real answer, not noise


def test_seed_python_api(tiny_causal_lm):
    items = [
        {"query": "Where is Normandy?", "documents": [{"title": "N", "text": "In France."}]},
        {"query": "Who was Rollo?", "documents": [{"title": "R", "text": "A Viking."}] * 2},
    ]
    records = generate_teacher_answers(
        items, str(tiny_causal_lm), max_new_tokens=4, temperature=1.0, prompt="paper"
    )
    assert [r["documents"] for r in records] == [i["documents"] for i in items]
    assert all(isinstance(r["answer"], str) for r in records) and "answer" not in items[0]
    again = generate_teacher_answers(
        items, str(tiny_causal_lm), max_new_tokens=4, temperature=1.0, prompt="paper"
    )
    assert [r["answer"] for r in again] == [r["answer"] for r in records]
    with pytest.raises(TypeError, match="unknown teacher setting"):
        generate_teacher_answers(items, str(tiny_causal_lm), tempreature=1.0)


# ---- backends -----------------------------------------------------------------------------------


def test_openai_backend_against_a_local_endpoint(docs, tiny_causal_lm, tmp_path,
                                                 completions_endpoint):  # fmt: skip
    endpoint = completions_endpoint(lambda i: f"  Answer {i}.<|im_end|>more")
    settings = tiny(
        tiny_causal_lm,
        backend="openai",
        decoding="greedy",
        batch_size=5,
        base_url=endpoint.base_url,
    )
    table, _ = run(docs, tmp_path / "a.parquet", settings, tmp_path / "c", max_queries=5,
                   group_size=5)  # fmt: skip
    assert table.column("answer").to_pylist() == [f"Answer {i}." for i in range(5)]
    (body,) = endpoint.seen
    assert body["prompt"][0].startswith("<|im_start|>system\nYou are a helpful assistant. Your")
    assert (body["max_tokens"], body["temperature"], body["top_p"]) == (8, 0.0, 1.0)
    assert body["seed"] == group_seed(42, 0) and set(END_OF_TURN) <= set(body["stop"])


def test_vllm_backend_uses_the_documented_offline_api(docs, tiny_causal_lm, tmp_path, monkeypatch):
    """A stand-in `vllm` module records how the completer calls LLM, SamplingParams, generate."""
    from transformers import AutoTokenizer

    calls: dict = {"sampling": [], "generate": [], "shutdown": 0}

    class SamplingParams:
        def __init__(self, **kwargs):
            calls["sampling"].append(kwargs)

    class LLM:
        def __init__(self, **kwargs):
            calls["llm"] = kwargs
            core = types.SimpleNamespace(
                shutdown=lambda: calls.update(shutdown=calls["shutdown"] + 1)
            )
            self.llm_engine = types.SimpleNamespace(engine_core=core)

        def get_tokenizer(self):
            return AutoTokenizer.from_pretrained(tiny_causal_lm)

        def generate(self, prompts, sampling_params, use_tqdm=True):
            calls["generate"].append((len(prompts), use_tqdm))
            calls.setdefault("prompts", []).extend(prompts)
            out = types.SimpleNamespace(text=" vLLM answer ")
            return [types.SimpleNamespace(outputs=[out]) for _ in prompts]

    fake = types.ModuleType("vllm")
    fake.LLM, fake.SamplingParams = LLM, SamplingParams
    monkeypatch.setitem(sys.modules, "vllm", fake)
    settings = tiny(tiny_causal_lm, backend="vllm", engine_kwargs={"tensor_parallel_size": 2})
    table, _ = run(docs, tmp_path / "a.parquet", settings, tmp_path / "c", max_queries=4,
                   group_size=2)  # fmt: skip
    assert table.column("answer").to_pylist() == ["vLLM answer"] * 4
    assert calls["llm"] == {
        "model": str(tiny_causal_lm), "max_model_len": 520, "trust_remote_code": True,
        "seed": 42, "gpu_memory_utilization": 0.9, "tensor_parallel_size": 2,
    }  # fmt: skip
    per_group = [{"temperature": 1.0, "top_p": 0.9, "max_tokens": 8, "stop": END_OF_TURN}] * 2
    assert calls["sampling"][1:] == [
        s | {"seed": group_seed(42, start)} for s, start in zip(per_group, (0, 2), strict=True)
    ]
    assert calls["generate"] == [(2, False), (2, False)]
    assert calls["shutdown"] == 1  # the engine process is stopped when the shard is written
    # prompts go in as token ids of the rendered text (no second BOS from vLLM's tokenizer)
    tok = AutoTokenizer.from_pretrained(tiny_causal_lm)
    first = tok.decode(calls["prompts"][0]["prompt_token_ids"])
    assert first.startswith("<|im_start|>system\nYou are a helpful assistant. Your task")
    assert first.endswith("<|im_start|>assistant\n")


def test_engine_arguments_that_change_numbers_change_the_cache_key():
    plain = TeacherSettings(backend="vllm", model="m")
    parallel = TeacherSettings(backend="vllm", model="m", engine_kwargs={"tensor_parallel_size": 4})
    fp32 = TeacherSettings(backend="vllm", model="m", engine_kwargs={"dtype": "float32"})
    assert plain.fingerprint() == parallel.fingerprint() != fp32.fingerprint()
    assert fp32.generation()["dtype"] == "float32" and "dtype" not in plain.generation()


def test_engine_kwargs_flag_takes_a_json_object():
    import argparse

    from distilldata.rag.cli_flags import add_teacher_flags, teacher_options

    p = argparse.ArgumentParser()
    add_teacher_flags(p)
    args = p.parse_args(["--engine_kwargs", '{"tensor_parallel_size": 2}'])
    assert teacher_options(args)["engine_kwargs"] == {"tensor_parallel_size": 2}
    assert teacher_options(p.parse_args([]))["engine_kwargs"] == {}
    for bad in ("[2]", "{tensor_parallel_size: 2}"):
        with pytest.raises(SystemExit):
            p.parse_args(["--engine_kwargs", bad])


def test_backend_none_writes_no_answers_and_loads_nothing(docs, tmp_path):
    settings = TeacherSettings(backend="none", model="never/loaded", num_documents=3)
    table, stats = run(docs, tmp_path / "a.parquet", settings, tmp_path / "c", max_queries=4)
    assert table.column("answer").to_pylist() == [None] * 4
    assert table.column("documents_in_prompt").to_pylist() == [3] * 4
    assert not stats["model_loaded"] and not (tmp_path / "c").exists()


def test_8bit_needs_a_gpu_and_the_transformers_backend(tiny_causal_lm):
    with pytest.raises(InputError, match="--teacher_8bit is for the transformers backend"):
        Teacher(TeacherSettings(backend="vllm", load_in_8bit=True))
    settings = GenerationSettings(model=str(tiny_causal_lm), load_in_8bit=True, device="cpu")
    with pytest.raises(InputError, match="--teacher_8bit needs a CUDA GPU"):
        make_completer("transformers", settings).load()


def test_bad_settings_fail_before_any_work(docs, tmp_path):
    with pytest.raises(InputError, match="--decoding sample needs --temperature > 0"):
        run(docs, tmp_path / "a.parquet", TeacherSettings(temperature=0), tmp_path / "c")
    with pytest.raises(InputError, match="not a readable documents Parquet file"):
        run(tmp_path / "a.parquet", tmp_path / "b.parquet", TeacherSettings(), tmp_path / "c")


# ---- resume -------------------------------------------------------------------------------------


def answer_command(docs, out, model, cache) -> list[str]:
    return [
        sys.executable, str(REPO / "scripts/rag/answer.py"), "--documents", str(docs),
        "--output", str(out), "--shard", "0/1", "--teacher_model", str(model),
        "--prompt", "paper", "--temperature", "1.0", "--max_new_tokens", "8",
        "--max_prompt_tokens", "512", "--batch_size", "1", "--group_size", "2",
        "--max_queries", "16", "--cache_root", str(cache),
    ]  # fmt: skip


def test_a_killed_answer_job_redoes_at_most_one_group(docs, tiny_causal_lm, tmp_path):
    cache, out = tmp_path / "cache", tmp_path / "answers.parquet"
    cmd = answer_command(docs, out, tiny_causal_lm, cache)
    job = subprocess.Popen(
        cmd, env=offline_env(), stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.monotonic() + 120
    while not list(cache.rglob("*.json")) and job.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    os.killpg(job.pid, signal.SIGKILL)
    job.wait()
    done = len(list(cache.rglob("*.json")))
    assert 1 <= done < 8 and not out.exists()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=offline_env())
    assert proc.returncode == 0, proc.stderr
    resumed = pq.read_table(out)
    stats = answers_info(resumed.schema)
    assert stats["groups"] == 8 and stats["groups_cached"] == done
    assert stats["answers_computed"] == 16 - 2 * done
    settings = tiny(tiny_causal_lm, batch_size=1)
    clean, _ = run(docs, tmp_path / "clean.parquet", settings, tmp_path / "c2", group_size=2,
                   max_queries=16)  # fmt: skip
    assert resumed.column("answer").to_pylist() == clean.column("answer").to_pylist()

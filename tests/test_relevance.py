"""Span relevance: gold labels, the transformers backend, sharding, cache/resume, bad inputs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import DATA, REPO, offline_env
from distilldata.core.errors import InputError
from distilldata.core.sources import load_tables
from distilldata.core.store import save_splits
from distilldata.provence.relevance import (
    COLUMN,
    add_span_relevance,
    merge_relevance,
    run_shard,
    write_shard,
)
from distilldata.provence.relevance_backends import GoldBackend, LabelSettings, make_backend
from distilldata.text.answer_spans import gold_relevance

GOLD = LabelSettings(backend="gold")


def synthetic_rows(n: int, prefix: str = "syn:train") -> list[dict]:
    rows = []
    for i in range(n):
        positive = f"Paris is in France. The answer is {i}. Nothing else."
        negative = f"Bananas are yellow {i}. Cats sleep."
        rows.append(
            {
                "id": f"{prefix}:{i}",
                "query": f"What is the answer {i}?",
                "texts": [positive, negative, ""],
                "context_spans": [
                    [
                        [0, 19],
                        [20, 20 + len(f"The answer is {i}.")],
                        [21 + len(f"The answer is {i}."), len(positive)],
                    ],
                    [[0, 20 + len(str(i))], [21 + len(str(i)), len(negative)]],
                    [[0, 0]],
                ],
                "labels": [1, 0, 0],
                "answer_spans": [[34, 34 + len(str(i))]],
            }
        )
    return rows


def make_dataset(path: Path, splits: dict) -> Path:
    tables = {
        name: rows if isinstance(rows, pa.Table) else pa.Table.from_pylist(rows)
        for name, rows in splits.items()
    }
    save_splits(tables, path)
    return path


@pytest.fixture
def syn(tmp_path) -> Path:
    return make_dataset(
        tmp_path / "syn",
        {
            "train": synthetic_rows(22),
            "validation": synthetic_rows(5, "syn:validation"),
            "test": synthetic_rows(3, "syn:test"),
        },
    )


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory):
    from tiny_models import build_causal_lm

    return build_causal_lm(tmp_path_factory.mktemp("tiny_lm"))


@pytest.fixture(scope="module")
def squad_base(tmp_path_factory, nltk_data) -> Path:
    from distilldata.provence.convert import convert
    from distilldata.provence.triplets import write_qa_triplets

    root = tmp_path_factory.mktemp("squad")
    write_qa_triplets(DATA / "squad" / "dev-v2.0.json", root / "triplets")
    convert(str(root / "triplets"), root / "base", lang="en", slug="squad_en", sample_size=40)
    return root / "base" / "squad_en"


def rows_of(path: Path) -> dict[str, list[dict]]:
    return {name: t.to_pylist() for name, t in load_tables(str(path)).items()}


# ---- gold -------------------------------------------------------------------------------------


def test_gold_labels_on_the_squad_demo(squad_base, tmp_path):
    out = tmp_path / "squad_en_with_relevance"
    summary = add_span_relevance(squad_base, GOLD, output_path=out, cache_root=tmp_path / "c")
    assert summary["labeler"] == "gold"
    for split, rows in rows_of(out).items():
        assert rows, split
        for row in rows:
            flags = row[COLUMN]
            assert len(flags) == len(row["texts"])
            for spans, f in zip(row["context_spans"], flags, strict=True):
                # a text with no non-empty span (a missing negative) gets no prompt: []
                assert f == [] if all(e <= s for s, e in spans) else len(f) == len(spans)
            assert flags[0] == gold_relevance(row["context_spans"][0], row["answer_spans"])
            assert sum(flags[0]) >= 1  # every kept SQuAD question has its answer in texts[0]
            for a_start, a_end in row["answer_spans"]:
                hit = [
                    (s, e) for (s, e), f in zip(row["context_spans"][0], flags[0], strict=True) if f
                ]
                assert any(s < a_end and a_start < e for s, e in hit)
            assert all(sum(f) == 0 for f in flags[1:])


def test_gold_needs_answer_spans(syn, tmp_path):
    tables = load_tables(str(syn))
    no_gold = make_dataset(
        tmp_path / "nogold", {k: t.drop_columns(["answer_spans"]) for k, t in tables.items()}
    )
    with pytest.raises(InputError, match="answer_spans"):
        add_span_relevance(no_gold, GOLD, cache_root=tmp_path / "c")


# ---- transformers backend -------------------------------------------------------------------


def test_transformers_backend_end_to_end(syn, tiny_lm, tmp_path):
    settings = LabelSettings(
        backend="transformers", model=str(tiny_lm), temperature=0, max_tokens=8, max_model_len=512
    )
    out = tmp_path / "out"
    summary = add_span_relevance(
        syn, settings, output_path=out, cache_root=tmp_path / "c", debug_limit=4, batch_size=3
    )
    assert summary["run"]["prompts_computed"] == (4 + 4 + 3) * 2  # 2 non-empty texts per row
    assert summary["run"]["ladder_rungs"] == {0: 22}
    rows = rows_of(out)
    assert {k: len(v) for k, v in rows.items()} == {"train": 4, "validation": 4, "test": 3}
    for row in rows["train"]:
        assert [len(f) for f in row[COLUMN]] == [3, 2, 0]
        assert all(v in (0, 1) for f in row[COLUMN] for v in f)
    # same labels when asked directly, one prompt at a time (greedy decoding, no batch effects)
    backend = make_backend(settings)
    backend.settings.generate_batch_size = 1
    from distilldata.provence.relevance import label_rows

    direct = label_rows(backend, load_tables(str(syn))["train"].slice(0, 4).to_pylist(), 1)
    assert [direct[r["id"]] for r in rows["train"]] == [r[COLUMN] for r in rows["train"]]
    # a rerun is served from the cache: no model is loaded, nothing is computed
    again = add_span_relevance(
        syn, settings, output_path=out, overwrite=True, cache_root=tmp_path / "c", debug_limit=4
    )
    assert again["run"]["prompts_computed"] == 0 and not again["run"]["model_loaded"]
    # a tight context window walks the ladder down and still labels every text
    tight = LabelSettings(
        backend="transformers", model=str(tiny_lm), temperature=0, max_tokens=8, max_model_len=95
    )
    table, stats = run_shard(syn, tight, cache_root=tmp_path / "c2", debug_limit=2)
    assert max(stats["ladder_rungs"]) >= 1 and table.num_rows == 6


# ---- shards, cache, resume ------------------------------------------------------------------


class FailAfter:
    """A real backend that raises after `k` label() calls (a job killed mid-run)."""

    def __init__(self, backend, k: int | None = None):
        self.backend, self.k, self.calls = backend, k, 0
        self.name, self.needs_gold = backend.name, backend.needs_gold

    def label(self, items):
        if self.k is not None and self.calls >= self.k:
            raise RuntimeError("killed")
        self.calls += 1
        return self.backend.label(items)

    def stats(self):
        return {}

    def close(self):
        pass


def test_resume_recomputes_only_missing_groups(syn, tmp_path):
    options = dict(group_size=4, batch_size=4)  # one backend call per cache group
    groups = 6 + 2 + 1  # train 22 rows, validation 5, test 3
    reference = tmp_path / "reference"
    add_span_relevance(syn, GOLD, output_path=reference, cache_root=tmp_path / "c0", **options)

    cache = tmp_path / "cache"
    killed = FailAfter(GoldBackend(), k=4)
    with pytest.raises(RuntimeError, match="killed"):
        add_span_relevance(
            syn, GOLD, output_path=tmp_path / "x", cache_root=cache, backend=killed, **options
        )
    assert len(list(cache.rglob("*.json"))) == 4 and not list(cache.rglob("*.tmp"))

    rerun = FailAfter(GoldBackend())
    out = tmp_path / "resumed"
    summary = add_span_relevance(
        syn, GOLD, output_path=out, cache_root=cache, backend=rerun, **options
    )
    assert rerun.calls == groups - 4
    assert summary["run"]["groups_cached"] == 4
    assert rows_of(out) == rows_of(reference)


def test_sharded_run_and_merge_equal_the_one_shot_run(syn, tmp_path):
    one_shot = tmp_path / "one"
    add_span_relevance(syn, GOLD, output_path=one_shot, cache_root=tmp_path / "c1", group_size=4)
    paths = []
    for k in range(3):
        table, _ = run_shard(syn, GOLD, k, 3, cache_root=tmp_path / "c2", group_size=4)
        paths.append(write_shard(table, tmp_path / f"shard{k}.parquet"))
    merged = tmp_path / "merged"
    merge_relevance(syn, paths, merged)
    assert rows_of(merged) == rows_of(one_shot)
    assert json.loads((merged / "relevance.json").read_text())["splits"]["train"]["rows"] == 22
    with pytest.raises(InputError, match="rerun the missing shard"):
        merge_relevance(syn, paths[:2], tmp_path / "partial")


def test_corrupt_cache_file_is_recomputed(syn, tmp_path):
    cache = tmp_path / "c"
    add_span_relevance(syn, GOLD, output_path=tmp_path / "a", cache_root=cache, group_size=8)
    victim = sorted(cache.rglob("0-8.json"))[0]
    victim.write_text('{"not": "complete"}')
    counter = FailAfter(GoldBackend())
    add_span_relevance(
        syn, GOLD, output_path=tmp_path / "b", cache_root=cache, group_size=8, backend=counter
    )
    assert counter.calls == 1
    assert rows_of(tmp_path / "a") == rows_of(tmp_path / "b")


def test_force_reprocess_and_labeler_specific_cache(syn, tiny_lm, tmp_path):
    cache = tmp_path / "c"
    add_span_relevance(syn, GOLD, output_path=tmp_path / "a", cache_root=cache, group_size=8)
    counter = FailAfter(GoldBackend())
    add_span_relevance(
        syn, GOLD, output_path=tmp_path / "b", cache_root=cache, group_size=8, backend=counter,
        force=True,
    )  # fmt: skip
    assert counter.calls == 3 + 1 + 1  # every group again: train 22 rows, validation 5, test 3
    other = LabelSettings(backend="transformers", model=str(tiny_lm))
    assert other.fingerprint() != GOLD.fingerprint()
    assert (
        other.fingerprint()
        != LabelSettings(backend="transformers", model=str(tiny_lm), temperature=0).fingerprint()
    )


# ---- bad inputs -------------------------------------------------------------------------------


def bad_dataset(tmp_path, mutate) -> Path:
    rows = synthetic_rows(4)
    mutate(rows)
    return make_dataset(tmp_path / "bad", {"train": rows})


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda rows: rows[2].update(id=rows[0]["id"]), "duplicate id"),
        (lambda rows: rows[1]["context_spans"].pop(), r"row 1 .* 3 texts but 2 context_spans"),
        (lambda rows: [r.pop("query") for r in rows], r"missing column\(s\) \['query'\]"),
    ],
)
def test_bad_inputs_fail_clearly(tmp_path, mutate, message):
    path = bad_dataset(tmp_path, mutate)
    with pytest.raises(InputError, match=message):
        add_span_relevance(path, GOLD, cache_root=tmp_path / "c")


def test_script_exit_code_and_message(tmp_path):
    path = bad_dataset(tmp_path, lambda rows: rows[2].update(id=rows[0]["id"]))
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "provence/add_span_relevance.py"), "--dataset-path",
         str(path), "--backend", "gold", "--cache-root", str(tmp_path / "c")],
        capture_output=True, text=True, env=offline_env(),
    )  # fmt: skip
    assert proc.returncode == 2
    assert "duplicate id(s), e.g. ['syn:train:0']" in proc.stderr


# ---- openai-compatible endpoint ---------------------------------------------------------------


def test_openai_backend_against_a_local_endpoint(syn, tiny_lm, tmp_path, monkeypatch,
                                                 completions_endpoint):  # fmt: skip
    endpoint = completions_endpoint(lambda i: "[1], 2<|endoftext|>9")
    monkeypatch.setenv("TEST_KEY", "sekret")
    settings = LabelSettings(
        backend="openai",
        model=str(tiny_lm),
        base_url=endpoint.base_url,
        api_key_env="TEST_KEY",
        generate_batch_size=5,
    )
    table, stats = run_shard(syn, settings, cache_root=tmp_path / "c", debug_limit=3)
    flags = table.column(COLUMN).to_pylist()
    assert flags[0] == [[1, 1, 0], [1, 1], []]  # "9" came after the stop string
    # one backend call per split (one cache group each), at most 5 prompts per request
    assert stats["prompts"] == 18 and len(endpoint.seen) == 6
    assert endpoint.seen[0]["auth"] == "Bearer sekret"
    assert endpoint.seen[0]["prompt"][0].startswith("<|im_start|>user\nWhat is the answer")


def test_unknown_backend_and_missing_vllm(tmp_path):
    with pytest.raises(InputError, match="unknown relevance backend"):
        make_backend(LabelSettings(backend="nope"))
    if "vllm" not in sys.modules:
        try:
            import vllm  # noqa: F401
        except ImportError:
            backend = make_backend(LabelSettings(backend="vllm"))
            with pytest.raises(InputError, match="envs/vllm.yaml"):
                backend.builder()


def test_shard_file_schema(syn, tmp_path):
    table, _ = run_shard(syn, GOLD, 1, 2, cache_root=tmp_path / "c", group_size=4)
    path = write_shard(table, tmp_path / "s.parquet")
    back = pq.read_table(path)
    assert back.column_names == ["split", "row", "id", COLUMN]
    assert set(back.column("split").to_pylist()) <= {"train", "validation", "test"}


def test_cache_is_not_reused_for_changed_rows_under_the_same_ids(tmp_path):
    rows = synthetic_rows(10)
    first = make_dataset(tmp_path / "v1" / "syn", {"train": rows})
    cache = tmp_path / "c"
    add_span_relevance(first, GOLD, output_path=tmp_path / "a", cache_root=cache, group_size=4)
    rows[5]["answer_spans"] = [[0, 5]]  # same ids, other gold: group 4-8 must be redone
    second = make_dataset(tmp_path / "v2" / "syn", {"train": rows})
    counter = FailAfter(GoldBackend())
    add_span_relevance(
        second, GOLD, output_path=tmp_path / "b", cache_root=cache, group_size=4, backend=counter
    )
    assert counter.calls == 1
    assert rows_of(tmp_path / "b")["train"][5][COLUMN][0] == [1, 0, 0]


def test_vllm_backend_uses_the_documented_offline_api(syn, tiny_lm, tmp_path, monkeypatch):
    """A stand-in `vllm` module records how the backend calls LLM, SamplingParams, generate."""
    import types

    from transformers import AutoTokenizer

    calls = {}

    class SamplingParams:
        def __init__(self, **kwargs):
            calls["sampling"] = kwargs

    class LLM:
        def __init__(self, **kwargs):
            calls["llm"] = kwargs

        def get_tokenizer(self):
            return AutoTokenizer.from_pretrained(tiny_lm)

        def generate(self, prompts, sampling_params, use_tqdm=True):
            calls.setdefault("generate", []).append((len(prompts), use_tqdm))
            out = types.SimpleNamespace(text="[2]")
            return [types.SimpleNamespace(outputs=[out]) for _ in prompts]

    fake = types.ModuleType("vllm")
    fake.LLM, fake.SamplingParams = LLM, SamplingParams
    monkeypatch.setitem(sys.modules, "vllm", fake)
    settings = LabelSettings(
        backend="vllm", model=str(tiny_lm), engine_kwargs={"dtype": "bfloat16"}, seed=7
    )
    table, stats = run_shard(syn, settings, cache_root=tmp_path / "c", debug_limit=2)
    assert calls["llm"] == {
        "model": str(tiny_lm),
        "max_model_len": 1280,
        "trust_remote_code": True,
        "seed": 7,
        "dtype": "bfloat16",
        "gpu_memory_utilization": 0.9,
    }
    assert calls["sampling"] == {
        "temperature": 0.1,
        "top_p": 0.95,
        "max_tokens": 64,
        "stop": ["<|endoftext|>"],
    }
    assert calls["generate"] == [(4, False)] * 3  # one call per split group, no progress bars
    assert table.column(COLUMN).to_pylist()[0] == [[0, 1, 0], [0, 1], []]
    assert stats["prompts"] == 12


# ---- issue 12, item 4: chunks the prompt ladder hides are unknown (-1) --------------------------

from distilldata.llm.completion import Completer  # noqa: E402
from distilldata.provence.relevance_backends import PromptBackend, TextItem  # noqa: E402
from distilldata.provence.relevance_prompt import PromptBuilder, ladder_rung  # noqa: E402

SENTENCES = [f"Sentence {i} is about topic {i}." for i in range(12)]
LONG_TEXT = " ".join(SENTENCES)
LONG_SPANS = [[LONG_TEXT.index(s), LONG_TEXT.index(s) + len(s)] for s in SENTENCES]
QUERY = "Which sentence names the topic?"


class ScriptedCompleter(Completer):
    """The real prompt path (tiny LM tokenizer, chat template, ladder); the answer is scripted
    instead of generated (a stand-in for the model, not for our code)."""

    name = "scripted"

    def __init__(self, settings: LabelSettings, answer: str):
        super().__init__(settings)
        self.answer = answer

    def _load(self) -> None:
        from transformers import AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(self.settings.model)

    def complete(self, prompts):
        return [self.answer] * len(prompts)


def ScriptedBackend(settings: LabelSettings, answer: str) -> PromptBackend:  # noqa: N802
    return PromptBackend(settings, ScriptedCompleter(settings, answer))


def window_for_rung(tiny_lm, rung: int, max_tokens: int = 8) -> LabelSettings:
    """Settings whose context window fits rung `rung` of the long text and no earlier rung."""
    from transformers import AutoTokenizer

    probe = PromptBuilder(AutoTokenizer.from_pretrained(tiny_lm), 100_000, max_tokens)
    chunks = TextItem(QUERY, LONG_TEXT, LONG_SPANS).chunks
    needed = probe.count(probe.render(*ladder_rung(QUERY, chunks, rung)))
    return LabelSettings(
        backend="transformers", model=str(tiny_lm), max_tokens=max_tokens,
        max_model_len=needed + max_tokens + 10,
    )  # fmt: skip


@pytest.mark.parametrize(("rung", "shown"), [(0, 12), (1, 10), (3, 5), (4, 0)])
def test_chunks_the_ladder_cut_are_unknown_not_irrelevant(tiny_lm, rung, shown):
    backend = ScriptedBackend(window_for_rung(tiny_lm, rung), "1, 3, 7, 12")
    (flags,) = backend.label([TextItem(QUERY, LONG_TEXT, LONG_SPANS)])
    assert backend.stats()["ladder_rungs"] == {rung: 1}
    named = [int(i in (0, 2, 6, 11)) for i in range(12)]
    assert flags == [f if i < shown else -1 for i, f in enumerate(named)]


def test_unknown_spans_are_counted_per_split_and_per_shard(tiny_lm, tmp_path):
    short = "Paris is in France. Nothing else."
    rows = [
        {
            "id": f"u:{i}",
            "query": QUERY,
            "texts": [LONG_TEXT, short, ""],
            "context_spans": [LONG_SPANS, [[0, 19], [20, 33]], [[0, 0]]],
        }
        for i in range(3)
    ]
    path = make_dataset(tmp_path / "u", {"train": rows, "test": rows[:1]})
    settings = window_for_rung(tiny_lm, 1)  # the long text shows 10 of 12 chunks
    out = tmp_path / "u_with_relevance"
    summary = add_span_relevance(
        path, settings, output_path=out, cache_root=tmp_path / "c",
        backend=ScriptedBackend(settings, "2"),
    )  # fmt: skip
    flags = rows_of(out)["train"][0][COLUMN]
    assert flags == [[0, 1] + [0] * 8 + [-1, -1], [0, 1], []]
    train = summary["splits"]["train"]
    assert train["unknown_spans"] == 3 * 2 and summary["splits"]["test"]["unknown_spans"] == 2
    assert train["spans_relevant"] == 3 * 2  # -1 is not subtracted from the relevant count
    assert train["spans"] == 3 * (12 + 2)
    assert train["relevant_ratio"] == pytest.approx(6 / (3 * 12), abs=1e-4)  # known spans only
    assert summary["run"]["unknown_spans"] == 6 + 2
    saved = json.loads((out / "relevance.json").read_text())
    assert saved["splits"]["train"]["unknown_spans"] == 6
    # shard stats count unknowns too, cached groups included
    _, stats = run_shard(
        path, settings, 0, 1, cache_root=tmp_path / "c", backend=ScriptedBackend(settings, "2")
    )
    assert stats["groups_cached"] == 2 and stats["unknown_spans"] == 6 + 2


# ---- issue 12, item 10: check every shard's labeler before anything is saved --------------------


def _shard(syn, tmp_path, k, n, settings, backend=None, sidecar=True) -> Path:
    """A shard file as add_span_relevance.py --shard writes it (Parquet + .json)."""
    table, stats = run_shard(
        syn, settings, k, n, cache_root=tmp_path / "c" / str(k), group_size=4,
        backend=backend or GoldBackend(),
    )  # fmt: skip
    path = write_shard(table, tmp_path / f"shard{k}.parquet")
    if sidecar:
        from distilldata.core.store import write_json

        write_json(f"{path}.json", {"shard": f"{k}/{n}", "labeler": settings.fingerprint()})
    return path


def test_merge_refuses_mixed_labelers_before_saving(syn, tmp_path):
    other = LabelSettings(backend="transformers", model="someone/other-pruner")
    paths = [_shard(syn, tmp_path, 0, 2, GOLD), _shard(syn, tmp_path, 1, 2, other)]
    out = tmp_path / "merged"
    with pytest.raises(InputError) as err:
        merge_relevance(syn, paths, out)
    message = str(err.value)
    for needle in ("shard0.parquet", "shard1.parquet", "gold", other.fingerprint()):
        assert needle in message
    assert not out.exists() and not list(tmp_path.glob(".merged*"))


def test_merge_refuses_a_shard_of_unknown_labeler(syn, tmp_path):
    table, _ = run_shard(syn, GOLD, 0, 1, cache_root=tmp_path / "c", group_size=4)
    bare = tmp_path / "bare.parquet"
    pq.write_table(table.replace_schema_metadata(None), bare)  # no labeler anywhere
    with pytest.raises(InputError, match=r"bare\.parquet.*labeler"):
        merge_relevance(syn, [bare], tmp_path / "merged")
    assert not (tmp_path / "merged").exists()


def test_summary_failure_leaves_no_dataset(syn, tmp_path, monkeypatch):
    import distilldata.provence.relevance as relevance

    def broken(tables):
        raise RuntimeError("summary failed")

    monkeypatch.setattr(relevance, "relevance_summary", broken)
    paths = [_shard(syn, tmp_path, 0, 1, GOLD)]
    for run in (
        lambda out: merge_relevance(syn, paths, out),
        lambda out: add_span_relevance(syn, GOLD, output_path=out, cache_root=tmp_path / "c1"),
    ):
        out = tmp_path / "never"
        with pytest.raises(RuntimeError, match="summary failed"):
            run(out)
        assert not out.exists()


def test_relevance_json_is_inside_the_saved_dataset(syn, tmp_path, monkeypatch):
    from store_spy import spy_renames

    seen = spy_renames(monkeypatch)
    out = tmp_path / "out"
    add_span_relevance(syn, GOLD, output_path=out, cache_root=tmp_path / "c", group_size=8)
    assert (out / "relevance.json").exists()
    assert (out / "relevance.json").resolve() not in seen  # not renamed in after the dataset
    caches = sorted((tmp_path / "c").rglob("*.json"))
    assert caches and all(seen[p.resolve()] == "distilldata.core.store" for p in caches)
    shard = write_shard(run_shard(syn, GOLD, cache_root=tmp_path / "c")[0], tmp_path / "s.parquet")
    assert seen[shard.resolve()] == "distilldata.core.store"


def test_wrong_number_of_flags_from_a_backend_names_the_row(syn):
    from distilldata.provence.relevance import label_rows

    class Short(GoldBackend):
        def label(self, items):
            return [flags[:-1] for flags in super().label(items)]

    rows = load_tables(str(syn))["train"].slice(0, 2).to_pylist()
    with pytest.raises(ValueError, match=r"row 'syn:train:0', text 0: .*2 flags for 3 chunks"):
        label_rows(Short(), rows, 2)

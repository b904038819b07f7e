"""Normalization per dataset kind, bad rows, stats accounting; byte identity vs openai-harmony."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from distilldata.sft.chat_adapters import RowError, to_messages
from distilldata.sft.normalize import (
    DatasetSpec,
    build_conversation,
    iter_source_rows,
    math_v2_meta,
    normalize_row,
    normalize_shard,
)
from distilldata.text.harmony import SystemConfig, loss_spans, parse_harmony

DATA = Path(__file__).resolve().parents[1] / "data"
REAL = {
    "agentic": (DATA / "nemotron" / "agentic_v1_tool_calling_1row.jsonl", True),
    "typed": (DATA / "chat_tools" / "llamafactory" / "reason_tool_use_demo_50.jsonl", False),
    "sharegpt": (DATA / "chat_tools" / "llamafactory" / "glaive_toolcall_en_demo.json", False),
}
SYSTEM = SystemConfig(date="2025-06-28", reasoning_effort="high")


def math_row(**overrides) -> dict:
    """A synthetic row following the documented Nemotron-Math-v2 schema (tool-integrated)."""
    row = {
        "uuid": "0b5e6c1e-0000-4000-8000-000000000001",
        "problem": "Find 2^10 mod 7.",
        "expected_answer": "2",
        "changed_answer_to_majority": False,
        "data_source": "AoPS",
        "license": "cc-by-4.0",
        "used_in": ["nano_v3"],
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "stateful_python_code_exec",
                    "description": "Run Python.",
                    "parameters": {
                        "type": "object",
                        "properties": {"code": {"type": "string"}},
                        "required": ["code"],
                    },
                },
            }
        ],
        "messages": [
            {"role": "user", "content": "Solve ... put the answer in \\boxed{}. Find 2^10 mod 7."},
            {
                "role": "assistant",
                "reasoning_content": "Compute with python.",
                "content": "",
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {
                            "name": "stateful_python_code_exec",
                            "arguments": json.dumps({"code": "print(2**10 % 7)"}),
                        },
                    }
                ],
            },
            {"role": "tool", "content": "2", "tool_call_id": "c1"},
            {"role": "assistant", "reasoning_content": "It is 2.", "content": "\\boxed{2}"},
        ],
        "metadata": {
            "reason_high_with_tool": {"count": 8, "pass": 3, "accuracy": 0.375},
            "reason_high_no_tool": {"count": 8, "pass": 1, "accuracy": 0.125},
            "reason_medium_no_tool": {"count": 8, "pass": 6, "accuracy": 0.75},
        },
    }
    row.update(overrides)
    return row


def test_math_v2_correctness_policy_and_python_tool():
    spec = DatasetSpec("nvidia/Nemotron-Math-v2", kind="math_v2", effort_from_split=True)
    record, tools, _ = normalize_row(math_row(), spec, "high_part00")
    assert record["meta_correctness"] == 0.75
    assert record["meta_eval_best_setting"] == "reason_medium_no_tool"
    assert (record["meta_pass_k"], record["meta_correct_count"]) == (8, 6)
    assert record["meta_correctness_high"] == 0.375
    assert record["meta_correctness_same_setting"] == 0.375  # high split, row has tools
    assert record["meta_difficulty_bin"] == "high"
    assert json.loads(record["meta_eval_json"])["reason_high_no_tool"]["pass"] == 1
    assert record["meta_expected_answer"] == "2" and record["meta_domain"] == "math"
    text = record["text"]
    assert "Reasoning: high" in text and "## python" in text
    assert "namespace functions" not in text  # the built-in python tool is not a function
    assert (
        "<|start|>assistant to=python<|channel|>analysis<|message|>print(2**10 % 7)<|call|>" in text
    )
    assert "<|start|>python to=assistant<|channel|>analysis<|message|>2<|end|>" in text
    assert text.endswith("<|channel|>final<|message|>\\boxed{2}<|return|>")
    assert record["quality_valid_harmony"] and record["quality_valid_tool_schema"]
    assert record["id"] == record["source_uuid"] and tools


def test_math_v2_missing_metadata_and_uuid():
    row = math_row(metadata=None)
    del row["uuid"]
    spec = DatasetSpec("nvidia/Nemotron-Math-v2", kind="math_v2")
    record, _, notes = normalize_row(row, spec, "low")
    assert record.get("meta_correctness") is None and notes["missing_uuid"]
    assert record["id"].startswith("h:") and len(record["id"]) == 34
    assert normalize_row(row, spec, "low")[0]["id"] == record["id"]  # stable


def test_math_v2_meta_accuracy_from_pass_and_count():
    meta = math_v2_meta({"metadata": {"reason_low_no_tool": {"count": 4, "pass": 1}}}, "low", False)
    assert meta["meta_correctness"] == 0.25 and meta["meta_correctness_same_setting"] == 0.25


def test_uuid_as_problem_id_keeps_trajectories_apart():
    spec = DatasetSpec("nvidia/Nemotron-Math-v2", kind="math_v2", uuid_is_problem_id=True)
    a = normalize_row(math_row(), spec, "low")[0]
    other = math_row()
    other["messages"][-1]["content"] = "\\boxed{2} (checked)"
    b = normalize_row(other, spec, "low")[0]
    assert a["source_uuid"] == b["source_uuid"] and a["id"] != b["id"]
    assert a["id"].startswith(a["source_uuid"] + ":")


def test_proofs_prompt_from_problem_and_lean_header():
    row = {
        "problem": "Show that 1 + 1 = 2.",
        "formal_statement": "theorem t : 1 + 1 = 2 := by norm_num",
        "lean_header": "import Mathlib",
        "messages": [],
        "uuid": "p1",
        "source": "aops",
    }
    record = normalize_row(
        row, DatasetSpec("nvidia/Nemotron-Math-Proofs-v1", kind="math_proofs"), "lean"
    )[0]
    user = [m for m in parse_harmony(record["text"]) if m.author == "user"][0].content
    assert "Show that 1 + 1 = 2." in user and "import Mathlib" in user
    assert "theorem t" in record["text"] and record["meta_domain"] == "proof"


def test_if_chat_capability_and_reasoning_kept():
    row = {
        "uuid": "c1",
        "messages": [
            {"role": "system", "content": "Answer in JSON."},
            {"role": "user", "content": "Name a colour."},
            {"role": "assistant", "content": '{"colour": "red"}'},
        ],
        "capability_target": "structured_outputs",
        "reasoning": "off",
    }
    spec = DatasetSpec("nvidia/Nemotron-Instruction-Following-Chat-v1", kind="if_chat")
    record = normalize_row(row, spec, "chat_if")[0]
    assert record["meta_capability_target"] == "structured_outputs"
    assert record["meta_reasoning"] == "off" and record["meta_domain"] == "chat_if"
    assert "# Instructions\n\nAnswer in JSON." in record["text"]


def test_agentic_heterogeneous_content_is_stringified_deterministically():
    row = {
        "uuid": "a1",
        "messages": [
            {"role": "user", "content": {"b": 1, "a": [1, 2]}},
            {"role": "assistant", "content": "ok"},
        ],
    }
    spec = DatasetSpec("nvidia/Nemotron-Agentic-v1", kind="agentic", stringify_content=True)
    record, _, notes = normalize_row(row, spec, "tool_calling")
    assert (
        '<|message|>{"a": [1, 2], "b": 1}<|end|>' in record["text"] and notes["stringified_content"]
    )


def test_science_domain_and_tools_catalog_id():
    row = json.loads(REAL["agentic"][0].read_text().splitlines()[0])
    record, tools, _ = normalize_row(
        row,
        DatasetSpec("nvidia/Nemotron-Science-v1", kind="science", stringify_content=True),
        "MCQ",
    )
    assert record["meta_domain"] == "science"
    assert record["source_tools_count"] == 4 and len(record["source_tools_id"]) == 40


@pytest.mark.parametrize("name", sorted(REAL))
def test_real_rows_byte_identical_to_openai_harmony(name):
    pytest.importorskip("openai_harmony")
    from distilldata.testing.harmony_reference import reference_render

    path, stringify = REAL[name]
    spec = DatasetSpec("x", stringify_content=stringify, system=SYSTEM)
    n = 0
    for _, row, error, _ in iter_source_rows(path):
        assert error is None
        messages, tools, _ = to_messages(row, stringify)
        convo = build_conversation(messages, tools, spec, None).conversation
        assert convo.render() == reference_render(convo)
        n += 1
    assert n > 0


def test_synthetic_math_byte_identical_to_openai_harmony():
    pytest.importorskip("openai_harmony")
    from distilldata.testing.harmony_reference import reference_render

    spec = DatasetSpec("m", kind="math_v2", system=SYSTEM)
    messages, tools, _ = to_messages(math_row())
    convo = build_conversation(messages, tools, spec, "high").conversation
    assert convo.render() == reference_render(convo)
    assert normalize_row(math_row(), spec, "x")[0]["text"] == convo.render()


def test_loss_spans_of_a_normalized_row():
    record = normalize_row(math_row(), DatasetSpec("m", kind="math_v2"), "low")[0]
    text = record["text"]
    spans = loss_spans(parse_harmony(text), "assistant_all")
    assert [text[a:b] for a, b in spans] == [
        "Compute with python.",
        "print(2**10 % 7)",
        "It is 2.",
        "\\boxed{2}",
    ]


def write_bad_shard(path: Path) -> None:
    good = math_row()
    lines = [
        json.dumps(good).encode(),
        b'{"uuid": "broken", "messages": [',  # invalid JSON line
        json.dumps({"uuid": "nomsg", "problem": "x"}).encode(),  # missing messages
        json.dumps(
            {
                "uuid": "nonstr",
                "messages": [{"role": "user", "content": 3}, {"role": "assistant", "content": "x"}],
            }
        ).encode(),
        json.dumps({k: v for k, v in good.items() if k != "uuid"}).encode(),  # missing uuid
        json.dumps(
            {
                "uuid": "empty",
                "messages": [
                    {"role": "user", "content": "hi"},
                    {"role": "assistant", "content": ""},
                ],
            }
        ).encode(),
        b'{"uuid": "bad-utf8", "messages": [{"role": "user", "content": "\xff\xfe"}]}',
        json.dumps(
            {
                "uuid": "literal",
                "messages": [
                    {"role": "user", "content": "say <|end|>"},
                    {"role": "assistant", "content": "no"},
                ],
            }
        ).encode(),
        json.dumps(
            {
                "uuid": "badcall",
                "tools": [
                    {
                        "type": "function",
                        "function": {"name": "f", "parameters": {"type": "object"}},
                    }
                ],
                "messages": [
                    {"role": "user", "content": "call f"},
                    {
                        "role": "assistant",
                        "content": "",
                        "tool_calls": [
                            {
                                "type": "function",
                                "function": {"name": "f", "arguments": "{not json"},
                            }
                        ],
                    },
                ],
            }
        ).encode(),
        json.dumps(
            {
                "uuid": "bs",
                "messages": [
                    {"role": "user", "content": "q"},
                    {"role": "assistant", "content": "\x08oxed{3}"},
                ],
            }
        ).encode(),
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")


def test_bad_rows_are_counted_and_quarantined(tmp_path):
    source = tmp_path / "bad.jsonl"
    write_bad_shard(source)
    spec = DatasetSpec("nvidia/Nemotron-Math-v2", kind="math_v2", stringify_content=False)
    out = tmp_path / "out" / "low" / "part-00000.parquet"
    stats = normalize_shard(source, out, spec, "low")
    assert stats["rows_in"] == 10
    assert stats["quarantined"] == {
        "invalid_json": 1,
        "invalid_utf8": 1,
        "missing_messages": 1,
        "non_string_content": 1,
    }
    assert stats["dropped"] == {
        "empty_completion": 1,
        "invalid_harmony": 1,
        "malformed_tool_call": 1,
    }
    assert stats["notes"]["missing_uuid"] == 1
    assert stats["rows_in"] == stats["rows_out"] + sum(stats["dropped"].values()) + sum(
        stats["quarantined"].values()
    )
    saved = json.loads(out.with_suffix(".stats.json").read_text())
    assert saved["rows_out"] == stats["rows_out"] == 3
    quarantine = [
        json.loads(x) for x in out.with_suffix(".quarantine.jsonl").read_text().splitlines()
    ]
    assert {q["reason"] for q in quarantine} == set(stats["quarantined"])
    assert all(q["error"] and "source_row" in q for q in quarantine)
    table = pq.read_table(out).to_pylist()
    assert [r["source_row"] for r in table] == [0, 4, 9]
    backspace = table[-1]
    assert (
        backspace["quality_backspace_corruption"]
        and "backspace_corruption" in backspace["quality_tags"]
    )


def test_drop_reasons_are_configurable(tmp_path):
    source = tmp_path / "bad.jsonl"
    write_bad_shard(source)
    spec = DatasetSpec("m", kind="math_v2", drop=("backspace_corruption",))
    stats = normalize_shard(source, tmp_path / "o" / "part-00000.parquet", spec, "low")
    assert stats["dropped"] == {"backspace_corruption": 1}
    assert stats["rows_out"] == 6  # the non-string row is stringified (the default)


def test_max_records_and_empty_shard(tmp_path):
    source = tmp_path / "one.jsonl"
    source.write_text("")
    stats = normalize_shard(source, tmp_path / "e" / "part-00000.parquet", DatasetSpec("m"), "s")
    assert (
        stats["rows_in"] == 0 and pq.read_table(tmp_path / "e" / "part-00000.parquet").num_rows == 0
    )
    path, _ = REAL["typed"]
    stats = normalize_shard(
        path, tmp_path / "t" / "part-00000.parquet", DatasetSpec("t"), "train", max_records=7
    )
    assert stats["rows_in"] == 7


def test_parquet_input_shard(tmp_path):
    import pyarrow as pa

    rows = [math_row(uuid=f"u{i}") for i in range(3)]
    for r in rows:
        r["metadata"] = json.dumps(r["metadata"])  # Parquet copies may keep it as a string
    source = tmp_path / "low.parquet"
    pq.write_table(pa.Table.from_pylist(rows), source)
    out = tmp_path / "o" / "part-00000.parquet"
    stats = normalize_shard(source, out, DatasetSpec("m", kind="math_v2"), "low")
    assert stats["rows_out"] == 3
    assert pq.read_table(out).column("meta_correctness").to_pylist() == [0.75] * 3


def test_whole_dataset_hf_layout_and_readme(tmp_path):
    from distilldata.sft.normalize import normalize_dataset

    path, _ = REAL["typed"]
    files = {"train": [path, path]}
    stats = normalize_dataset(DatasetSpec("d"), files, tmp_path, hf_layout=True, readme=True)
    assert [s["rows_out"] for s in stats] == [50, 50]
    assert sorted(p.name for p in (tmp_path / "data").glob("*.parquet")) == [
        "train-00000-of-00002.parquet",
        "train-00001-of-00002.parquet",
    ]
    assert "path: data/train-*.parquet" in (tmp_path / "README.md").read_text()


def test_tools_catalog_per_dataset(tmp_path):
    from distilldata.sft.normalize import merge_tools_catalogs

    path, _ = REAL["typed"]
    parts = []
    for i in range(2):
        out = tmp_path / "train" / f"part-{i:05d}.parquet"
        normalize_shard(path, out, DatasetSpec("d"), "train")
        parts.append(out.with_suffix(".tools.jsonl"))
    catalog = merge_tools_catalogs(parts, tmp_path / "tools_catalog.json")
    ids = set(
        pq.read_table(tmp_path / "train" / "part-00000.parquet")
        .column("source_tools_id")
        .to_pylist()
    )
    assert set(catalog) == ids - {None}
    assert json.loads((tmp_path / "tools_catalog.json").read_text()) == catalog


# ---- issue 12 item 1: tool results are paired to their calls ----------------------------------

CONSTANT_TOOL = {
    "type": "function",
    "function": {
        "name": "get_constant",
        "description": "Look up a named constant.",
        "parameters": {
            "type": "object",
            "properties": {"name": {"type": "string"}},
            "required": ["name"],
        },
    },
}
PYTHON_RESULT = "<|start|>python to=assistant<|channel|>analysis<|message|>1024<|end|>"
FUNCTION_RESULT = (
    '<|start|>functions.get_constant to=assistant<|channel|>commentary<|message|>{"value": 7}'
    "<|end|>"
)


def two_call_row(results_order: str, result_fields: str = "named_python") -> dict:
    """A Math-v2-shaped row whose assistant turn calls the built-in python tool and a function
    tool at once (ids `call_py`, `call_fn`); the tool results follow in `results_order`."""
    row = math_row(tools=[math_row()["tools"][0], CONSTANT_TOOL])
    row["messages"][1]["tool_calls"] = [
        {
            "id": "call_py",
            "type": "function",
            "function": {
                "name": "stateful_python_code_exec",
                "arguments": json.dumps({"code": "print(2**10)"}),
            },
        },
        {
            "id": "call_fn",
            "type": "function",
            "function": {"name": "get_constant", "arguments": json.dumps({"name": "seven"})},
        },
    ]
    python = {"role": "tool", "content": "1024", "tool_call_id": "call_py"}
    function = {"role": "tool", "content": '{"value": 7}', "tool_call_id": "call_fn"}
    if result_fields == "named_python":
        python["name"] = "stateful_python_code_exec"
    elif result_fields == "names_only":
        python = {"role": "tool", "content": "1024", "name": "stateful_python_code_exec"}
        function = {"role": "tool", "content": '{"value": 7}', "name": "get_constant"}
    results = [python, function] if results_order == "python_first" else [function, python]
    row["messages"][2:3] = results
    return row


@pytest.mark.parametrize("order", ["python_first", "function_first"])
@pytest.mark.parametrize("fields", ["named_python", "names_only"])
def test_tool_results_paired_to_their_calls(order, fields):
    spec = DatasetSpec("nvidia/Nemotron-Math-v2", kind="math_v2")
    record = normalize_row(two_call_row(order, fields), spec, "high_part00")[0]
    text = record["text"]
    assert text.count(PYTHON_RESULT) == 1 and text.count(FUNCTION_RESULT) == 1
    first, second = sorted([PYTHON_RESULT, FUNCTION_RESULT], key=text.index)
    assert first == (PYTHON_RESULT if order == "python_first" else FUNCTION_RESULT)
    assert record["stats_unmatched_tool_results"] == 0
    assert not record["quality_unmatched_tool_result"]
    assert record["quality_valid_harmony"]


def test_unmatched_tool_result_is_flagged_not_guessed(tmp_path):
    row = two_call_row("python_first")
    stray = {"role": "tool", "content": "stray", "tool_call_id": "call_other"}
    row["messages"].insert(4, stray)  # after both results: no call left to pair it with
    spec = DatasetSpec("nvidia/Nemotron-Math-v2", kind="math_v2")
    record = normalize_row(row, spec, "low")[0]
    assert record["stats_unmatched_tool_results"] == 1
    assert record["quality_unmatched_tool_result"]
    assert (
        "<|start|>functions.unknown to=assistant<|channel|>commentary<|message|>stray"
        in (record["text"])
    )
    source = tmp_path / "low.jsonl"
    source.write_text(json.dumps(row) + "\n")
    stats = normalize_shard(source, tmp_path / "o" / "part-00000.parquet", spec, "low")
    assert stats["tags"]["unmatched_tool_result"] == 1 and stats["rows_out"] == 1


def test_unnamed_results_without_ids_pair_by_order():
    row = two_call_row("python_first")
    for m in row["messages"][2:4]:
        m.pop("name", None), m.pop("tool_call_id")
    record = normalize_row(row, DatasetSpec("m", kind="math_v2"), "low")[0]
    assert record["text"].index(PYTHON_RESULT) < record["text"].index(FUNCTION_RESULT)
    assert record["stats_unmatched_tool_results"] == 0


def test_real_tool_rows_have_no_unmatched_results(tmp_path):
    for name in ("typed", "sharegpt", "agentic"):
        path, _ = REAL[name]
        out = tmp_path / name / "part-00000.parquet"
        normalize_shard(path, out, DatasetSpec(name), "train")
        assert sum(pq.read_table(out).column("stats_unmatched_tool_results").to_pylist()) == 0


# ---- issue 12 item 9: the shard and its sidecars are written through the store -----------------


def test_normalized_shard_and_sidecars_written_through_the_store(tmp_path, monkeypatch):
    from store_spy import all_by_store, spy_renames

    seen = spy_renames(monkeypatch)
    out = tmp_path / "o" / "part-00000.parquet"
    normalize_shard(REAL["typed"][0], out, DatasetSpec("t"), "train")
    sidecars = [out.with_suffix(s) for s in (".stats.json", ".quarantine.jsonl", ".tools.jsonl")]
    assert all_by_store(seen, out, *sidecars)


def test_failed_shard_leaves_no_output_and_no_temp(tmp_path, monkeypatch):
    import distilldata.sft.normalize as nn

    real = nn.normalize_row
    calls = []

    def failing(row, spec, split):
        calls.append(1)
        if len(calls) > 3:
            raise RuntimeError("killed")
        return real(row, spec, split)

    monkeypatch.setattr(nn, "normalize_row", failing)
    with pytest.raises(RuntimeError):
        normalize_shard(
            REAL["typed"][0], tmp_path / "o" / "part-00000.parquet", DatasetSpec("t"), "x"
        )
    assert list((tmp_path / "o").iterdir()) == []


def test_readme_written_through_the_store(tmp_path, monkeypatch):
    from store_spy import all_by_store, spy_renames

    from distilldata.sft.normalize import write_readme

    seen = spy_renames(monkeypatch)
    path = write_readme(tmp_path, DatasetSpec("d"), ["train"], False)
    assert all_by_store(seen, path)


# ---- issue 12 item 10: broken row accounting is an error even under `python -O` --------------


def test_row_accounting_mismatch_is_a_runtime_error_naming_the_file(tmp_path, monkeypatch):
    from collections import Counter

    import distilldata.sft.normalize as nn

    class Forgetful(Counter):  # an injected bug: drops and quarantines are not summed
        def values(self):
            return []

    monkeypatch.setattr(nn, "Counter", Forgetful)
    source = tmp_path / "bad.jsonl"
    write_bad_shard(source)
    with pytest.raises(RuntimeError, match="bad.jsonl"):
        normalize_shard(source, tmp_path / "o" / "part-00000.parquet", DatasetSpec("m"), "low")


# ---- issue 12 item 19: non-string content is stringified by default, for every kind -----------


@pytest.mark.parametrize("kind", ["math_v2", "science", "agentic", "if_chat", "chat"])
def test_non_string_content_is_stringified_by_default(kind):
    row = two_call_row("python_first")
    row["messages"][0]["content"] = {"b": 1, "a": [1, 2]}  # agentic-style dict content
    row["messages"][3]["content"] = [{"value": 7}]  # a tool result that is a list
    record, _, notes = normalize_row(row, DatasetSpec("d", kind=kind), "s")
    assert '<|start|>user<|message|>{"a": [1, 2], "b": 1}<|end|>' in record["text"]
    assert '<|message|>[{"value": 7}]<|end|>' in record["text"]
    assert notes["stringified_content"]
    with pytest.raises(RowError) as err:
        normalize_row(row, DatasetSpec("d", kind=kind, stringify_content=False), "s")
    assert err.value.reason == "non_string_content"

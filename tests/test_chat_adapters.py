"""Row shapes -> canonical messages: OpenAI/Nemotron, typed content, ShareGPT."""

from __future__ import annotations

import json

import pytest

from distilldata.sft.chat_adapters import RowError, parse_tools, to_messages


def test_openai_tool_calls_with_string_and_dict_arguments():
    row = {
        "messages": [
            {"role": "user", "content": "hi"},
            {
                "role": "assistant",
                "content": None,
                "reasoning_content": "think",
                "tool_calls": [
                    {"type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}},
                    {"type": "function", "function": {"name": "g", "arguments": {"b": 2}}},
                ],
            },
            {"role": "tool", "content": "r1", "name": "f"},
        ]
    }
    messages, tools, stringified = to_messages(row)
    calls = messages[1]["tool_calls"]
    assert [c["name"] for c in calls] == ["f", "g"]
    assert calls[0]["arguments"] == '{"a": 1}' and json.loads(calls[1]["arguments"]) == {"b": 2}
    assert messages[1]["reasoning_content"] == "think" and messages[1]["content"] == ""
    assert tools == [] and stringified == 0


def test_typed_content_parallel_tool_results():
    results = [
        {"name": "f", "content": "1", "tool_call_id": "a"},
        {"name": "g", "content": {"x": 2}},
    ]
    row = {
        "messages": [
            {"role": "user", "content": [{"type": "text", "value": "go"}]},
            {
                "role": "assistant",
                "content": [
                    {"type": "reasoning", "value": "plan"},
                    {"type": "tool_call", "value": '{"name": "f", "arguments": {}}'},
                    {"type": "tool_call", "value": '{"name": "g", "arguments": {"q": 1}}'},
                ],
            },
            {"role": "tool", "content": [{"type": "text", "value": json.dumps(results)}]},
        ],
        "tools": json.dumps([{"name": "f", "description": "F", "parameters": {"type": "object"}}]),
    }
    messages, tools, _ = to_messages(row)
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "tool"]
    assert [m["name"] for m in messages[2:]] == ["f", "g"]
    assert messages[3]["content"] == '{"x": 2}'
    assert tools == [{"name": "f", "description": "F", "parameters": {"type": "object"}}]


def test_sharegpt_function_call_and_observation():
    row = {
        "conversations": [
            {"from": "human", "value": "weather?"},
            {"from": "function_call", "value": '{"name": "w", "arguments": {"city": "Oslo"}}'},
            {"from": "observation", "value": '{"t": 3}'},
            {"from": "gpt", "value": "3 degrees"},
        ],
        "tools": "[]",
    }
    messages, tools, _ = to_messages(row)
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "assistant"]
    assert messages[1]["tool_calls"][0] == {
        "name": "w",
        "arguments": '{"city": "Oslo"}',
        "id": None,
    }
    assert tools == []


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ({"problem": "x"}, "missing_messages"),
        ({"messages": "nope"}, "missing_messages"),
        ({"messages": [{"role": "wizard", "content": "x"}]}, "bad_role"),
        (
            {"messages": [{"role": "assistant", "tool_calls": [{"function": {}}]}]},
            "malformed_tool_call",
        ),
        ({"messages": [], "tools": "{bad"}, "malformed_tools"),
    ],
)
def test_unusable_rows_raise_with_a_reason(row, reason):
    with pytest.raises(RowError) as err:
        to_messages(row)
    assert err.value.reason == reason


# ---- issue 12 item 19: non-string content is stringified unless strict ------------------------


@pytest.mark.parametrize(
    "row",
    [
        {"messages": [{"role": "user", "content": 5}]},
        {"messages": [{"role": "tool", "content": {"b": 1, "a": [2]}}]},
        {"conversations": [{"from": "observation", "value": {"b": 1, "a": [2]}}]},
    ],
)
def test_non_string_content_stringified_by_default_quarantined_when_strict(row):
    messages, _, stringified = to_messages(row)
    assert stringified == 1 and messages[0]["content"] in ("5", '{"a": [2], "b": 1}')
    with pytest.raises(RowError) as err:
        to_messages(row, stringify=False)
    assert err.value.reason == "non_string_content"


def test_stringify_is_deterministic():
    row = {"messages": [{"role": "user", "content": {"b": [2, 1], "a": "é"}}]}
    messages, _, stringified = to_messages(row, stringify=True)
    assert messages[0]["content"] == '{"a": "é", "b": [2, 1]}' and stringified == 1


def test_parse_tools_openai_and_flat():
    flat = [{"name": "a", "parameters": None}]
    wrapped = [{"type": "function", "function": {"name": "b", "description": "d"}}]
    assert [t["name"] for t in parse_tools(flat + wrapped)] == ["a", "b"]
    assert parse_tools(None) == [] and parse_tools("") == []

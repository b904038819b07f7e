"""Chat rows of several shapes -> one canonical OpenAI-style message list.

Canonical message: {"role", "content": str, "reasoning_content": str | None,
"tool_calls": [{"name", "arguments": str}], "name": str | None}. Shapes:

- OpenAI / Nemotron: `messages[{role, content, reasoning_content?, tool_calls?}]` where a tool
  call is `{"type": "function", "function": {"name", "arguments"}}` and `arguments` is usually a
  JSON *string*; content may be a string, dict or list (stringified deterministically with
  `json.dumps(..., sort_keys=True)` by default, as the seed says for Nemotron-Agentic; a strict
  caller passes `stringify=False` to reject such rows instead).
- Typed content (LLaMA-Factory v1): `messages[{role, content: [{type: text|reasoning|tool_call,
  value}]}]`, `tools` a JSON string.
- ShareGPT: `conversations[{from: system|human|gpt|function_call|observation, value}]`.
"""

from __future__ import annotations

import json
from typing import Any

ROLES = ("system", "developer", "user", "assistant", "tool")
SHAREGPT_ROLES = {
    "system": "system",
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "function_call": "assistant",
    "observation": "tool",
    "tool": "tool",
}


class RowError(ValueError):
    """A row that cannot be turned into a conversation; `reason` is a short counter key."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def stable_json(value: Any) -> str:
    """The deterministic string form of a non-string value (sorted keys, UTF-8 kept)."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _text(value: Any, stringify: bool, where: str) -> tuple[str, bool]:
    """(text, was_stringified) for a content value."""
    if value is None:
        return "", False
    if isinstance(value, str):
        return value, False
    if not stringify:
        raise RowError("non_string_content", f"{where} is {type(value).__name__}, not a string")
    return stable_json(value), True


def _arguments(value: Any) -> str:
    if value is None:
        return "{}"
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _decoded(raw: Any, reason: str, what: str) -> Any:
    """`raw`, decoded first when it is a JSON string; a RowError(`reason`) when it is not JSON."""
    if not isinstance(raw, str):
        return raw
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise RowError(reason, f"{what} is not JSON: {exc}") from None


def _tool_call(raw: Any) -> dict:
    raw = _decoded(raw, "malformed_tool_call", "tool call")
    if not isinstance(raw, dict):
        raise RowError("malformed_tool_call", f"tool call is {type(raw).__name__}")
    fn = raw.get("function") if isinstance(raw.get("function"), dict) else raw
    name = fn.get("name")
    if not isinstance(name, str) or not name:
        raise RowError("malformed_tool_call", "tool call without a name")
    return {"name": name, "arguments": _arguments(fn.get("arguments")), "id": raw.get("id")}


def _message(role: str, **fields: Any) -> dict:
    msg = {"role": role, "content": "", "reasoning_content": None, "tool_calls": [], "name": None}
    msg.update(fields)
    return msg


def _is_typed(content: Any) -> bool:
    return (
        isinstance(content, list)
        and bool(content)
        and all(isinstance(p, dict) and "type" in p and "value" in p for p in content)
    )


def from_openai(messages: Any, stringify: bool) -> tuple[list[dict], int]:
    """OpenAI/Nemotron messages (typed-content parts too) -> canonical; + stringified count."""
    if not isinstance(messages, list):
        raise RowError("missing_messages", f"`messages` is {type(messages).__name__}, not a list")
    out, stringified = [], 0
    for i, raw in enumerate(messages):
        if not isinstance(raw, dict) or raw.get("role") not in ROLES:
            role = raw.get("role") if isinstance(raw, dict) else type(raw).__name__
            raise RowError("bad_role", f"messages[{i}] has role {role!r}")
        role, content = raw["role"], raw.get("content")
        if _is_typed(content):
            out.extend(_typed_message(role, content, i))
            continue
        text, was = _text(content, stringify, f"messages[{i}].content")
        stringified += was
        reasoning, was = _text(raw.get("reasoning_content"), stringify, f"messages[{i}].reasoning")
        stringified += was
        calls = raw.get("tool_calls") or []
        if not isinstance(calls, list):
            raise RowError("malformed_tool_call", f"messages[{i}].tool_calls is not a list")
        out.append(
            _message(
                role,
                content=text,
                reasoning_content=reasoning or None,
                tool_calls=[_tool_call(c) for c in calls],
                name=raw.get("name") or raw.get("tool_name"),
                tool_call_id=raw.get("tool_call_id"),
            )
        )
    return out, stringified


def _typed_message(role: str, parts: list[dict], index: int) -> list[dict]:
    texts, reasoning, calls = [], [], []
    for part in parts:
        value = part["value"] if isinstance(part["value"], str) else stable_json(part["value"])
        if part["type"] == "text":
            texts.append(value)
        elif part["type"] == "reasoning":
            reasoning.append(value)
        elif part["type"] == "tool_call":
            calls.append(_tool_call(value))
        else:
            raise RowError("bad_content_part", f"messages[{index}] has part type {part['type']!r}")
    text = "".join(texts)
    if role == "tool":
        return _tool_results(text)
    return [
        _message(
            role,
            content=text,
            reasoning_content="".join(reasoning) or None,
            tool_calls=calls,
        )
    ]


def _tool_results(text: str) -> list[dict]:
    """A tool turn; a JSON list of {name, content[, tool_call_id]} is several parallel results."""
    try:
        parsed = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        parsed = None
    if (
        isinstance(parsed, list)
        and parsed
        and all(isinstance(p, dict) and {"name", "content"} <= p.keys() for p in parsed)
    ):
        return [
            _message(
                "tool",
                content=p["content"]
                if isinstance(p["content"], str)
                else stable_json(p["content"]),
                name=p["name"],
                tool_call_id=p.get("tool_call_id"),
            )
            for p in parsed
        ]
    return [_message("tool", content=text)]


def from_sharegpt(turns: Any, stringify: bool = True) -> tuple[list[dict], int]:
    """ShareGPT turns -> canonical messages; + stringified count."""
    if not isinstance(turns, list):
        raise RowError("missing_messages", "`conversations` is not a list")
    out: list[dict] = []
    stringified = 0
    for i, turn in enumerate(turns):
        if not isinstance(turn, dict) or turn.get("from") not in SHAREGPT_ROLES:
            raise RowError("bad_role", f"conversations[{i}] has an unknown `from`")
        value, was = _text(turn.get("value"), stringify, f"conversations[{i}].value")
        stringified += was
        role = SHAREGPT_ROLES[turn["from"]]
        if turn["from"] == "function_call":
            call = _tool_call(value)
            # A call right after the assistant's own text belongs to that turn.
            if out and out[-1]["role"] == "assistant" and not out[-1]["tool_calls"]:
                out[-1]["tool_calls"].append(call)
            else:
                out.append(_message("assistant", tool_calls=[call]))
        elif role == "tool":
            out.extend(_tool_results(value))
        else:
            out.append(_message(role, content=value))
    return out, stringified


def parse_tools(raw: Any) -> list[dict]:
    """Function tools as [{name, description, parameters}] from a list or a JSON string."""
    if raw is None or raw == "" or raw == []:
        return []
    raw = _decoded(raw, "malformed_tools", "`tools`")
    if not isinstance(raw, list):
        raise RowError("malformed_tools", f"`tools` is {type(raw).__name__}, not a list")
    tools = []
    for t in raw:
        fn = t.get("function") if isinstance(t, dict) and "function" in t else t
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            raise RowError("malformed_tools", "a tool without a name")
        tools.append(
            {
                "name": fn["name"],
                "description": fn.get("description") or "",
                "parameters": fn.get("parameters"),
            }
        )
    return tools


def to_messages(row: dict, stringify: bool = True) -> tuple[list[dict], list[dict], int]:
    """(canonical messages, function tools, stringified count) from any supported row shape.
    Non-string content is stringified deterministically; `stringify=False` raises RowError
    (`non_string_content`) instead."""
    if "messages" in row and row["messages"] is not None:
        messages, stringified = from_openai(row["messages"], stringify)
    elif "conversations" in row:
        messages, stringified = from_sharegpt(row["conversations"], stringify)
    else:
        raise RowError("missing_messages", "row has neither `messages` nor `conversations`")
    return messages, parse_tools(row.get("tools")), stringified

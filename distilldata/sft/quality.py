"""Cheap CPU quality checks on one conversation and its Harmony text.

Every check returns a boolean column (`quality_*`); `drop_reasons` turns the configured hard-drop
checks into reasons, `soft_tags` the rest into tags. Nothing here reads files.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from distilldata.text.harmony import (
    SPECIAL_LITERAL_RE,
    HarmonyParseError,
    Message,
    parse_harmony,
    render_parsed,
)

# Hard-drop reasons the normalizer knows; the seed's §3C default is the first three.
DROP_REASONS = (
    "invalid_harmony",
    "empty_completion",
    "malformed_tool_call",
    "special_token_literal",
    "backspace_corruption",
    "final_truncated",
)
DEFAULT_DROP = ("invalid_harmony", "empty_completion", "malformed_tool_call")


@dataclass(frozen=True)
class QualityConfig:
    min_completion_chars: int = 1
    repeated_line_min_count: int = 20
    repeated_line_min_chars: int = 8
    too_short_chars: int = 16
    too_long_tokens: int = 32768
    chars_per_token: float = 4.0


def special_token_literal(contents: Sequence[str]) -> bool:
    """A `<|end|>`-like literal inside any content becomes a real special token once the stored
    text is re-tokenized with specials allowed."""
    return any(SPECIAL_LITERAL_RE.search(c) for c in contents)


def backspace_corruption(contents: Sequence[str]) -> bool:
    """U+0008 in content: JSON "\\boxed" read as backspace + "oxed" (and similar escapes)."""
    return any("\x08" in c for c in contents)


def repeated_lines(text: str, min_count: int, min_chars: int) -> bool:
    """Pathological repetition: one non-trivial line repeated at least `min_count` times."""
    counts = Counter(line.strip() for line in text.split("\n") if len(line.strip()) >= min_chars)
    return bool(counts) and max(counts.values()) >= min_count


def final_truncated(final: str) -> bool:
    """A final answer that stops mid-structure: unclosed `\\boxed{`, code fence or brace run."""
    if final.count("```") % 2:
        return True
    at = final.rfind("\\boxed{")
    if at >= 0:
        depth = 0
        for ch in final[at + len("\\boxed") :]:
            depth += (ch == "{") - (ch == "}")
            if depth == 0:
                break
        if depth:
            return True
    return False


def tool_call_ok(message: Message, declared: set[str] | None) -> bool:
    """A function call's payload is a JSON object and (when tools are declared) names one."""
    if message.recipient is None or not message.recipient.startswith("functions."):
        return True
    if declared is not None and message.recipient[len("functions.") :] not in declared:
        return False
    try:
        return isinstance(json.loads(message.content), dict)
    except (json.JSONDecodeError, RecursionError):
        return False


def harmony_ok(text: str, expected_messages: int) -> bool:
    """The text parses, has the rendered number of messages and renders back to itself."""
    try:
        parsed = parse_harmony(text)
    except HarmonyParseError:
        return False
    return len(parsed) == expected_messages and render_parsed(parsed) == text


def check(
    text: str,
    rendered: Sequence[Message],
    contents: Sequence[str],
    declared_tools: set[str] | None,
    malformed_calls: int,
    config: QualityConfig,
    unmatched_results: int = 0,
) -> dict:
    """All quality columns for one row. `contents` are the source strings (pre-render);
    `unmatched_results` counts tool results that paired with no tool call."""
    assistant = [m for m in rendered if m.author == "assistant"]
    completion = "".join(m.content for m in assistant)
    finals = [m.content for m in assistant if m.channel == "final"]
    final = finals[-1] if finals else ""
    approx_tokens = round(len(text) / config.chars_per_token)
    literal = special_token_literal(contents)
    flags = {
        "quality_valid_harmony": not literal and harmony_ok(text, len(rendered)),
        "quality_completion_nonempty": len(completion.strip()) >= config.min_completion_chars,
        "quality_valid_tool_schema": malformed_calls == 0
        and all(tool_call_ok(m, declared_tools) for m in assistant),
        "quality_has_final": bool(final.strip()),
        "quality_final_truncated": final_truncated(final),
        "quality_special_token_literal": literal,
        "quality_backspace_corruption": backspace_corruption(contents),
        "quality_unmatched_tool_result": unmatched_results > 0,
        "quality_repeated_lines": repeated_lines(
            completion, config.repeated_line_min_count, config.repeated_line_min_chars
        ),
        "quality_too_short": len(completion.strip()) < config.too_short_chars,
        "quality_too_long": approx_tokens > config.too_long_tokens,
    }
    stats = {
        "stats_char_len": len(text),
        "stats_approx_tokens": approx_tokens,
        "stats_completion_chars": len(completion),
        "stats_num_messages": len(rendered),
        "stats_unmatched_tool_results": unmatched_results,
    }
    return {**flags, **stats}


# Reason -> (column, value that triggers it).
_REASON_COLUMNS = {
    "invalid_harmony": ("quality_valid_harmony", False),
    "empty_completion": ("quality_completion_nonempty", False),
    "malformed_tool_call": ("quality_valid_tool_schema", False),
    "special_token_literal": ("quality_special_token_literal", True),
    "backspace_corruption": ("quality_backspace_corruption", True),
    "final_truncated": ("quality_final_truncated", True),
}
_SOFT_COLUMNS = {
    "repeated_lines": "quality_repeated_lines",
    "too_short": "quality_too_short",
    "too_long": "quality_too_long",
    "unmatched_tool_result": "quality_unmatched_tool_result",
    "no_final": None,
    **{reason: column for reason, (column, _) in _REASON_COLUMNS.items()},
}


# How bad each tag is when choosing which copy of a duplicate cluster survives (higher: worse).
SEVERITY = {
    "invalid_harmony": 8,
    "empty_completion": 8,
    "malformed_tool_call": 4,
    "special_token_literal": 4,
    "backspace_corruption": 4,
    "final_truncated": 4,
    "no_final": 4,
    "repeated_lines": 2,
    "unmatched_tool_result": 2,
    "too_long": 1,
    "too_short": 1,
}


def severity(tags: Sequence[str] | None) -> int:
    """The summed severity of a row's `quality_tags` (0: clean); fewer and milder tags rank
    first when a duplicate cluster picks its survivor. Unknown tags count 1."""
    return sum(SEVERITY.get(tag, 1) for tag in tags or ())


def drop_reasons(flags: dict, drop: Sequence[str]) -> list[str]:
    """The configured hard-drop reasons this row triggers (in DROP_REASONS order)."""
    return [
        r
        for r in DROP_REASONS
        if r in drop and flags[_REASON_COLUMNS[r][0]] == _REASON_COLUMNS[r][1]
    ]


def soft_tags(flags: dict) -> list[str]:
    """Labels kept on the row (`quality_tags`): every check that fired, dropped or not."""
    tags = []
    for tag, column in _SOFT_COLUMNS.items():
        if column is None:
            fired = not flags["quality_has_final"]
        elif tag in _REASON_COLUMNS:
            fired = flags[column] == _REASON_COLUMNS[tag][1]
        else:
            fired = flags[column]
        if fired:
            tags.append(tag)
    return tags

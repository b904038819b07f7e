"""Quality checks and the drop/tag split."""

from __future__ import annotations

from distilldata.sft.quality import (
    QualityConfig,
    backspace_corruption,
    check,
    drop_reasons,
    final_truncated,
    repeated_lines,
    soft_tags,
    special_token_literal,
    tool_call_ok,
)
from distilldata.text.harmony import Message, render_conversation


def test_special_token_literals_and_backspace():
    assert special_token_literal(["a <|end|> b"]) and special_token_literal(["<|reserved_200013|>"])
    assert not special_token_literal(["a <|notatoken|> b", "<end>"])
    assert backspace_corruption(["\x08oxed{2}"]) and not backspace_corruption(["\\boxed{2}"])


def test_repeated_lines_and_truncation():
    assert repeated_lines("\n".join(["same line here"] * 25), 20, 8)
    assert not repeated_lines("\n".join(f"line {i} is different" for i in range(50)), 20, 8)
    assert not repeated_lines("\n".join(["ok"] * 50), 20, 8)  # trivial lines do not count
    assert final_truncated("The answer is \\boxed{\\frac{1}{2}")
    assert final_truncated("```python\nprint(1)")
    assert not final_truncated("The answer is \\boxed{\\frac{1}{2}}.")


def test_tool_call_ok():
    call = Message("assistant", '{"a": 1}', "commentary", "functions.f", "<|constrain|>json")
    assert tool_call_ok(call, {"f"}) and tool_call_ok(call, None)
    assert not tool_call_ok(call, {"g"})
    assert not tool_call_ok(Message("assistant", "[1]", "commentary", "functions.f"), None)
    assert not tool_call_ok(Message("assistant", "{bad", "commentary", "functions.f"), None)


def test_check_and_drop_vs_tags():
    rendered = [Message("user", "q"), Message("assistant", "", "final")]
    text = render_conversation(rendered)
    flags = check(text, rendered, ["q", ""], None, 0, QualityConfig())
    assert flags["quality_valid_harmony"] and not flags["quality_completion_nonempty"]
    assert drop_reasons(flags, ["empty_completion"]) == ["empty_completion"]
    assert drop_reasons(flags, []) == []
    assert "no_final" in soft_tags(flags) and "empty_completion" in soft_tags(flags)
    assert flags["stats_char_len"] == len(text) and flags["stats_num_messages"] == 2

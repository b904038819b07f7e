"""Which characters and tokens are scored: both loss modes on a real Harmony row with tool calls,
the analysis channel and two user turns; headers; the prompt-free text; rows that cannot be
scored; and the vectorised token overlap against a plain loop."""

from __future__ import annotations

import numpy as np
import pytest
from nll_fixtures import MULTI_TURN_TOOL_ROW, record

from distilldata.core.errors import InputError
from distilldata.llm.token_masks import merge_spans, overlap_mask, target_mask
from distilldata.nll.masks import (
    FLAG_NO_COMPLETION,
    FLAG_NO_TEXT,
    FLAG_UNPARSEABLE,
    Unscorable,
    check_loss_mode,
    prompt_free_text,
    scored_text,
)
from distilldata.text.harmony import parse_harmony

USER = "<|start|>user<|message|>hi<|end|>"


@pytest.fixture(scope="module")
def row() -> str:
    return record(MULTI_TURN_TOOL_ROW)["text"]


def test_assistant_all_scores_every_assistant_body_and_nothing_else(row):
    messages = parse_harmony(row)
    spans = scored_text(row, "assistant_all").spans
    assistant = [m for m in messages if m.author == "assistant"]
    assert {m.channel for m in assistant} == {"analysis", "commentary", "final"}
    assert spans == [(m.start, m.end) for m in assistant]  # 8 bodies over two turns
    assert len(spans) == 8
    call = next(m for m in assistant if m.recipient == "functions.get_movie_details")
    assert row[call.start : call.end].startswith("{")  # the tool-call payload is scored
    scored = "".join(row[s:e] for s, e in spans)
    for m in messages:
        if m.author != "assistant" and m.content.strip():
            assert m.content not in scored  # system, developer, user and tool bodies are not
    assert "<|start|>" not in scored and "<|end|>" not in scored and "<|call|>" not in scored


def test_assistant_last_scores_the_last_final_body_only(row):
    finals = [m for m in parse_harmony(row) if m.channel == "final"]
    assert len(finals) == 2
    assert scored_text(row, "assistant_last").spans == [(finals[-1].start, finals[-1].end)]


def test_include_headers_adds_each_scored_message_header_and_terminator(row):
    spans = scored_text(row, "assistant_last", include_headers=True).spans
    (start, end) = spans[0]
    assert row[start:end].startswith("<|start|>assistant<|channel|>final<|message|>")
    assert row[start:end].endswith("<|return|>") and end == len(row)
    calls = scored_text(row, "assistant_all", include_headers=True).spans
    texts = [row[s:e] for s, e in calls]
    calls = [t for t in texts if t.startswith("<|start|>assistant to=functions.")]
    assert calls and all(t.endswith("<|call|>") for t in calls)


def test_prompt_free_text_is_the_scored_messages_alone(row):
    free = prompt_free_text(row, "assistant_all")
    messages = [m for m in parse_harmony(free.text)]
    assert all(m.author == "assistant" for m in messages) and len(messages) == 8
    original = [m for m in parse_harmony(row) if m.author == "assistant"]
    assert [m.content for m in messages] == [m.content for m in original]
    assert [free.text[s:e] for s, e in free.spans] == [m.content for m in original]
    last = prompt_free_text(row, "assistant_last")
    assert last.text.startswith("<|start|>assistant<|channel|>final<|message|>")
    assert last.text.count("<|start|>") == 1
    headers = prompt_free_text(row, "assistant_last", include_headers=True)
    assert headers.spans == [(0, len(headers.text))]


@pytest.mark.parametrize(
    "text, flag",
    [
        (None, FLAG_NO_TEXT),
        ("", FLAG_NO_TEXT),
        ("<|start|>user<|message|>hi there", FLAG_UNPARSEABLE),  # no terminator
        ("plain text, not Harmony", FLAG_UNPARSEABLE),
        (USER, FLAG_NO_COMPLETION),
        (f"{USER}<|start|>assistant<|channel|>final<|message|><|return|>", FLAG_NO_COMPLETION),
    ],
)
def test_rows_that_cannot_be_scored_are_flagged(text, flag):
    with pytest.raises(Unscorable) as caught:
        scored_text(text, "assistant_all")
    assert caught.value.flag == flag


def test_assistant_last_without_a_final_is_flagged():
    text = f"{USER}<|start|>assistant<|channel|>analysis<|message|>hm<|end|>"
    assert scored_text(text, "assistant_all").spans
    with pytest.raises(Unscorable, match=FLAG_NO_COMPLETION):
        scored_text(text, "assistant_last")


def test_unknown_loss_mode_is_a_clear_error():
    with pytest.raises(InputError, match="row 3: unknown loss_mode 'assistant_first'"):
        check_loss_mode("assistant_first", "pool.parquet: row 3")


def brute_force(offsets, spans):
    """The seed's per-token loop (keeping zero-width tokens out), for comparison."""
    out = []
    for start, end in offsets:
        out.append(end > start and any(end > s and start < e for s, e in spans if e > s))
    return np.array(out, dtype=bool)


def test_vectorised_overlap_equals_a_plain_loop_on_random_spans():
    rng = np.random.default_rng(0)
    for _ in range(200):
        cuts = np.sort(rng.integers(0, 300, size=rng.integers(2, 40)))
        offsets = np.stack([cuts[:-1], cuts[1:]], axis=1)
        bounds = np.sort(rng.integers(0, 300, size=2 * rng.integers(0, 6)))
        spans = [tuple(p) for p in bounds.reshape(-1, 2)]
        assert (overlap_mask(offsets, spans) == brute_force(offsets, spans)).all()


def test_merge_spans_and_target_mask_edges():
    assert merge_spans([(5, 9), (0, 2), (2, 4), (7, 12), (3, 3)]).tolist() == [[0, 4], [5, 12]]
    offsets = np.array([[0, 3], [3, 5], [5, 5], [5, 9]])
    assert overlap_mask(offsets, [(0, 4)]).tolist() == [True, True, False, False]
    assert target_mask(offsets, [(0, 4)]).tolist() == [False, True, False, False]
    assert target_mask(np.zeros((0, 2)), [(0, 4)]).tolist() == []


def test_scored_tokens_of_a_real_row_cover_exactly_the_assistant_bodies(row, tiny_causal_lm):
    from transformers import AutoTokenizer

    from distilldata.llm.token_masks import tokenize_with_offsets

    tokenizer = AutoTokenizer.from_pretrained(tiny_causal_lm)
    spans = scored_text(row, "assistant_all").spans
    (tok,) = tokenize_with_offsets(tokenizer, [row])
    mask = target_mask(tok.offsets, spans)
    covered = np.zeros(len(row), dtype=bool)
    for start, end in tok.offsets[mask]:
        covered[start:end] = True
    body = np.zeros(len(row), dtype=bool)
    for start, end in spans:
        body[start:end] = True
    assert (covered >= body).all()  # every body character is in a scored token
    # ... and scored tokens reach outside a body only where one token straddles its edge
    outside = covered & ~body
    assert outside.sum() <= 2 * len(spans) * max(e - s for s, e in tok.offsets.tolist())

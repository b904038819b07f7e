"""Prompt rendering, every rung of the truncation ladder, and index parsing (seed behaviour)."""

from __future__ import annotations

import pytest

from distilldata.core.errors import InputError
from distilldata.provence.relevance_prompt import (
    PromptBuilder,
    chunk_flags,
    chunks_of,
    ladder_rung,
    parse_indices,
    span_flags,
    token_budget,
    user_message,
)


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory):
    from tiny_models import build_causal_lm

    return build_causal_lm(tmp_path_factory.mktemp("tiny_lm"))


class CharTokenizer:
    """One token per character, and a plain-text chat template: makes rung limits exact."""

    def apply_chat_template(self, messages, tokenize=False, add_generation_prompt=True):
        assert not tokenize and add_generation_prompt
        return "".join(f"<{m['role']}>{m['content']}" for m in messages) + "<assistant>"

    def __call__(self, text, add_special_tokens=False):
        return {"input_ids": list(range(len(text)))}


def rendered_len(query, chunks):
    return len(CharTokenizer().apply_chat_template([{"role": "user", "content": ""}])) + len(
        user_message(query, chunks)
    )


def test_chunks_and_message():
    text = "  First one.  Second one. "
    spans = [[0, 13], [13, 13], [14, 26]]
    assert chunks_of(text, spans) == ["First one.", "Second one."]
    assert user_message("q?", ["a", "b"]) == "q?\n---\n[1] a\n[2] b"


def test_rendered_with_a_real_chat_template(tiny_lm):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_lm)
    prompt = PromptBuilder(tok, max_model_len=4096).build("Who?", ["Alpha.", "Beta."])
    assert prompt.rung == 0
    assert prompt.text == (
        "<|im_start|>user\nWho?\n---\n[1] Alpha.\n[2] Beta.<|im_end|>\n<|im_start|>assistant\n"
    )
    assert prompt.tokens == len(tok(prompt.text, add_special_tokens=False)["input_ids"])


def test_ladder_rungs_cut_as_the_seed_does():
    query = "q" * 300
    chunks = [f"{i}" * 250 for i in range(12)]
    q0, c0 = ladder_rung(query, chunks, 0)
    assert len(q0) == 256 and c0 == chunks
    q1, c1 = ladder_rung(query, chunks, 1)
    assert len(q1) == 100 and len(c1) == 10 and all(c == c[0] * 200 + "..." for c in c1)
    _, c2 = ladder_rung(query, chunks, 2)
    assert len(c2) == 10 and all(len(c) == 103 and c.endswith("...") for c in c2)
    _, c3 = ladder_rung(query, chunks, 3)
    assert len(c3) == 5 and all(len(c) == 53 for c in c3)
    assert ladder_rung(query, chunks, 4) == ("q" * 100, ["none"])
    # short chunks are not marked as cut
    assert ladder_rung("q", ["short"], 1) == ("q", ["short"])


@pytest.mark.parametrize("rung", [0, 1, 2, 3, 4])
def test_builder_stops_at_the_first_rung_that_fits(rung):
    query, chunks = "q" * 300, [f"{i % 10}" * 250 for i in range(12)]
    needed = rendered_len(*ladder_rung(query, chunks, rung))
    # a budget of exactly what this rung needs: earlier rungs are longer, so they fail
    builder = PromptBuilder(CharTokenizer(), max_model_len=needed + 64 + 10, max_tokens=64)
    assert builder.budget == token_budget(needed + 74, 64) == needed
    prompt = builder.build(query, chunks)
    assert prompt.rung == rung and prompt.tokens == needed


def test_builder_fails_clearly_when_nothing_fits():
    needed = rendered_len("q" * 100, ["none"])
    builder = PromptBuilder(CharTokenizer(), max_model_len=needed + 73, max_tokens=64)
    with pytest.raises(InputError, match="raise --max-model-len"):
        builder.build("q" * 300, ["x" * 500])
    with pytest.raises(InputError):
        PromptBuilder(CharTokenizer(), max_model_len=70, max_tokens=64)


@pytest.mark.parametrize(
    ("answer", "n", "expected"),
    [
        ("[2], 3 and 7", 8, [1, 2, 6]),
        ("none", 5, []),
        ("None of them.", 3, []),
        ("", 3, []),
        ("0, 4, 99", 3, []),  # 0 and out-of-range indices are ignored
        ("2, 2, [2] 1", 3, [0, 1]),  # duplicates collapse, result is sorted
        ("[10]", 10, [9]),
    ],
)
def test_parse_indices(answer, n, expected):
    assert parse_indices(answer, n) == expected


def test_flags_from_answer_and_spread_over_spans():
    assert chunk_flags("[2], 3 and 7", 4) == [0, 1, 1, 0]
    assert chunk_flags("none", 2) == [0, 0]
    spans = [[0, 5], [5, 5], [6, 9]]  # the empty span is not a chunk
    assert span_flags([0, 1], spans) == [0, 0, 1]
    with pytest.raises(ValueError):
        span_flags([1], spans)


# ---- issue 12, item 4: what each rung shows, and -1 for what it hides ---------------------------


@pytest.mark.parametrize(("rung", "shown"), [(0, 12), (1, 10), (2, 10), (3, 5), (4, 0)])
def test_prompt_records_how_many_chunks_it_shows(rung, shown):
    query, chunks = "q" * 300, [f"{i % 10}" * 250 for i in range(12)]
    needed = rendered_len(*ladder_rung(query, chunks, rung))
    prompt = PromptBuilder(CharTokenizer(), max_model_len=needed + 74, max_tokens=64).build(
        query, chunks
    )
    assert (prompt.rung, prompt.shown) == (rung, shown)
    assert PromptBuilder(CharTokenizer(), 100_000).build("q", ["a", "b"]).shown == 2


def test_flags_of_hidden_chunks_are_unknown():
    assert chunk_flags("[2], 3 and 12", 12, shown=10) == [0, 1, 1] + [0] * 7 + [-1, -1]
    assert chunk_flags("1", 3, shown=0) == [-1, -1, -1]  # rung 4: the model saw "none"
    assert chunk_flags("[2]", 3) == [0, 1, 0]  # everything shown
    spans = [[0, 5], [5, 5], [6, 9]]
    assert span_flags([1, -1], spans) == [1, 0, -1]  # an empty span is never unknown

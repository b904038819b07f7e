"""The teacher prompts as exact strings, their chat-template rendering and the token budget."""

from __future__ import annotations

import pytest
from transformers import AutoTokenizer

from distilldata.core.errors import InputError
from distilldata.rag.prompts import (
    PAPER_SYSTEM,
    Document,
    PromptBuilder,
    scaledown_text,
)

QUERY = "Where is Normandy?"
DOCS = [
    Document("Normandy", "Normandy is a region in France."),
    Document("Rollo", "Rollo was a Viking leader."),
]
LONG = Document("Normans", " ".join(f"w{i}" for i in range(250)))

SCALEDOWN = (
    "[INST] You are a helpful assistant. Answer the following question based on the provided "
    "documents.\n\nQuestion: Where is Normandy?\n\nDocuments:\nDocument 1: Normandy\nNormandy is "
    "a region in France.\n\nDocument 2: Rollo\nRollo was a Viking leader.\n\nProvide a concise "
    "and accurate answer based on the documents above. [/INST]"
)
PAPER_USER = (
    "Background:\nNormandy is a region in France.\nRollo was a Viking leader.\n"
    "Question: Where is Normandy?"
)
MISTRAL_LIKE = (  # Mistral-Instruct-v0.2's shape: user/assistant only, [INST] wrapping
    "{% for m in messages %}{% if m['role'] == 'system' %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
    "{% endif %}[INST] {{ m['content'] }} [/INST]{% endfor %}"
)


@pytest.fixture()
def tok(tiny_causal_lm):
    return AutoTokenizer.from_pretrained(tiny_causal_lm)


def test_scaledown_prompt_is_scaledowns_text(tok):
    assert scaledown_text(QUERY, DOCS) == SCALEDOWN
    tok.chat_template = None
    assert PromptBuilder(tok, "scaledown").build(QUERY, DOCS).text == SCALEDOWN


def test_scaledown_prompt_keeps_the_first_200_words_of_a_document(tok):
    tok.chat_template = None
    text = PromptBuilder(tok, "scaledown").build(QUERY, [LONG]).text
    assert "w199\n\nProvide a concise" in text and "w200" not in text


def test_scaledown_prompt_through_a_chat_template(tok):
    prompt = PromptBuilder(tok, "scaledown").build(QUERY, DOCS)
    inner = SCALEDOWN.removeprefix("[INST] ").removesuffix(" [/INST]")
    assert prompt.text == f"<|im_start|>user\n{inner}<|im_end|>\n<|im_start|>assistant\n"
    assert prompt.documents == 2 and not prompt.cut
    assert prompt.tokens == len(tok(prompt.text, add_special_tokens=False)["input_ids"])
    tok.chat_template = MISTRAL_LIKE  # Mistral's own template gives ScaleDown's text back
    assert PromptBuilder(tok, "scaledown").build(QUERY, DOCS).text == SCALEDOWN


def test_paper_prompt(tok):
    assert PAPER_SYSTEM == (
        "You are a helpful assistant. Your task is to extract relevant information from "
        "provided documents and to answer questions as briefly as possible."
    )
    text = PromptBuilder(tok, "paper").build(QUERY, DOCS).text
    assert text == (
        f"<|im_start|>system\n{PAPER_SYSTEM}<|im_end|>\n<|im_start|>user\n{PAPER_USER}"
        "<|im_end|>\n<|im_start|>assistant\n"
    )
    tok.chat_template = None
    assert PromptBuilder(tok, "paper").build(QUERY, DOCS).text == f"{PAPER_SYSTEM}\n\n{PAPER_USER}"


def test_paper_prompt_folds_the_system_text_where_the_template_has_no_system_turn(tok):
    tok.chat_template = MISTRAL_LIKE
    builder = PromptBuilder(tok, "paper")
    assert builder.build(QUERY, DOCS).text == f"[INST] {PAPER_SYSTEM}\n\n{PAPER_USER} [/INST]"
    assert builder.fold and "roles must alternate" in builder.fold_reason


def test_raw_prompt_carries_the_bos_token_scaledowns_tokenizer_call_adds(tok):
    from tokenizers.processors import TemplateProcessing

    bos = "<|im_start|>"
    tok.chat_template = None
    tok.bos_token = bos
    tok._tokenizer.post_processor = TemplateProcessing(
        single=f"{bos} $A", special_tokens=[(bos, tok.convert_tokens_to_ids(bos))]
    )
    prompt = PromptBuilder(tok, "scaledown").build(QUERY, DOCS)
    assert prompt.text == bos + SCALEDOWN
    # the completers tokenize without special tokens; ScaleDown calls tokenizer(prompt)
    assert tok(prompt.text, add_special_tokens=False)["input_ids"] == tok(SCALEDOWN)["input_ids"]


def test_num_documents_caps_the_documents(tok):
    prompt = PromptBuilder(tok, "paper", num_documents=1).build(QUERY, DOCS)
    assert prompt.documents == 1 and "Rollo" not in prompt.text


@pytest.mark.parametrize("kind", ["scaledown", "paper"])
def test_budget_drops_then_cuts_the_last_documents_and_keeps_the_instruction(tok, kind):
    docs = [*DOCS, LONG, Document("Extra", "Never shown.")]
    full = PromptBuilder(tok, kind).build(QUERY, docs)
    budget = full.tokens - 60
    prompt = PromptBuilder(tok, kind, max_prompt_tokens=budget).build(QUERY, docs)
    assert prompt.tokens <= budget and prompt.cut
    assert prompt.tokens == len(tok(prompt.text, add_special_tokens=False)["input_ids"])
    assert prompt.documents == 3  # Extra dropped, the long one cut
    assert "Never shown" not in prompt.text and "w0 w1" in prompt.text
    assert prompt.text.endswith("<|im_end|>\n<|im_start|>assistant\n")
    assert QUERY in prompt.text
    if kind == "scaledown":
        assert "documents above.<|im_end|>" in prompt.text
    # a budget that fits the whole prompt changes nothing
    same = PromptBuilder(tok, kind, max_prompt_tokens=full.tokens).build(QUERY, docs)
    assert same == full


def test_budget_drops_a_document_that_cannot_keep_a_word(tok):
    two = PromptBuilder(tok, "paper").build(QUERY, DOCS[:1])
    prompt = PromptBuilder(tok, "paper", max_prompt_tokens=two.tokens + 1).build(QUERY, DOCS)
    assert prompt.documents == 1 and prompt.text == two.text


def test_budget_cuts_the_query_last_and_fails_below_the_fixed_text(tok):
    empty = PromptBuilder(tok, "paper").build("", [])
    query = "why " * 40
    prompt = PromptBuilder(tok, "paper", max_prompt_tokens=empty.tokens + 10).build(query, DOCS)
    assert prompt.documents == 0 and prompt.tokens <= empty.tokens + 10 and "why" in prompt.text
    with pytest.raises(InputError, match="max_prompt_tokens 5 is shorter than the paper prompt"):
        PromptBuilder(tok, "paper", max_prompt_tokens=5).build(QUERY, DOCS)


def test_unknown_prompt_kind(tok):
    with pytest.raises(InputError, match="--prompt 'fig14'"):
        PromptBuilder(tok, "fig14")

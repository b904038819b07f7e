"""The generic completion layer: stop strings, backend choice."""

from __future__ import annotations

import pytest

from distilldata.core.errors import InputError
from distilldata.llm.completion import (
    GenerationSettings,
    TransformersCompleter,
    cut_at_stop,
    make_completer,
)


def test_cut_at_stop():
    assert cut_at_stop("1, 2<|endoftext|>3", ["<|endoftext|>"]) == "1, 2"
    assert cut_at_stop("1\n2", ["\n", "x"]) == "1"
    assert cut_at_stop("1, 2", []) == "1, 2"


def test_backends_are_chosen_by_name_and_load_nothing_up_front():
    completer = make_completer("transformers", GenerationSettings(model="nowhere/never"))
    assert isinstance(completer, TransformersCompleter) and not completer.loaded
    with pytest.raises(InputError, match="unknown LLM backend 'gpt'"):
        make_completer("gpt", GenerationSettings())

"""A GGUF checkpoint converted into a plain model folder loads fast and computes the same."""

from __future__ import annotations

import pytest

from conftest import SMOLLM2_GGUF
from distilldata.core.errors import InputError
from distilldata.core.models import resolve_model
from distilldata.llm.gguf import convert_gguf


def test_converted_smollm2_gives_the_gguf_model_s_logits(smollm2):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = resolve_model(SMOLLM2_GGUF)
    folder, name = gguf.rsplit("/", 1)
    reference = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    plain = AutoModelForCausalLM.from_pretrained(smollm2, dtype=torch.float32)
    tok = AutoTokenizer.from_pretrained(smollm2)
    assert tok.is_fast and "<|im_start|>" in tok.chat_template
    enc = tok("In what country is Normandy located?", return_tensors="pt")
    with torch.inference_mode():
        expected = reference(**enc).logits
        got = plain(**enc).logits
    assert torch.equal(expected, got)
    assert sum(p.numel() for p in plain.parameters()) == 134_515_008
    assert not (smollm2.parent / f".{smollm2.name}.tmp").exists()


def test_not_a_gguf_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="not a .gguf file"):
        convert_gguf("package:cognition/model", tmp_path / "out")
    with pytest.raises(InputError, match="dtype"):
        convert_gguf(SMOLLM2_GGUF, tmp_path / "out", dtype="int3")
    assert not (tmp_path / "out").exists()

"""The tiny causal LM is byte-for-byte reproducible across processes (the SLURM lane compares the
artifacts it produces), has a fast tokenizer with offsets and a chat template."""

from __future__ import annotations

import subprocess
import sys

from conftest import REPO, offline_env


def test_two_processes_build_the_same_files(tmp_path):
    for name in ("a", "b"):
        subprocess.run(
            [sys.executable, str(REPO / "scripts/models/build_tiny_causal_lm.py"),
             "--output", str(tmp_path / name / "config.json")],
            check=True, env=offline_env(), capture_output=True,
        )  # fmt: skip
    for name in ("tokenizer.json", "model.safetensors", "config.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_tokenizer_has_offsets_and_a_chat_template(tiny_causal_lm):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_causal_lm)
    enc = tok("東京は日本の首都です。", return_offsets_mapping=True, add_special_tokens=False)
    assert enc["offset_mapping"][-1][1] == len("東京は日本の首都です。")
    prompt = tok.apply_chat_template(
        [{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True
    )
    assert prompt == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"

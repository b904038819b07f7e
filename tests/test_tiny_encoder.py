"""The tiny encoder is byte-for-byte reproducible (the SLURM lane compares artifacts)."""

from __future__ import annotations

from distilldata.testing.tiny_encoder import build_tiny_encoder


def test_same_arguments_same_files(tmp_path):
    a = build_tiny_encoder(tmp_path / "a", texts=["東京は日本の首都です。", "Paris is big."])
    b = build_tiny_encoder(tmp_path / "b", texts=["東京は日本の首都です。", "Paris is big."])
    for name in ("tokenizer.json", "model.safetensors", "config.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_every_word_is_spelt_without_unk(tmp_path):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(build_tiny_encoder(tmp_path / "enc"))
    ids = tok("Which team won?", "東京は日本の首都です。")["input_ids"]
    assert tok.unk_token_id not in ids

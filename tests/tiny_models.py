"""Tiny models built offline in a few hundred milliseconds, for tests, benches and smoke runs.

- `build_causal_lm`: the library's tiny causal LM (`distilldata.testing.tiny_causal_lm`): a
  byte-level BPE tokenizer with a ChatML chat template and a randomly initialised Qwen2.
- `build_cross_encoder`: a WordPiece tokenizer and a 2-layer `BertForSequenceClassification`
  with one label, loadable as a sentence-transformers `CrossEncoder`.
"""

from __future__ import annotations

from pathlib import Path

from distilldata.testing.tiny_causal_lm import CORPUS
from distilldata.testing.tiny_causal_lm import build_tiny_causal_lm as build_causal_lm

__all__ = ["CORPUS", "build_causal_lm", "build_cross_encoder"]


def build_cross_encoder(path: str | Path, seed: int = 0, initializer_range: float = 0.5) -> Path:
    """The library's tiny BERT cross-encoder, with a wide init so random scores spread."""
    from distilldata.testing.tiny_encoder import build_tiny_encoder

    return build_tiny_encoder(
        path, texts=CORPUS, vocab_size=300, seed=seed, initializer_range=initializer_range
    )

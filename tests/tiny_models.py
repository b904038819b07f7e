"""Tiny models built offline in a few hundred milliseconds, for tests, benches and smoke runs.

- `build_causal_lm`: a byte-level BPE tokenizer trained here, with a ChatML chat template and
  `<|endoftext|>` as EOS, plus a randomly initialised Qwen2 causal LM (the pruner's family).
- `build_cross_encoder`: a WordPiece tokenizer and a 2-layer `BertForSequenceClassification`
  with one label, loadable as a sentence-transformers `CrossEncoder`.
"""

from __future__ import annotations

from pathlib import Path

CHATML = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{{ message['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

CORPUS = [
    "Where was Shirley planning an expedition? Following the death of Braddock, William Shirley",
    "assumed command of British forces. [1] [2] [3] 1, 2 and 3 none relevant chunks",
    "The quick brown fox jumps over the lazy dog. 0 1 2 3 4 5 6 7 8 9 10 11 12",
    "Normans were the people who in the 10th and 11th centuries gave their name to Normandy.",
    "日本語の文も少し入れておきます。東京は日本の首都です。",
]


def build_causal_lm(
    path: str | Path,
    hidden_size: int = 32,
    heads: int = 4,
    kv_heads: int = 2,
    layers: int = 2,
    head_dim: int | None = None,
    seed: int = 0,
) -> Path:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    path = Path(path)
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(CORPUS * 5, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|endoftext|>", pad_token="<|endoftext|>"
    )
    fast.chat_template = CHATML
    fast.save_pretrained(path)
    config = Qwen2Config(
        vocab_size=len(fast),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        head_dim=head_dim or hidden_size // heads,
        max_position_embeddings=2048,
        eos_token_id=fast.eos_token_id,
        bos_token_id=fast.eos_token_id,
        pad_token_id=fast.pad_token_id,
        tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    Qwen2ForCausalLM(config).save_pretrained(path)
    return path


def build_cross_encoder(path: str | Path, seed: int = 0, initializer_range: float = 0.5) -> Path:
    """The library's tiny BERT cross-encoder, with a wide init so random scores spread."""
    from distilldata.testing.tiny_encoder import build_tiny_encoder

    return build_tiny_encoder(
        path, texts=CORPUS, vocab_size=300, seed=seed, initializer_range=initializer_range
    )

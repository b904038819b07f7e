"""A tiny causal LM built offline in well under a second: a byte-level BPE tokenizer trained
here (ChatML chat template, `<|endoftext|>` as EOS and pad) and a randomly initialised Qwen2.

For CI and smoke runs of the LLM stages (teacher answers, NLL scoring, relevance labels): it
has a fast tokenizer with character offsets and loads with `AutoModelForCausalLM`, like a real
instruct model. Deterministic: the same arguments give byte-identical files (checked across
processes by `tests/test_tiny_causal_lm.py`), so runs on two machines compare by value.
"""

from __future__ import annotations

from pathlib import Path

from distilldata.core.store import atomic_path

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


def build_tiny_causal_lm(
    path: str | Path,
    hidden_size: int = 32,
    heads: int = 4,
    kv_heads: int = 2,
    layers: int = 2,
    head_dim: int | None = None,
    seed: int = 0,
) -> Path:
    """Save the tokenizer and a random Qwen2 (`layers` x `hidden_size`) at `path`, atomically."""
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
    model = Qwen2ForCausalLM(config)
    with atomic_path(path) as tmp:
        fast.save_pretrained(tmp)
        model.save_pretrained(tmp)
    return path

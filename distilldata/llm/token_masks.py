"""Character spans -> token masks, for scoring only some tokens of a text under a causal LM.

A fast tokenizer gives every token its character span `[start, end)` (`return_offsets_mapping`);
a token is *scored* when that span overlaps one of the text's scored character spans. The test
is vectorised (one `searchsorted` over the sorted spans), never a loop over tokens x spans.
No format of any pipeline lives here: callers decide which character spans count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from distilldata.core.errors import InputError


@dataclass(frozen=True)
class TokenizedText:
    """A text's token ids and each token's character span (int64 arrays, `offsets` is (n, 2))."""

    ids: np.ndarray
    offsets: np.ndarray


def merge_spans(spans: Sequence[Sequence[int]]) -> np.ndarray:
    """Sorted, disjoint, non-empty spans as an (m, 2) int64 array (touching spans merge)."""
    kept = sorted((int(s), int(e)) for s, e in spans if int(e) > int(s))
    merged: list[list[int]] = []
    for start, end in kept:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return np.asarray(merged, dtype=np.int64).reshape(-1, 2)


def overlap_mask(offsets: np.ndarray, spans: Sequence[Sequence[int]]) -> np.ndarray:
    """True for each token whose character span overlaps a scored span.

    With the spans sorted and disjoint, the only candidate for a token is the last span that
    starts before the token ends (it also ends last among those): the token overlaps it iff
    that span ends after the token starts. Zero-width tokens overlap nothing.
    """
    offsets = np.asarray(offsets, dtype=np.int64).reshape(-1, 2)
    merged = merge_spans(spans)
    if len(merged) == 0 or len(offsets) == 0:
        return np.zeros(len(offsets), dtype=bool)
    token_start, token_end = offsets[:, 0], offsets[:, 1]
    candidate = np.searchsorted(merged[:, 0], token_end, side="left") - 1
    has_candidate = candidate >= 0
    ends = merged[np.maximum(candidate, 0), 1]
    return has_candidate & (ends > token_start) & (token_end > token_start)


def target_mask(offsets: np.ndarray, spans: Sequence[Sequence[int]]) -> np.ndarray:
    """The tokens scored as next-token targets: overlapping a span, and not the first token
    (nothing predicts it; the label of token t is predicted from position t - 1)."""
    mask = overlap_mask(offsets, spans)
    if len(mask):
        mask[0] = False
    return mask


def tokenize_with_offsets(tokenizer, texts: Sequence[str]) -> list[TokenizedText]:
    """Token ids and character offsets of each text, without special tokens (the texts carry
    their own markup). Needs a fast tokenizer (offsets come from the Rust tokenizer)."""
    if not getattr(tokenizer, "is_fast", False):
        raise InputError(
            f"tokenizer {getattr(tokenizer, 'name_or_path', '?')!r} is not a fast tokenizer: "
            "scoring needs character offsets (return_offsets_mapping); use a model folder with "
            "a tokenizer.json"
        )
    if not texts:
        return []
    encoded = tokenizer(
        list(texts),
        add_special_tokens=False,
        return_offsets_mapping=True,
        return_attention_mask=False,
    )
    return [
        TokenizedText(
            np.asarray(ids, dtype=np.int64),
            np.asarray(offsets, dtype=np.int64).reshape(-1, 2),
        )
        for ids, offsets in zip(encoded["input_ids"], encoded["offset_mapping"], strict=True)
    ]

"""Gold sentence labels from answer offsets: a sentence is relevant iff it overlaps an answer."""

from __future__ import annotations


def gold_relevance(spans: list[list[int]], answer_spans: list[list[int]]) -> list[int]:
    """1 for each `[start, end)` sentence span that overlaps any answer span, else 0."""
    return [
        int(any(s < a_end and a_start < e for a_start, a_end in answer_spans)) for s, e in spans
    ]

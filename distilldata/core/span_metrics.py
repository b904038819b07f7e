"""Span-level confusion counts and the scores made from them, shared by the pruner evaluator
(`pruner_eval`) and the label-quality report (`label_quality`).

Scores are exact floats: round only when rendering. A ratio with a zero denominator is None
(undefined), and F-beta is None when precision or recall is; when precision + recall == 0 it
is 0.0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass
class Confusion:
    tp: int = 0
    fp: int = 0
    tn: int = 0
    fn: int = 0

    def add(self, gold: Sequence[int], pred: Sequence[int]) -> None:
        """Count aligned 0/1 gold and predicted labels (callers drop unknown gold first)."""
        for g, p in zip(gold, pred, strict=True):
            if p and g:
                self.tp += 1
            elif p:
                self.fp += 1
            elif g:
                self.fn += 1
            else:
                self.tn += 1

    @property
    def total(self) -> int:
        return self.tp + self.fp + self.tn + self.fn


def ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def precision(c: Confusion) -> float | None:
    return ratio(c.tp, c.tp + c.fp)


def recall(c: Confusion) -> float | None:
    return ratio(c.tp, c.tp + c.fn)


def span_accuracy(c: Confusion) -> float | None:
    return ratio(c.tp + c.tn, c.total)


def f_beta(p: float | None, r: float | None, beta: float = 2.0) -> float | None:
    """(1 + b²)PR / (b²P + R); None when P or R is undefined, 0.0 when P + R == 0."""
    if p is None or r is None:
        return None
    if p + r == 0:
        return 0.0
    b2 = beta * beta
    return (1 + b2) * p * r / (b2 * p + r)

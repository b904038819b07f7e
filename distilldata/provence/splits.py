"""Split arithmetic: the seed's validation/test carve-out and its shuffles, and article splits.

Shuffles use `numpy.random.default_rng(seed).permutation(n)`, which is exactly what
`datasets.Dataset.shuffle(seed=...)` does, so row choices match the peer's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

MAX_EVAL_ROWS = 5000
EVAL_FRACTION = 0.01


def permutation(n: int, seed: int) -> np.ndarray:
    """The row order `Dataset.shuffle(seed=seed)` produces for n rows."""
    return np.random.default_rng(seed).permutation(n)


def carve_size(n: int) -> int:
    """One carved split's size from n rows: 1% (half-to-even rounding), 1..5000, <= (n-1)//2."""
    if n <= 1:
        return 0
    size = min(max(1, round(n * EVAL_FRACTION)), MAX_EVAL_ROWS)
    return min(size, (n - 1) // 2) if n > 2 else min(size, n - 1)


@dataclass(frozen=True)
class Carve:
    validation: int
    test: int
    train: int


def carve_sizes(total: int) -> Carve:
    """Validation, test and train sizes when both eval splits must be carved out of train.

    Validation is carved from `total`, then test from what remains; each gets at least one row
    while a train row is left. Shuffled rows are laid out validation | test | train.
    """
    if total <= 0:
        raise ValueError("cannot carve validation/test out of an empty train split")
    val = carve_size(total) or min(1, total - 1)
    test = carve_size(total - val) or (1 if total - val > 1 else 0)
    return Carve(validation=val, test=test, train=total - val - test)


def split_groups(
    groups: Sequence[str], seed: int, fractions: tuple[float, float] = (0.1, 0.1)
) -> dict[str, str]:
    """Assign whole groups (articles) to validation/test/train; no group lands in two splits.

    Each eval split gets round(fraction * n) groups, at least one while two groups are left
    for train and the other split. Deterministic for a seed.
    """
    unique = sorted(set(groups))
    n = len(unique)
    if n < 3:
        raise ValueError(f"need at least 3 articles to split by article, got {n}")
    order = [unique[i] for i in permutation(n, seed)]
    n_val = min(max(1, round(fractions[0] * n)), n - 2)
    n_test = min(max(1, round(fractions[1] * n)), n - 1 - n_val)
    assignment = {}
    for i, group in enumerate(order):
        assignment[group] = "validation" if i < n_val else "test" if i < n_val + n_test else "train"
    return assignment

"""The seed's carve-out arithmetic and its shuffle, and article-level splits."""

from __future__ import annotations

import pytest

from distilldata.provence.splits import carve_sizes, permutation, split_groups


@pytest.mark.parametrize(
    ("n", "validation", "test", "train"),
    [
        # 1% of 20 rounds to 0 -> at least 1; test from the remaining 19 -> 1.
        (20, 1, 1, 18),
        # 3.5 rounds half-to-even to 4; 3.46 of the remaining 346 rounds to 3.
        (350, 4, 3, 343),
        # 29.1 -> 29; 28.81 of the remaining 2,881 -> 29.
        (2910, 29, 29, 2852),
        # The seed's GooAQ check: 4,000 + 3,960 + 392,040.
        (400_000, 4000, 3960, 392_040),
        # Both capped at 5,000.
        (1_000_000, 5000, 5000, 990_000),
        # Tiny inputs keep a train row.
        (3, 1, 1, 1),
        (2, 1, 0, 1),
    ],
)
def test_carve_sizes(n, validation, test, train):
    sizes = carve_sizes(n)
    assert (sizes.validation, sizes.test, sizes.train) == (validation, test, train)


def test_carve_rejects_empty():
    with pytest.raises(ValueError):
        carve_sizes(0)


def test_permutation_is_datasets_shuffle():
    from datasets import Dataset

    ds = Dataset.from_dict({"i": list(range(57))})
    assert ds.shuffle(seed=42)["i"] == permutation(57, 42).tolist()


def test_split_groups_never_share_a_group():
    groups = [f"article-{i % 16}" for i in range(300)]
    assignment = split_groups(groups, seed=42)
    assert set(assignment) == set(groups)
    counts = {
        s: sum(1 for v in assignment.values() if v == s) for s in ("train", "validation", "test")
    }
    assert counts == {"train": 12, "validation": 2, "test": 2}
    assert split_groups(groups, seed=42) == assignment
    assert split_groups(groups, seed=7) != assignment

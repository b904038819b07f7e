"""Groups and shards of the batch-LLM layer: balanced, contiguous, independent of N."""

from __future__ import annotations

import pytest

from distilldata.core.errors import InputError
from distilldata.llm.cache import GroupCache, group_bounds, parse_shard, shard_plan


def test_shards_are_balanced_contiguous_runs_of_whole_groups():
    assert group_bounds(10, 4) == [(0, 4), (4, 8), (8, 10)]
    for splits in ({"train": 0}, {"train": 9}, {"train": 50, "validation": 7, "test": 7}):
        everything = [(k, *g) for k, n in splits.items() for g in group_bounds(n, 4)]
        for shards in (1, 2, 3, 7):
            plans = [shard_plan(splits, 4, k, shards) for k in range(shards)]
            assert [g for plan in plans for g in plan] == everything  # each group exactly once
            sizes = [sum(e - s for _, s, e in plan) for plan in plans]
            if len(everything) >= shards:
                assert max(sizes) - min(sizes) <= 4 + 4  # within about one group of each other
    # the demo's imbalance case: many small splits do not pile up on the last shard
    plans = [shard_plan({"train": 2290, "validation": 310, "test": 310}, 500, k, 2) for k in (0, 1)]
    assert [sum(e - s for _, s, e in p) for p in plans] == [1500, 1410]
    assert parse_shard("1/3") == (1, 3)
    for bad in ("3/3", "x", "1/0"):
        with pytest.raises(InputError):
            parse_shard(bad)


def test_cache_serves_a_group_only_for_the_same_rows(tmp_path):
    cache = GroupCache(tmp_path, "org/data", "gold")
    cache.save("train", 0, 2, "digest-a", {"r1": [[1, 0]]})
    assert cache.path("train", 0, 2) == tmp_path / "org_data" / "gold" / "train" / "0-2.json"
    assert cache.load("train", 0, 2, "digest-a") == {"r1": [[1, 0]]}
    assert cache.load("train", 0, 2, "digest-b") is None  # the rows changed under the same ids
    assert cache.load("train", 2, 4, "digest-a") is None

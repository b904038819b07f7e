"""The percentile pass: one row per id (the scored copy, all its pools), percentiles within
each split over the scored rows, flagged rows without one; constructed score shards."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from distilldata.nll.ranking import percentile_within, rank_scores
from distilldata.nll.score import SCORE_SCHEMA


def shard(path, rows):
    """A score shard: `rows` are (id, split, pool, nll_mean, flag)."""
    columns = {name: [] for name in SCORE_SCHEMA.names}
    for row_id, split, pool, mean, flag in rows:
        values = dict.fromkeys(SCORE_SCHEMA.names)
        values.update(
            id=row_id, split=split, pool=pool, nll_mean=mean, flag=flag, model="m",
            loss_mode="assistant_all", completion_token_count=10 if mean else 0,
            token_count=50, truncated=False, scored_tokens_lost=0, dataset="d",
            nll_sum=None if mean is None else mean * 10,
        )  # fmt: skip
        for name in columns:
            columns[name].append(values[name])
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns, schema=SCORE_SCHEMA), path)
    return path


def test_percentile_within_groups_ties_and_missing():
    values = np.array([3.0, 1.0, 2.0, 2.0, np.nan, 5.0, 4.0])
    groups = ["a", "a", "a", "a", "a", "b", "b"]
    out = percentile_within(values, groups)
    np.testing.assert_allclose(out[:4], [1.0, 0.25, 0.75, 0.75])  # ties share the top rank
    assert np.isnan(out[4])
    np.testing.assert_allclose(out[5:], [1.0, 0.5])


def test_rank_scores_merges_pools_and_ranks_per_split(tmp_path):
    first = shard(
        tmp_path / "s" / "long_context" / "part-00000.parquet",
        [("a", "train", "long_context", 2.0, None), ("b", "train", "long_context", 1.0, None)],
    )
    second = shard(
        tmp_path / "s" / "tool_use" / "part-00000.parquet",
        [
            ("a", "train", "tool_use", None, "scored_in_earlier_pool"),
            ("c", "train", "tool_use", 3.0, None),
            ("d", "test", "tool_use", 0.5, None),
            ("e", "train", "tool_use", None, "no_completion_tokens"),
        ],
    )
    out, stats_path = tmp_path / "scored.parquet", tmp_path / "scored.json"
    stats = rank_scores([tmp_path / "s"], out, stats_path)
    rows = {r["id"]: r for r in pq.read_table(out).to_pylist()}
    assert sorted(rows) == ["a", "b", "c", "d", "e"]
    assert rows["a"]["pools"] == ["long_context", "tool_use"] and rows["a"]["nll_mean"] == 2.0
    assert rows["a"]["flag"] is None  # the scored copy wins over the pointer
    percentile = {k: r["percentile_within_split"] for k, r in rows.items()}
    assert percentile == pytest.approx({"a": 2 / 3, "b": 1 / 3, "c": 1.0, "d": 1.0, "e": None})
    assert stats["ids"] == 5 and stats["in_several_pools"] == 1 and stats["scored"] == 4
    assert stats["scored_per_split"] == {"test": 1, "train": 3}
    assert stats["flagged"] == {"no_completion_tokens": 1}
    assert json.loads(stats_path.read_text())["score_files"] == [str(first), str(second)]
    assert "pool" not in pq.read_schema(out).names


def test_rank_scores_of_a_corpus_without_pools_is_an_empty_table(tmp_path):
    stats = rank_scores([], tmp_path / "scored.parquet", tmp_path / "scored.json")
    table = pq.read_table(tmp_path / "scored.parquet")
    assert table.num_rows == 0 and {"id", "pools", "percentile_within_split"} <= set(
        table.column_names
    )
    assert stats["ids"] == 0

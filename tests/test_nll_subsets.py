"""Subset arithmetic on constructed scores: percentile bands x correctness (and its null policy)
x IFD x truncation; a subset folder's parts and manifest."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from distilldata.core.errors import InputError
from distilldata.core.store import sha256_file
from distilldata.nll.subsets import SubsetPolicy, SubsetRule, build_subset, select

# id: percentile, meta_correctness, ifd, truncated
ROWS = {
    "easy-right": (0.10, 0.9, 0.5, False),
    "easy-unknown": (0.20, None, 0.6, False),
    "mid-right": (0.50, 1.0, 0.9, False),
    "hard-right": (0.80, 0.8, 0.95, False),
    "hard-right-misaligned": (0.85, 0.9, 1.2, False),
    "hard-wrong": (0.95, 0.1, 0.9, False),
    "hardest-right": (1.00, 0.75, None, False),
    "cut": (0.15, 0.9, 0.5, True),
    "flagged": (None, 0.9, None, False),
}


def table(with_ifd=True) -> pa.Table:
    columns = {
        "id": list(ROWS),
        "percentile_within_split": [v[0] for v in ROWS.values()],
        "meta_correctness": [v[1] for v in ROWS.values()],
        "truncated": [v[3] for v in ROWS.values()],
    }
    if with_ifd:
        columns["ifd"] = [v[2] for v in ROWS.values()]
    return pa.table(columns)


def chosen(rule, policy=None, with_ifd=True) -> list[str]:
    mask = select(table(with_ifd), rule, policy or SubsetPolicy())
    return [row_id for row_id, keep in zip(ROWS, mask, strict=True) if keep]


def test_bands_and_correctness():
    anchor = SubsetRule("anchor", 0.0, 0.25, "high")
    assert chosen(anchor) == ["easy-right"]  # unknown correctness excluded, truncated left out
    assert chosen(anchor, SubsetPolicy(null_correctness="high")) == ["easy-right", "easy-unknown"]
    assert chosen(anchor, SubsetPolicy(exclude_truncated=False)) == ["easy-right", "cut"]
    assert chosen(SubsetRule("r", 0.25, 0.6, "high")) == ["mid-right"]
    inspect = SubsetRule("inspect", 0.9, 1.0, "low")
    assert chosen(inspect) == ["hard-wrong"]
    assert chosen(SubsetRule("any", 0.9, 1.0, "any")) == ["hard-wrong", "hardest-right"]
    # the band is (lo, hi]: 0.25 < p excludes p = 0.2; hi = 1.0 includes p = 1.0
    assert chosen(SubsetRule("c", 0.9, 1.0, "high")) == ["hardest-right"]  # 0.75 is high


def test_ifd_bound_applies_only_when_ifd_was_scored():
    learning = SubsetRule("learning", 0.6, 0.9, "high", max_ifd=1.0)
    assert chosen(learning) == ["hard-right"]  # IFD 1.2: the prompt does not help, dropped
    assert chosen(learning, with_ifd=False) == ["hard-right", "hard-right-misaligned"]
    assert chosen(SubsetRule("c", 0.9, 1.0, "high", max_ifd=1.0)) == ["hardest-right"]  # null IFD


def test_bad_rules_are_clear_errors():
    with pytest.raises(InputError, match="min_percentile < max_percentile"):
        SubsetRule("x", 0.5, 0.5)
    with pytest.raises(InputError, match="correctness 'great'"):
        SubsetRule("x", correctness="great")
    with pytest.raises(InputError, match="null_correctness 'maybe'"):
        SubsetPolicy(null_correctness="maybe")


def test_build_subset_writes_parts_and_manifest(tmp_path):
    pools = tmp_path / "pools" / "c1"
    (pools / "tool_use").mkdir(parents=True)
    pool_rows = pa.table(
        {
            "id": list(ROWS),
            "text": [f"text of {k}" for k in ROWS],
            "split": ["train"] * len(ROWS),
            "meta_correctness": [v[1] for v in ROWS.values()],
            "subset": ["default"] * len(ROWS),
        }
    )
    pq.write_table(pool_rows, pools / "tool_use" / "part-00000.parquet")
    (pools / "pools_manifest.json").write_text(
        json.dumps({"files": [{"pool": "tool_use", "path": "tool_use/part-00000.parquet"}]})
    )
    scored = tmp_path / "c1.parquet"
    scores = table().drop_columns(["meta_correctness"])
    scores = scores.append_column("nll_mean", pa.array(np.linspace(1, 2, len(ROWS))))
    scores = scores.append_column("split", pa.array(["train"] * len(ROWS)))
    pq.write_table(scores, scored)
    rule = SubsetRule("anchor", 0.0, 0.3, "high")
    policy = SubsetPolicy(null_correctness="high", rows_per_file=1)
    manifest = build_subset(rule, policy, {"c1": (scored, pools)}, tmp_path / "anchor")
    assert manifest["rows"] == 2 and manifest["rows_per_corpus"] == {"c1": 2}
    assert [f["path"] for f in manifest["files"]] == ["part-00000.parquet", "part-00001.parquet"]
    for entry in manifest["files"]:
        path = tmp_path / "anchor" / entry["path"]
        assert entry["sha256"] == sha256_file(path) and entry["bytes"] == path.stat().st_size
    parts = sorted((tmp_path / "anchor").glob("part-*.parquet"))
    rows = [r for part in parts for r in pq.read_table(part).to_pylist()]
    assert [r["id"] for r in rows] == ["easy-right", "easy-unknown"]
    assert rows[0]["text"] == "text of easy-right" and rows[0]["nll_subset"] == "anchor"
    assert rows[0]["subset"] == "default" and rows[0]["corpus"] == "c1"
    assert manifest["rule"]["max_percentile"] == 0.3
    assert manifest["policy"]["null_correctness"] == "high"
    assert [i["path"] for i in manifest["inputs"]] == [
        str(scored),
        str(pools / "pools_manifest.json"),
    ]
    on_disk = json.loads((tmp_path / "anchor" / "manifest.json").read_text())
    assert on_disk == manifest

"""The NLL report: deterministic PNGs (byte-identical across runs), the score table per pool and
split, the subset sizes and example rows."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
from test_nll_ranking import shard

from distilldata.nll.ranking import rank_scores
from distilldata.nll.report import build_report
from distilldata.nll.subsets import SubsetPolicy, SubsetRule, build_subset


def corpus(tmp_path):
    rows = [
        ("a", "train", "tool_use", 1.0, None),
        ("b", "train", "tool_use", 2.0, None),
        ("c", "test", "tool_use", 3.0, None),
        ("d", "train", "long_context", None, "truncated_away"),
    ]
    for pool in ("tool_use", "long_context"):
        shard(tmp_path / "scores" / pool / "part-00000.parquet", [r for r in rows if r[2] == pool])
    scored = tmp_path / "scored.parquet"
    rank_scores([tmp_path / "scores"], scored, tmp_path / "scored.json")
    pools = tmp_path / "pools"
    (pools / "tool_use").mkdir(parents=True)
    final = "<|start|>assistant<|channel|>final<|message|>answer {}|x<|return|>"
    texts = {r[0]: final.format(r[0]) for r in rows}
    pool_rows = pa.table({"id": list(texts), "text": list(texts.values())})
    pq.write_table(pool_rows, pools / "tool_use" / "part-00000.parquet")
    (pools / "pools_manifest.json").write_text(
        json.dumps({"files": [{"pool": "tool_use", "path": "tool_use/part-00000.parquet"}]})
    )
    subsets = {}
    for name, lo, hi in (("anchor", 0.0, 0.5), ("challenge", 0.5, 1.0)):
        subsets[name] = tmp_path / "subsets" / name
        build_subset(
            SubsetRule(name, lo, hi, "high", max_ifd=1.0),
            SubsetPolicy(null_correctness="high"),
            {"demo": (scored, pools)},
            subsets[name],
        )
    return scored, subsets


def test_report_is_deterministic_and_complete(tmp_path):
    scored, subsets = corpus(tmp_path)
    outputs = []
    for run in ("one", "two"):
        folder = tmp_path / run
        build_report({"demo": scored}, subsets, folder / "r.md", folder / "n.png", folder / "p.png")
        outputs.append([(folder / name).read_bytes() for name in ("r.md", "n.png", "p.png")])
    assert outputs[0] == outputs[1]
    assert outputs[0][1][:8] == b"\x89PNG\r\n\x1a\n" and b"Software" not in outputs[0][1]
    text = outputs[0][0].decode()
    assert "| demo | tool_use | train | 2 | 0 | 0 | 1.500 | 1.500 |" in text
    assert "| demo | long_context | train | 0 | 1 | 0 | - | - |" in text
    rule = "0.0 < p <= 0.5, correctness high (null: high), IFD <= 1.0 (no IFD)"
    assert f"| anchor | {rule} | 1 | demo: 1 |" in text  # train: a is 0.5, b 1.0; test: c 1.0
    assert "answer a\\|x<\\|return\\|>" in text  # example rows, pipes escaped
    assert "### challenge: 2 example rows" in text

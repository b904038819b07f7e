"""DuckDB dataset report on a handcrafted dataset with known statistics."""

from __future__ import annotations

import pyarrow as pa

from distilldata.core.store import save_splits
from distilldata.provence.dataset_report import report, to_markdown


def test_report_statistics(tmp_path):
    train = pa.table(
        {
            "id": ["a", "b"],
            "texts": [["x y", "z"], ["x y", "w", "v"]],
            "context_spans": [[[[0, 1], [2, 3]], [[0, 1]]], [[[0, 1], [2, 3]], [[0, 1]], [[0, 1]]]],
            "labels": [[1, 0], [1, 0, 0]],
        }
    )
    path = save_splits({"train": train}, tmp_path / "ds")
    rep = report(path)
    s = rep["splits"]["train"]
    assert s["rows"] == 2
    assert s["texts_per_row_mean"] == 2.5 and s["texts_per_row_max"] == 3
    assert s["sentences_per_text_mean"] == 1.4  # (2 + 1 + 2 + 1 + 1) / 5
    assert s["positive_label_fraction"] == 0.4
    assert (s["texts_total"], s["texts_unique"], s["dup_ratio"]) == (5, 4, 0.2)
    assert "| train | 2 | 2.50 | 3 | 1.40 | 40.00% | 5 | 4 | 20.00% |" in to_markdown(rep)

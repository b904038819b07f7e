"""Label quality against gold answer offsets, and the Hub upload dry run."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

from distilldata.errors import InputError
from distilldata.hub_upload import upload_to_hub
from distilldata.label_quality import label_quality, metrics
from distilldata.store import save_splits


def row(flags, answer=((0, 3),)):
    return {
        "id": f"r{len(flags)}",
        "query": "q",
        "texts": ["abc def. ghi.", "xyz."],
        "context_spans": [[[0, 8], [9, 13]], [[0, 4]]],
        "context_spans_relevance": flags,
        "answer_spans": [list(a) for a in answer],
    }


def test_metrics_f2():
    m = metrics(tp=2, fp=2, tn=5, fn=1)
    assert m["precision"] == 0.5 and m["recall"] == pytest.approx(0.6667, abs=1e-4)
    assert m["f2"] == pytest.approx(5 * 0.5 * (2 / 3) / (4 * 0.5 + 2 / 3), abs=1e-4)
    assert metrics(0, 0, 3, 0)["precision"] is None


def test_label_quality_counts(tmp_path):
    rows = [
        row([[1, 1], [0]]),  # tp + fp in texts[0], tn in texts[1]
        row([[0, 0], [1]]),  # fn, tn, fp
        row([[1, 0], []]),  # tp, tn; texts[1] got no prompt -> skipped
    ]
    path = save_splits(
        {"train": pa.Table.from_pylist(rows), "nogold": pa.Table.from_pylist(rows).drop_columns(
            ["answer_spans"])},
        tmp_path / "ds",
    )  # fmt: skip
    report = label_quality(path, tmp_path / "q.md", tmp_path / "q.json")
    train = report["splits"]["train"]
    assert train["all_texts"]["confusion_matrix"] == {"tp": 2, "fp": 2, "tn": 3, "fn": 1}
    assert train["positive_text"]["confusion_matrix"] == {"tp": 2, "fp": 1, "tn": 2, "fn": 1}
    assert train["texts_skipped"] == 1
    assert report["splits"]["nogold"] == {"gold": False, "missing": ["answer_spans"]}
    md = (tmp_path / "q.md").read_text()
    assert "| train | all_texts |" in md and "Splits without gold: nogold." in md
    assert json.loads((tmp_path / "q.json").read_text())["splits"]["train"]["rows"] == 3


def test_upload_dry_run_touches_no_network(tmp_path, monkeypatch):
    path = save_splits({"train": pa.Table.from_pylist([row([[1, 0], [0]])])}, tmp_path / "ds")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    summary = upload_to_hub(path, "me/ds", subset="freq2", num_shards=2, dry_run=True)
    assert summary["dry_run"] and summary["splits"]["train"]["rows"] == 1
    assert summary["push_to_hub"]["config_name"] == "freq2"
    assert summary["push_to_hub"]["private"] is True
    with pytest.raises(InputError, match="owner/name"):
        upload_to_hub(path, "no-owner")
    with pytest.raises(InputError, match="no split 'x'"):
        upload_to_hub(path, "me/ds", split="x")

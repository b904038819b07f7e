"""Label quality against gold answer offsets (the Hub upload dry run is in test_hub.py)."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

from distilldata.core.errors import InputError
from distilldata.core.store import save_splits
from distilldata.provence.label_quality import label_quality, metrics


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


# ---- issue 12 -------------------------------------------------------------------------------


def test_unknown_flags_are_not_scored(tmp_path):
    # -1 = a chunk the prompt ladder hid from the labeler: neither relevant nor not.
    rows = [row([[1, -1], [-1]]), row([[0, 1], [0]])]
    path = save_splits({"train": pa.Table.from_pylist(rows)}, tmp_path / "ds")
    train = label_quality(path, tmp_path / "q.md", tmp_path / "q.json")["splits"]["train"]
    assert train["all_texts"]["confusion_matrix"] == {"tp": 1, "fp": 1, "tn": 1, "fn": 1}
    assert train["positive_text"]["confusion_matrix"] == {"tp": 1, "fp": 1, "tn": 0, "fn": 1}
    assert train["unknown_spans"] == 2 and train["texts_skipped"] == 0


def test_f2_is_the_evaluator_f2_without_rounding():
    from distilldata.pruner.evaluate import Confusion, f2, precision, recall

    # nothing relevant found: P = R = 0 -> F2 = 0.0 (label_quality said None)
    assert metrics(tp=0, fp=2, tn=3, fn=3)["f2"] == 0.0
    m = metrics(tp=1, fp=2, tn=0, fn=1)
    c = Confusion(tp=1, fp=2, tn=0, fn=1)
    assert m["precision"] == precision(c) == 1 / 3  # not 0.3333
    assert m["recall"] == recall(c) == 1 / 2
    assert m["f2"] == f2(1 / 3, 1 / 2)


def test_mismatched_flags_name_the_row(tmp_path):
    bad = row([[1, 0]])  # one flag list for two texts
    path = save_splits({"train": pa.Table.from_pylist([bad])}, tmp_path / "ds")
    with pytest.raises(InputError, match=r"row 'r1'.* 1 .*2 texts"):
        label_quality(path, tmp_path / "q.md", tmp_path / "q.json")
    bad = row([[1, 0, 1], [0]])  # three flags for two spans
    path = save_splits({"train": pa.Table.from_pylist([bad])}, tmp_path / "ds2")
    with pytest.raises(InputError, match=r"row 'r2', text 0: 3 flags for 2 spans"):
        label_quality(path, tmp_path / "q.md", tmp_path / "q.json")


def test_reports_are_written_through_the_store(tmp_path, monkeypatch):
    from store_spy import spy_renames, written_by_store

    path = save_splits({"train": pa.Table.from_pylist([row([[1, 0], [0]])])}, tmp_path / "ds")
    seen = spy_renames(monkeypatch)
    outputs = (tmp_path / "out" / "q.md", tmp_path / "out" / "q.json")
    label_quality(path, *outputs)
    assert written_by_store(seen, *outputs) == {str(p): "distilldata.core.store" for p in outputs}

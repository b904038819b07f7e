"""Span metrics on hand-computed confusion matrices, compression, tables, eval YAML."""

from __future__ import annotations

import pytest
from pruner_fixtures import write_provence_dataset

from distilldata.core.errors import InputError
from distilldata.pruner.evaluate import (
    TABLE_HEADER,
    Confusion,
    EvalDataset,
    best_threshold,
    compression,
    evaluate_dataset,
    f2,
    load_eval_config,
    markdown_table,
    precision,
    recall,
    render_markdown,
    span_accuracy,
)


def test_confusion_and_metrics_by_hand():
    c = Confusion()
    c.add(gold=[1, 1, 1, 0, 0], pred=[1, 1, 0, 1, 0])
    c.add(gold=[1, 0, 0, 1, 0], pred=[1, 0, 0, 0, 0])
    assert (c.tp, c.fp, c.tn, c.fn) == (3, 1, 4, 2)
    p, r = precision(c), recall(c)
    assert p == pytest.approx(0.75) and r == pytest.approx(0.6)
    assert f2(p, r) == pytest.approx(5 * 0.75 * 0.6 / (4 * 0.75 + 0.6))  # 0.625
    assert f2(p, r) == pytest.approx(0.625)
    assert span_accuracy(c) == pytest.approx(0.7)


def test_metric_edge_cases():
    none = Confusion(tp=0, fp=0, tn=5, fn=0)
    assert precision(none) is None and recall(none) is None and f2(None, None) is None
    miss = Confusion(tp=0, fp=2, tn=1, fn=3)
    assert precision(miss) == 0 and recall(miss) == 0 and f2(0.0, 0.0) == 0.0
    perfect = Confusion(tp=4, fp=0, tn=6, fn=0)
    assert f2(precision(perfect), recall(perfect)) == pytest.approx(1.0)
    assert span_accuracy(Confusion()) is None


def test_compression_counts_characters():
    sentences = ["abcd", "ef", "ghij"]
    assert compression(sentences, [1, 1, 1]) == 0
    assert compression(sentences, [0, 0, 0]) == 100
    assert compression(sentences, [1, 0, 0]) == pytest.approx(60.0)
    assert compression([], []) == 0


def test_markdown_table_has_twelve_columns_and_best_threshold():
    m = {
        "f2": 0.5,
        "recall": 0.6,
        "precision": 0.3,
        "confusion_matrix": {"tp": 3, "fp": 7, "tn": 10, "fn": 2},
        "mean_compression": 42.0,
        "span_accuracy": 0.59,
        "span_total": 22,
        "contexts": 4,
    }
    lines = markdown_table({"ds:test": m})
    assert lines[0] == TABLE_HEADER
    assert all(line.count("|") == 13 for line in lines)
    assert "| ds:test | 0.5000 | 0.6000 | 0.3000 | 2 | 3 | 7 | 10 | 42.00 |" in lines[2]
    results = {"0.1": {"a": m}, "0.5": {"a": {**m, "f2": 0.8, "mean_compression": 70.0}}}
    assert best_threshold(results) == ("0.5", 0.8, 70.0)
    # Two datasets: each gets its own best threshold next to the mean's.
    results["0.1"]["b"] = {**m, "f2": 0.9, "mean_compression": 30.0}
    results["0.5"]["b"] = {**m, "f2": 0.1}
    text = render_markdown({"datasets": ["a", "b"]}, results)
    assert "- best threshold by mean F2: 0.1 (mean F2 0.7000, mean compression 36.00%)" in text
    assert "- best threshold for a: 0.5 (F2 0.8000, mean compression 70.00%)" in text
    assert "- best threshold for b: 0.1 (F2 0.9000, mean compression 30.00%)" in text


def test_eval_config(tmp_path):
    path = tmp_path / "eval.yaml"
    path.write_text(
        "split: test\ndatasets:\n  - dataset_name: a\n    n_samples: 5\n"
        "  - dataset_name: b\n    subset: s\n    split: validation\n  - c\n"
        "  - {dataset_name: a, max_texts: 1}\n"
    )
    entries = load_eval_config(path)
    assert [(d.key, d.split, d.n_samples, d.max_texts) for d in entries] == [
        ("a:test", "test", 5, None),
        ("b:s", "validation", None, None),
        ("c:test", "test", None, None),
        ("a:test/texts[:1]", "test", None, 1),
    ]
    assert {d.split for d in load_eval_config(path, split="train")} == {"train"}
    path.write_text("datasets:\n  - dataset_name: a\n    typo: 1\n")
    with pytest.raises(InputError, match="typo"):
        load_eval_config(path)
    path.write_text("datasets:\n  - {dataset_name: a, max_texts: 0}\n")
    with pytest.raises(InputError, match="max_texts"):
        load_eval_config(path)


def test_max_texts_scores_only_the_first_texts(tmp_path):
    from distilldata.pruner.model import ProvencePruner
    from distilldata.testing.tiny_encoder import build_tiny_encoder

    data = write_provence_dataset(tmp_path / "data", {"train": 1, "test": 4}, n_texts=3)
    model = ProvencePruner.from_backbone(str(build_tiny_encoder(tmp_path / "enc"))).eval()
    every = evaluate_dataset(model, EvalDataset(str(data), None, "test", None), [0.5], 8)["0.5"]
    first = evaluate_dataset(model, EvalDataset(str(data), None, "test", None, 1), [0.5], 8)["0.5"]
    assert (every["contexts"], first["contexts"]) == (12, 4)
    # The positive text of each toy row has 3 sentences, one of them gold.
    assert first["span_total"] == 12
    assert first["confusion_matrix"]["tp"] + first["confusion_matrix"]["fn"] == 4
    assert every["confusion_matrix"]["tp"] + every["confusion_matrix"]["fn"] == 4


# ---- issue 12: unlabelled texts and unknown sentences are skipped and counted ------------------


@pytest.fixture(scope="module")
def tiny_pruner(tmp_path_factory):
    from distilldata.pruner.model import ProvencePruner
    from distilldata.testing.tiny_encoder import build_tiny_encoder

    enc = build_tiny_encoder(tmp_path_factory.mktemp("tiny") / "enc")
    return ProvencePruner.from_backbone(str(enc)).eval()


def _relevance_dataset(path, relevance, rows=4, gold=False):
    """Toy rows (3 texts: 3, 2, 2 spans) labelled only by `relevance` (None: no column)."""
    import pyarrow as pa
    from pruner_fixtures import provence_row

    from distilldata.core.store import save_splits

    out = []
    for i in range(rows):
        row = provence_row(i, "test")
        if not gold:
            row.pop("answer_spans")
        if relevance is not None:
            row["context_spans_relevance"] = relevance
        out.append(row)
    table = pa.Table.from_pylist(out)
    return save_splits({"train": table, "test": table}, path)


def test_unlabelled_texts_are_skipped_and_counted(tmp_path, tiny_pruner):
    # texts[1] has no label ([]): the seed scores it as all-negative, training ignores it.
    data = _relevance_dataset(tmp_path / "d", [[0, 1, 0], [], [0, 0]])
    m = evaluate_dataset(tiny_pruner, EvalDataset(str(data), None, "test", None), [0.5], 8)["0.5"]
    assert m["span_skipped"] == 4 * 2 and m["contexts_skipped"] == 4
    assert m["contexts"] == 4 * 2 and m["span_total"] == 4 * (3 + 2)
    assert m["confusion_matrix"]["tp"] + m["confusion_matrix"]["fn"] == 4
    assert len(m["roc_data"]["labels"]) == m["span_total"]


def test_unknown_sentences_are_skipped_and_counted(tmp_path, tiny_pruner):
    # -1: a chunk the labeler never saw (cut by the prompt ladder); texts[2] is all unknown.
    data = _relevance_dataset(tmp_path / "d", [[0, 1, -1], [0, 0], [-1, -1]])
    m = evaluate_dataset(tiny_pruner, EvalDataset(str(data), None, "test", None), [0.5], 8)["0.5"]
    assert m["span_skipped"] == 4 * (1 + 2) and m["contexts_skipped"] == 4
    assert m["span_total"] == 4 * (2 + 2) and m["contexts"] == 4 * 2
    assert set(m["roc_data"]["labels"]) <= {0, 1}


def test_eval_set_without_any_label_is_an_input_error(tmp_path, tiny_pruner):
    data = _relevance_dataset(tmp_path / "d", None)
    with pytest.raises(InputError, match=r"no labelled sentence"):
        evaluate_dataset(tiny_pruner, EvalDataset(str(data), None, "test", None), [0.5], 8)
    data = _relevance_dataset(tmp_path / "e", [[], [], []])
    with pytest.raises(InputError, match=r"no labelled sentence"):
        evaluate_dataset(tiny_pruner, EvalDataset(str(data), None, "test", None), [0.5], 8)


def test_eval_outputs_are_written_through_the_store(tmp_path, tiny_pruner, monkeypatch):
    from store_spy import spy_renames, written_by_store

    from distilldata.pruner.evaluate import evaluate_to_files

    model_dir = tmp_path / "final_model"
    tiny_pruner.save_pretrained(model_dir)
    tiny_pruner.tokenizer.save_pretrained(model_dir)
    data = _relevance_dataset(tmp_path / "d", None, gold=True)
    config = tmp_path / "eval.yaml"
    config.write_text(f"split: test\ndatasets:\n  - dataset_name: {data}\n")
    seen = spy_renames(monkeypatch)
    outputs = [tmp_path / "out" / f"results.{ext}" for ext in ("md", "json", "png")]
    evaluate_to_files(model_dir, config, [0.1, 0.5], 8, *outputs, device="cpu")
    assert written_by_store(seen, *outputs) == {str(p): "distilldata.core.store" for p in outputs}
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]

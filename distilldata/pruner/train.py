"""Train a reranker-pruner from a YAML recipe (the seed's `model_args/data_args/training_args`).

`train(config_path, output_dir)` prepares the data (`pruner_data`), builds the model
(`pruner_model`), runs the Hugging Face `Trainer` with the joint loss, logs `loss`,
`pruning_loss`, `ranking_loss` and `eval_*`, writes `checkpoint-*` and `final_model/`, and,
when `training_args.eval_datasets` is set, evaluates the final model into
`final_model/eval_datasets/`.

Fixes to the seed: YAML `eval_steps`/`logging_steps`/`save_steps` are honoured when given (the
dynamic values are only defaults); W&B is used only when `report_to` names it.

Resume: besides an explicit checkpoint, `auto_resume` (what the workflow rule asks for) continues
a killed or preempted run from the latest checkpoint the Trainer finished writing, when
`run_fingerprint.json` in the run folder shows the same recipe, input data, backbone and training
code; otherwise it clears the folder and starts clean. The final model folder is written under a
temp name and renamed, so it is complete or absent.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import re
import time
from collections import defaultdict
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import yaml

from distilldata.core.errors import InputError
from distilldata.core.models import model_folder, resolve_model
from distilldata.core.store import atomic_path, remove, write_json

log = logging.getLogger(__name__)

OUR_TRAINING_KEYS = (
    "eval_datasets",
    "checkpoint",
    "ranking_weight",
    "pruning_weight",
    "sentence_loss_weight",
    "head_learning_rate",
)
LOSS_PARTS = ("pruning_loss", "ranking_loss", "sentence_loss")  # logged when the model returns them
DATA_GLOBAL_KEYS = ("datasets", "max_eval_samples", "items", "upsample_factor")
MODEL_KEYS = (
    "model_name_or_path",
    "classifier_dropout",
    "max_length",
    "sentence_features",
    "match_features",
    "freeze_word_embeddings",
)
TRAINING_DEFAULTS: dict[str, Any] = {
    "learning_rate": 5e-5,
    "lr_scheduler_type": "cosine",
    "warmup_steps": 0.1,  # a float < 1 is a ratio of the total steps
    "weight_decay": 0.01,
    "max_grad_norm": 1.0,
    "num_train_epochs": 1,
    "per_device_train_batch_size": 4,
    "per_device_eval_batch_size": 4,
    "gradient_accumulation_steps": 1,
    "save_total_limit": 5,
    "seed": 42,
    "report_to": "none",
    "dataloader_pin_memory": False,
}


@dataclass
class Recipe:
    """A parsed training YAML."""

    path: Path
    model: dict[str, Any]
    data: dict[str, Any]
    training: dict[str, Any]
    eval_datasets: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def dataset_entries(self) -> list[dict[str, Any]]:
        """`data_args.datasets`, each with the global `items` / `upsample_factor` filled in."""
        defaults = {
            "items": self.data.get("items"),
            "upsample_factor": self.data.get("upsample_factor", 1.0),
        }
        entries = []
        for e in self.data["datasets"]:
            entry = {**defaults, **(e if isinstance(e, dict) else {"dataset_name": e})}
            entries.append({k: v for k, v in entry.items() if v is not None})
        return entries


def load_recipe(path: str | Path) -> Recipe:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text("utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(f"{path}: cannot read the training YAML ({exc})") from exc
    unknown = set(raw) - {"model_args", "data_args", "training_args"}
    if unknown:
        raise InputError(f"{path}: unknown top-level keys {sorted(unknown)}")
    model = dict(raw.get("model_args") or {})
    if "model_name_or_path" not in model:
        raise InputError(f"{path}: model_args.model_name_or_path is required")
    bad = set(model) - set(MODEL_KEYS)
    if bad:
        raise InputError(f"{path}: unknown model_args {sorted(bad)}; known: {MODEL_KEYS}")
    data = dict(raw.get("data_args") or {})
    bad = set(data) - set(DATA_GLOBAL_KEYS)
    if bad:
        raise InputError(f"{path}: unknown data_args {sorted(bad)}; known: {DATA_GLOBAL_KEYS}")
    if not data.get("datasets"):
        raise InputError(f"{path}: data_args.datasets must list at least one dataset")
    training = dict(raw.get("training_args") or {})
    eval_datasets = training.pop("eval_datasets", None)
    return Recipe(path, model, data, training, eval_datasets)


def build_model(recipe: Recipe):
    """A fresh pruner on the recipe's backbone with its model options (heads start random)."""
    from distilldata.pruner.model import ProvencePruner

    model_path = resolve_model(recipe.model["model_name_or_path"])
    model = ProvencePruner.from_backbone(
        model_path,
        classifier_dropout=recipe.model.get("classifier_dropout", 0.1),
        max_length=int(recipe.model.get("max_length", 512)),
        ranking_weight=float(recipe.training.get("ranking_weight", 0.05)),
        pruning_weight=float(recipe.training.get("pruning_weight", 1.0)),
        sentence_loss_weight=float(recipe.training.get("sentence_loss_weight", 0.0)),
        sentence_features=bool(recipe.model.get("sentence_features", False)),
        match_features=bool(recipe.model.get("match_features", False)),
    )
    if recipe.model.get("freeze_word_embeddings"):
        model.freeze_word_embeddings()
    if model.tokenizer is None:
        raise InputError(f"{model_path}: no tokenizer files next to the model")
    return model


# ---- checkpoints and resume -----------------------------------------------------------------

FINGERPRINT_FILE = "run_fingerprint.json"
RESUME_KEYS = ("checkpoint", "resume_from_checkpoint")
WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)
# The modules whose code shapes the trained weights: a change restarts an auto-resumed run.
TRAINING_CODE = ("train.py", "model.py", "data.py")  # in distilldata/pruner/
TRAINING_LIBRARIES = ("torch", "transformers", "datasets")


def checkpoint_step(path: Path) -> int:
    match = re.fullmatch(r"checkpoint-(\d+)", path.name)
    return int(match.group(1)) if match else -1


def checkpoint_is_complete(path: Path) -> bool:
    """The Trainer finished writing this checkpoint: weights present, and trainer_state.json
    (which it writes last) a readable file with the step."""
    state = path / "trainer_state.json"
    if not state.is_file() or not any((path / name).is_file() for name in WEIGHT_FILES):
        return False
    try:
        return isinstance(json.loads(state.read_text("utf-8")).get("global_step"), int)
    except (OSError, ValueError, AttributeError):
        return False


def latest_complete_checkpoint(run_dir: Path) -> Path | None:
    complete = [p for p in run_dir.glob("checkpoint-*") if checkpoint_is_complete(p)]
    return max(complete, key=checkpoint_step, default=None)


def saved_step(checkpoint: Path) -> int:
    return int(json.loads((checkpoint / "trainer_state.json").read_text("utf-8"))["global_step"])


def resolve_checkpoint(path: str | Path) -> Path:
    """A checkpoint folder (has trainer_state.json), or the latest complete one in a run folder."""
    path = Path(path)
    if (path / "trainer_state.json").exists():
        return path
    if not path.is_dir():
        raise InputError(f"{path}: no such checkpoint or run folder")
    latest = latest_complete_checkpoint(path)
    if latest is None:
        raise InputError(
            f"{path}: no checkpoint-* to resume from (none has weights and trainer_state.json)"
        )
    return latest


def choose_resume(
    cli_checkpoint: str | None, cli_resume: str | None, training: dict[str, Any]
) -> Path | None:
    """The checkpoint to resume from: --checkpoint, --resume_from_checkpoint, then the YAML."""
    for value in (
        cli_checkpoint,
        cli_resume,
        training.get("resume_from_checkpoint"),
        training.get("checkpoint"),
    ):
        if value not in (None, False, ""):
            return resolve_checkpoint(value)
    return None


def _file_digest(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _ignored(name: str) -> bool:
    """Files beside the data that are not the data: dot files (Snakemake's
    .snakemake_timestamp, temp folders) and the cache-*.arrow that datasets writes."""
    return name.startswith(".") or (name.startswith("cache-") and name.endswith(".arrow"))


def content_digest(path: Path) -> str:
    """sha256 of a file, or of a folder's files (relative names and contents)."""
    if path.is_file():
        return _file_digest(path)
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        relative = file.relative_to(path)
        if not any(_ignored(part) for part in relative.parts):
            digest.update(f"{relative.as_posix()}\0{_file_digest(file)}\n".encode())
    return digest.hexdigest()


def _identity(ref: str) -> dict[str, str]:
    """A local file or folder by its content; anything else (a Hub id) by its name."""
    path = Path(ref)
    return {"sha256": content_digest(path)} if path.exists() else {"hub": ref}


def _version(package: str) -> str | None:
    try:
        return version(package)
    except PackageNotFoundError:
        return None


def run_fingerprint(recipe: Recipe, overrides: dict | None = None) -> dict[str, Any]:
    """What a run's checkpoints depend on: the parsed recipe (not its file name, layout or
    eval_datasets), the content of its local datasets and backbone, the training code and
    library versions. Equal fingerprints mean a checkpoint can be resumed."""
    training = {**recipe.training, **(overrides or {})}
    dataset_names = sorted({e["dataset_name"] for e in recipe.dataset_entries})
    backbone = recipe.model["model_name_or_path"]
    here = Path(__file__).parent
    fingerprint = {
        "model_args": recipe.model,
        "data_args": recipe.data,
        "training_args": {k: v for k, v in training.items() if k not in RESUME_KEYS},
        "datasets": {name: _identity(name) for name in dataset_names},
        "backbone": {"ref": backbone, **_identity(resolve_model(backbone))},
        "code": {name: _file_digest(here / name) for name in TRAINING_CODE},
        "versions": {name: _version(name) for name in TRAINING_LIBRARIES},
    }
    return json.loads(json.dumps(fingerprint, sort_keys=True, default=str))


def fingerprint_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Why `old` checkpoints cannot be resumed under `new`, one phrase per changed part."""
    sections = [k for k in ("model_args", "data_args", "training_args") if old.get(k) != new[k]]
    changes = [f"the recipe changed ({', '.join(sections)})"] if sections else []
    for key, what in (
        ("datasets", "the input datasets changed"),
        ("backbone", "the backbone changed"),
        ("code", "the training code changed"),
        ("versions", "library versions changed"),
    ):
        before, after = old.get(key) or {}, new[key]
        names = sorted(k for k in {*before, *after} if before.get(k) != after.get(k))
        if names:
            changes.append(f"{what} ({', '.join(names)})")
    return changes


def _read_fingerprint(run_dir: Path) -> dict[str, Any] | None:
    try:
        return json.loads((run_dir / FINGERPRINT_FILE).read_text("utf-8"))
    except (OSError, ValueError):
        return None


def start_run(
    run_dir: Path,
    final: Path,
    fingerprint: dict[str, Any],
    auto_resume: bool = False,
    overwrite: bool = False,
) -> Path | None:
    """Decide how a run starts in `run_dir` and say so on stdout.

    Returns the checkpoint to resume from (`auto_resume`: the latest complete one, when the
    stored fingerprint equals `fingerprint`; incomplete ones are removed), or None after
    clearing the folder (checkpoint-*, `final`, the fingerprint) for a clean start.
    Neither flag and checkpoints already there: an error, not a silent mix of two runs.
    """
    checkpoints = sorted(run_dir.glob("checkpoint-*"), key=checkpoint_step)
    if overwrite:
        reason = "--overwrite"
    elif auto_resume:
        latest = latest_complete_checkpoint(run_dir)
        stored = _read_fingerprint(run_dir)
        if latest is None:
            reason = f"no complete checkpoint in {run_dir}"
        elif stored is None:
            reason = (
                f"{run_dir / FINGERPRINT_FILE} is missing or unreadable, so its checkpoints "
                "cannot be matched to this recipe"
            )
        elif changes := fingerprint_changes(stored, fingerprint):
            reason = "; ".join(changes)
        else:
            for stale in checkpoints:
                if not checkpoint_is_complete(stale):
                    print(f"removing incomplete {stale}", flush=True)
                    remove(stale)
            print(f"resuming from {latest} (step {saved_step(latest)})", flush=True)
            return latest
    elif checkpoints:
        raise InputError(
            f"{run_dir} already holds {', '.join(p.name for p in checkpoints)} of an earlier "
            "run; pass --overwrite to start clean, or --auto-resume / --checkpoint to continue"
        )
    else:
        reason = f"new run in {run_dir}"
    for old in [*checkpoints, final, run_dir / FINGERPRINT_FILE]:
        remove(old)
    print(f"starting clean: {reason}", flush=True)
    return None


# ---- the trainer ----------------------------------------------------------------------------


def training_arguments(
    recipe: Recipe, output_dir: Path, train_rows: int, overrides: dict | None = None
):
    """HF TrainingArguments: defaults < YAML < overrides; dynamic steps only when not given."""
    from transformers import TrainingArguments

    args = {**TRAINING_DEFAULTS, **recipe.training, **(overrides or {})}
    for key in OUR_TRAINING_KEYS + ("resume_from_checkpoint",):
        args.pop(key, None)
    if "optimizer" in args:
        args["optim"] = args.pop("optimizer")
    if "warmup_ratio" in args:  # older transformers' name; now warmup_steps takes a ratio
        args["warmup_steps"] = float(args.pop("warmup_ratio"))
    known = {f.name for f in dataclasses.fields(TrainingArguments)}
    unknown = sorted(set(args) - known)
    if unknown:
        raise InputError(f"{recipe.path}: unknown training_args {unknown}")
    per_step = args["per_device_train_batch_size"] * args["gradient_accumulation_steps"]
    if args.get("max_steps", -1) and args.get("max_steps", -1) > 0:
        total = args["max_steps"]
    else:
        total = max(1, math.ceil(train_rows / per_step) * math.ceil(args["num_train_epochs"]))
    args.setdefault("eval_steps", max(1, total // 20))
    args.setdefault("logging_steps", max(1, total // 100))
    args.setdefault("save_steps", args["eval_steps"])
    args.setdefault("eval_strategy", "steps")
    args.setdefault("save_strategy", "steps")
    args.setdefault("logging_strategy", "steps")
    args.update(
        output_dir=str(output_dir),
        remove_unused_columns=False,
        label_names=["token_labels", "ranking_targets"],
        prediction_loss_only=True,
    )
    if args.get("load_best_model_at_end"):
        args.setdefault("metric_for_best_model", "eval_loss")
        args.setdefault("greater_is_better", False)
    return TrainingArguments(**args), total


def split_head_groups(optimizer, model, head_learning_rate: float):
    """Move the heads' parameters (everything outside `backbone.`) into groups of their own lr.

    The heads start from scratch while the backbone is pretrained: at the backbone's small
    learning rate the tiny match head and query weights barely move in a few hundred steps.
    """
    heads = {id(p) for n, p in model.named_parameters() if not n.startswith("backbone.")}
    extra = []
    for group in optimizer.param_groups:
        mine = [p for p in group["params"] if id(p) in heads]
        group["params"] = [p for p in group["params"] if id(p) not in heads]
        if mine:
            settings = {k: v for k, v in group.items() if k != "params"}
            extra.append({**settings, "params": mine, "lr": head_learning_rate})
    optimizer.param_groups[:] = [g for g in optimizer.param_groups if g["params"]]
    for group in extra:
        optimizer.add_param_group(group)
    return optimizer


def make_trainer_class():
    from transformers import Trainer

    class PrunerTrainer(Trainer):
        """Trainer that logs the loss terms (`LOSS_PARTS`) next to `loss` / `eval_loss`; heads
        may have their own learning rate (`head_learning_rate`)."""

        def __init__(self, *args, head_learning_rate: float | None = None, **kwargs):
            self.head_learning_rate = head_learning_rate
            super().__init__(*args, **kwargs)
            self.model_accepts_loss_kwargs = False
            self._parts: dict[str, list[float]] = defaultdict(list)

        def create_optimizer(self, model=None):
            fresh = self.optimizer is None
            optimizer = super().create_optimizer(model)
            if fresh and self.head_learning_rate:
                split_head_groups(optimizer, model or self.model, self.head_learning_rate)
            return optimizer

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            outputs = model(**inputs)
            prefix = "" if model.training else "eval_"
            for name in LOSS_PARTS:
                part = getattr(outputs, name)
                if part is not None:
                    self._parts[prefix + name].append(float(part.detach()))
            return (outputs.loss, outputs) if return_outputs else outputs.loss

        def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
            prefix = "eval_" if "eval_loss" in logs else "" if "loss" in logs else None
            if prefix is not None:
                for name in LOSS_PARTS:
                    values = self._parts.pop(prefix + name, [])
                    if values:
                        logs[prefix + name] = round(sum(values) / len(values), 4)
            super().log(logs, start_time)

    return PrunerTrainer


def train(
    config_path: str | Path,
    output_dir: str | Path | None = None,
    checkpoint: str | None = None,
    resume_from_checkpoint: str | None = None,
    run_eval: bool = True,
    overrides: dict | None = None,
    overwrite: bool = False,
    auto_resume: bool = False,
    final_model: str | Path | None = None,
) -> Path:
    """Train per the recipe; returns the final model folder.

    `output_dir` (the run folder) holds checkpoint-* and run_fingerprint.json; the final model
    goes to `final_model` (a folder or a file in it, e.g. its config.json; default
    `<output_dir>/final_model`, and without `output_dir` the run folder is its parent).
    How the run starts (`start_run`): an explicit checkpoint resumes; else `overwrite` clears
    the run folder; else `auto_resume` resumes the latest complete checkpoint when the recipe,
    inputs, backbone and code are unchanged (`run_fingerprint`) and starts clean otherwise.
    """
    import torch

    from distilldata.pruner.data import PrunerCollator, prepare_datasets
    from distilldata.pruner.model import ProvencePruner

    started = time.monotonic()
    recipe = load_recipe(config_path)
    final = model_folder(final_model) if final_model is not None else None
    resume = choose_resume(checkpoint, resume_from_checkpoint, recipe.training)
    if resume is not None:
        output_dir = resume.parent
    elif output_dir is None:
        output_dir = (
            final.parent
            if final is not None
            else Path("output") / f"{recipe.name}_{time.strftime('%Y%m%d_%H%M%S')}"
        )
    output_dir = Path(output_dir)
    final = final if final is not None else output_dir / "final_model"
    fingerprint = run_fingerprint(recipe, overrides)
    if resume is not None:
        print(f"resuming from {resume} (step {saved_step(resume)})", flush=True)
    else:
        resume = start_run(output_dir, final, fingerprint, auto_resume, overwrite)
    output_dir.mkdir(parents=True, exist_ok=True)
    write_json(output_dir / FINGERPRINT_FILE, fingerprint)  # what the checkpoints come from

    seed = int({**TRAINING_DEFAULTS, **recipe.training}["seed"])
    data = prepare_datasets(
        recipe.dataset_entries, seed=seed, max_eval_samples=recipe.data.get("max_eval_samples")
    )
    log.info("prepared %d train / %d eval rows: %s", len(data.train), len(data.eval), data.stats)

    max_length = int(recipe.model.get("max_length", 512))
    torch.manual_seed(seed)
    model = build_model(recipe)
    tokenizer = model.tokenizer
    if not data.eval:
        overrides = {**(overrides or {}), "eval_strategy": "no"}
    args, total = training_arguments(recipe, output_dir, len(data.train), overrides)
    log.info(
        "optimizer steps: %d (eval every %s, log every %s)",
        total,
        args.eval_steps,
        args.logging_steps,
    )
    trainer = make_trainer_class()(
        model=model,
        args=args,
        train_dataset=data.train,
        eval_dataset=data.eval or None,
        data_collator=PrunerCollator(tokenizer, max_length),
        processing_class=tokenizer,
        head_learning_rate=recipe.training.get("head_learning_rate"),
    )
    trainer.train(resume_from_checkpoint=str(resume) if resume else None)

    # Written under a temp name and renamed: a killed job never leaves a half-saved final model.
    with atomic_path(final) as tmp:
        trainer.save_model(str(tmp))
        tokenizer.save_pretrained(str(tmp))
        (tmp / "training_args.json").write_text(args.to_json_string(), "utf-8")
        training_log = {
            "recipe": str(recipe.path),
            "data": data.stats,
            "train_seconds": round(time.monotonic() - started, 1),
            "global_step": trainer.state.global_step,
            "resumed_from": (
                {"checkpoint": str(resume), "step": saved_step(resume)} if resume else None
            ),
            "log_history": trainer.state.log_history,
        }
        (tmp / "training_log.json").write_text(json.dumps(training_log, indent=2), "utf-8")
        ProvencePruner.from_pretrained(str(tmp))  # the reload check, before the rename
    print("Training completed successfully!", flush=True)
    print(f"Model saved to: {final}", flush=True)

    if run_eval and recipe.eval_datasets:
        from distilldata.pruner.evaluate import evaluate_to_files

        spec = recipe.eval_datasets
        thresholds = spec.get("threshold", 0.1)
        evaluate_to_files(
            model_path=final,
            config_path=spec["config"],
            thresholds=thresholds if isinstance(thresholds, list) else [thresholds],
            batch_size=int(spec.get("batch_size", 32)),
            output_md=final / "eval_datasets" / "results.md",
            output_json=final / "eval_datasets" / "results.json",
        )
    return final

#!/usr/bin/env python
"""Train a reranker-pruner (ranking logit + token keep/drop head) from a YAML recipe.

Examples:
  python scripts/pruner/train_pruner.py config/training/demo-minilm-squad.yaml \
      --output-dir results/pruner/models/demo-minilm-squad --auto-resume
  # resume: the latest checkpoint of a run folder, or one checkpoint
  python scripts/pruner/train_pruner.py config/training/demo-minilm-squad.yaml \
      --checkpoint results/pruner/models/demo-minilm-squad
  # what the workflow's train_pruner rule runs: the final model as its declared output
  python scripts/pruner/train_pruner.py config/training/tiny.yaml \
      --final-model results/pruner/models/tiny/final_model/config.json --skip-eval --auto-resume
"""

import argparse

from distilldata.core.cli import run_main, script_parser, setup_logging


def parse_args() -> argparse.Namespace:
    p = script_parser(__doc__)
    p.add_argument("config", help="training YAML (model_args, data_args, training_args)")
    p.add_argument(
        "--output-dir",
        default=None,
        help="run folder for checkpoint-*, run_fingerprint.json and final_model/ (default: the "
        "folder above --final-model, else output/<config>_<time>)",
    )
    p.add_argument(
        "--final-model",
        default=None,
        help="where to save the final model: a folder, or a file in it such as "
        "final_model/config.json (how a workflow rule declares it); default "
        "<output-dir>/final_model",
    )
    p.add_argument(
        "--checkpoint",
        default=None,
        help="resume: a run folder (latest complete checkpoint) or checkpoint-N",
    )
    p.add_argument(
        "--resume_from_checkpoint",
        "--resume-from-checkpoint",
        dest="resume_from_checkpoint",
        default=None,
        help="resume from this checkpoint-N folder (Hugging Face style)",
    )
    p.add_argument(
        "--auto-resume",
        action="store_true",
        help="resume from the run folder's latest complete checkpoint when run_fingerprint.json "
        "shows the same recipe, input datasets, backbone and training code; otherwise delete "
        "its checkpoints and start clean (the log says which, and why)",
    )
    p.add_argument("--max-steps", type=int, default=None, help="override training_args.max_steps")
    p.add_argument(
        "--skip-eval",
        action="store_true",
        help="do not run training_args.eval_datasets after training (the workflow evaluates "
        "in its own rule)",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="when not resuming from --checkpoint, delete earlier checkpoint-* and the final "
        "model and start clean (wins over --auto-resume)",
    )
    return p.parse_args()


def main() -> None:
    args = parse_args()
    setup_logging(args.log_level)
    from distilldata.pruner.train import train

    train(
        args.config,
        output_dir=args.output_dir,
        checkpoint=args.checkpoint,
        resume_from_checkpoint=args.resume_from_checkpoint,
        run_eval=not args.skip_eval,
        overrides={"max_steps": args.max_steps} if args.max_steps else None,
        overwrite=args.overwrite,
        auto_resume=args.auto_resume,
        final_model=args.final_model,
    )


if __name__ == "__main__":
    run_main(main)

#!/usr/bin/env python
"""Score a corpus's candidate pools on Modal GPUs: `modal volume put` the pools, `modal run` the
app (distilldata/nll/modal_app.py, one container per pool shard), `modal volume get` the
scores into --output (<pool>/part-NNNNN.parquet). Needs a Modal token (MODAL_TOKEN_ID/SECRET).

Example:
  python scripts/nll/modal_scores.py --pools results/sft/pools/glaive_toolcall \\
      --output results/nll/modal_scores/glaive_toolcall --model openai/gpt-oss-20b \\
      --max_length 8192 --batch_size 16 --gpu H100 --dry_run
"""

import argparse

from distilldata.core.cli import run_main, script_parser, setup_logging


def parse_args() -> argparse.Namespace:
    p = script_parser(__doc__)
    p.add_argument("--pools", required=True, help="the corpus's pool folder (pools_manifest.json)")
    p.add_argument("--output", required=True, help="folder for the downloaded score shards")
    p.add_argument("--corpus", default=None, help="corpus name (default: the pool folder's name)")
    p.add_argument("--model", required=True, help="student (Hub id), MODEL_NAME")
    p.add_argument("--max_length", type=int, default=4096, help="MAX_LENGTH")
    p.add_argument("--batch_size", type=int, default=8, help="BATCH_SIZE (rows per forward)")
    p.add_argument("--batch_tokens", type=int, default=16384, help="tokens per forward")
    p.add_argument("--max_records", type=int, default=0, help="MAX_RECORDS per shard (0: all)")
    p.add_argument("--loss_mode", default=None, help="force a loss mode (default: each row's)")
    p.add_argument("--include_headers", action="store_true", help="score headers, terminators")
    p.add_argument("--ifd", action="store_true", help="also the prompt-free pass (IFD)")
    p.add_argument("--gpu", default="H100", help="Modal GPU type (H100, A100-80GB, H200, ...)")
    p.add_argument("--volume", default="distilldata-nll", help="Modal Volume name")
    p.add_argument(
        "--source",
        default="volume",
        choices=("volume", "hub"),
        help="pools uploaded to the Volume, or read from --dataset_id on the Hub",
    )
    p.add_argument("--dataset_id", default=None, help="CANDIDATE_DATASET_ID (hub source)")
    p.add_argument("--hf_secret", default=None, help="Modal secret holding HF_TOKEN")
    p.add_argument("--max_containers", type=int, default=4, help="containers at a time")
    p.add_argument("--timeout_hours", type=float, default=6, help="per container")
    p.add_argument("--modal", default="modal", help="the modal CLI")
    p.add_argument("--dry_run", action="store_true", help="print the commands, run nothing")
    return p.parse_args()


def main() -> None:
    args = parse_args()
    setup_logging(args.log_level)
    from pathlib import Path

    from distilldata.core.errors import InputError
    from distilldata.nll.modal_run import ModalJob, run_modal_scores

    if args.source == "hub" and not args.dataset_id:
        raise InputError("--source hub needs --dataset_id (the Hub dataset with the pools)")
    env = {
        "MODEL_NAME": args.model,
        "MAX_LENGTH": str(args.max_length),
        "BATCH_SIZE": str(args.batch_size),
        "NLL_BATCH_TOKENS": str(args.batch_tokens),
        "MAX_RECORDS": str(args.max_records),
        "NLL_LOSS_MODE": args.loss_mode or "",
        "NLL_INCLUDE_HEADERS": "1" if args.include_headers else "",
        "NLL_IFD": "1" if args.ifd else "",
        "NLL_GPU": args.gpu,
        "NLL_MAX_CONTAINERS": str(args.max_containers),
        "NLL_TIMEOUT_HOURS": str(args.timeout_hours),
        "NLL_HF_SECRET": args.hf_secret or "",
        "CANDIDATE_DATASET_ID": args.dataset_id or "",
    }
    job = ModalJob(
        corpus=args.corpus or Path(args.pools).name,
        pools_dir=Path(args.pools),
        volume=args.volume,
        source=args.source,
        env=env,
        modal=args.modal,
    )
    run_modal_scores(job, args.output, dry_run=args.dry_run)


if __name__ == "__main__":
    run_main(main)

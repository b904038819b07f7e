#!/usr/bin/env python
"""Convert + frequency filter vs the plain baseline (bench/baseline_provence.py), side by side.

Input: the SQuAD-derived triplets with the train split replicated to --rows rows (heavy
passage reuse, as in real triplet data), plus a --unique-rows run in which every text is made
distinct (so caching distinct texts cannot help: this isolates the splitter + process gains).
Each tool runs as a whole process (imports included); outputs are checked for identity.

  python bench/bench_provence.py --rows 50000 --unique-rows 5000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
from datasets import load_from_disk

REPO = Path(__file__).resolve().parents[1]
CORE = ["id", "query", "texts", "context_spans", "labels", "answer_spans", "title", "source_id"]


def build_input(work: Path, rows: int, unique: bool) -> Path:
    from distilldata.core.store import save_splits
    from distilldata.provence.triplets import build_qa_triplets

    built = build_qa_triplets(REPO / "data/squad/dev-v2.0.json", seed=42)
    tables = {k: pa.Table.from_pylist(v) for k, v in built.rows.items()}
    train = built.rows["train"]
    copies = []
    for i in range(rows):
        row = dict(train[i % len(train)])
        k = i // len(train)
        if unique:
            for col in [c for c in row if c == "positive" or c.startswith("negative_")]:
                row[col] = f"{row[col]} Copy {k}-{i}." if row[col] else ""
        copies.append(row)
    tables["train"] = pa.Table.from_pylist(copies)
    name = f"triplets_{'unique' if unique else 'dup'}_{rows}"
    return save_splits(tables, work / name, overwrite=True)


def timed(cmd: list[str], env: dict) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - start


def same_dataset(a: Path, b: Path) -> bool:
    da, db = load_from_disk(str(a)), load_from_disk(str(b))
    if set(da) != set(db):
        return False
    for split in da:
        cols = [c for c in CORE if c in da[split].column_names]
        ta = da[split].data.table.select(cols)
        tb = db[split].data.table.select(cols)
        if ta.to_pylist() != tb.to_pylist():
            return False
    return True


def bench_convert(work: Path, source: Path, env: dict, label: str) -> dict:
    ours_root, base_out = work / f"ours_{label}", work / f"baseline_{label}"
    for p in (ours_root, base_out):
        shutil.rmtree(p, ignore_errors=True)
    t_ours = timed(
        [
            sys.executable,
            str(REPO / "scripts/provence/convert_triplets.py"),
            "--dataset",
            str(source),
            "--output-root",
            str(ours_root),
            "--slug",
            "squad",
            "--num-proc",
            "2",
        ],
        env,
    )
    t_base = timed(
        [
            sys.executable,
            str(REPO / "bench/baseline_provence.py"),
            "convert",
            "--dataset",
            str(source),
            "--output",
            str(base_out),
            "--slug",
            "squad",
        ],
        env,
    )
    identical = same_dataset(ours_root / "squad", base_out)
    return {
        "ours_s": t_ours,
        "baseline_s": t_base,
        "ratio": t_base / t_ours,
        "identical": identical,
        "ours_dir": str(ours_root / "squad"),
        "baseline_dir": str(base_out),
    }


def bench_filter(work: Path, ours_in: str, base_in: str, env: dict) -> dict:
    ours_out, base_out = work / "freq_ours", work / "freq_baseline"
    for p in (ours_out, base_out):
        shutil.rmtree(p, ignore_errors=True)
    flags = ["--threshold", "1", "--threshold", "2", "--threshold", "3"]
    t_ours = timed(
        [
            sys.executable,
            str(REPO / "scripts/provence/frequency_filter.py"),
            "--dataset",
            ours_in,
            "--output-dir",
            str(ours_out),
            *flags,
        ],
        env,
    )
    t_base = timed(
        [
            sys.executable,
            str(REPO / "bench/baseline_provence.py"),
            "filter",
            "--dataset",
            base_in,
            "--output-dir",
            str(base_out),
            *flags,
        ],
        env,
    )
    ours_stats = json.loads((ours_out / "stats.json").read_text())["thresholds"]
    base_stats = json.loads((base_out / "stats.json").read_text())
    identical = True
    for n in (1, 2, 3):
        a = list(load_from_disk(str(ours_out / f"freq{n}"))["train"]["id"])
        b = list(load_from_disk(str(base_out / f"freq{n}"))["train"]["id"])
        identical &= (
            a == b
            and abs(ours_stats[f"freq{n}"]["dup_ratio"] - base_stats[f"freq{n}"]["dup_ratio"])
            < 1e-12
        )
    return {
        "ours_s": t_ours,
        "baseline_s": t_base,
        "ratio": t_base / t_ours,
        "identical": identical,
        "rows_kept": {k: v["rows_kept"] for k, v in ours_stats.items()},
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--rows", type=int, default=50_000)
    p.add_argument("--unique-rows", type=int, default=5_000)
    p.add_argument("--workdir", default="/tmp/distilldata-bench/provence")
    args = p.parse_args()
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)

    from distilldata.text.sentences import export_punkt_tables

    export_punkt_tables(work / "nltk_data", ["english"])
    env = dict(
        os.environ, NLTK_DATA=str(work / "nltk_data"), HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1"
    )

    results = {"rows": args.rows, "unique_rows": args.unique_rows, "cpus": os.cpu_count()}
    dup = build_input(work, args.rows, unique=False)
    results["convert"] = bench_convert(work, dup, env, "dup")
    results["frequency_filter"] = bench_filter(
        work, results["convert"]["ours_dir"], results["convert"]["baseline_dir"], env
    )
    uniq = build_input(work, args.unique_rows, unique=True)
    results["convert_unique_texts"] = bench_convert(work, uniq, env, "unique")
    (work / "results.json").write_text(json.dumps(results, indent=2))

    for name in ("convert", "frequency_filter", "convert_unique_texts"):
        r = results[name]
        print(
            f"{name:22s} ours {r['ours_s']:8.1f}s  baseline {r['baseline_s']:8.1f}s  "
            f"ratio {r['ratio']:6.1f}x  identical={r['identical']}"
        )


if __name__ == "__main__":
    main()

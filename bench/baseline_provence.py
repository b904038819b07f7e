#!/usr/bin/env python
"""Baseline for bench_provence.py: the seed's converter and frequency filter, done the plain way.

Row by row: `nltk.sent_tokenize` + `str.find` spans, `Dataset.from_list`; md5 per text in a
Python loop, one pass and one `Dataset.filter` per threshold. Semantics are the ones our
library implements (natural negative order, `<slug>:<split>:<row>` ids, carried columns) so the
outputs can be compared for identity.

  python bench/baseline_provence.py convert --dataset DIR --output DIR --slug S
  python bench/baseline_provence.py filter --dataset DIR --output-dir DIR --threshold 1 ...
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
from collections import Counter
from pathlib import Path

import nltk
from datasets import Dataset, DatasetDict, load_from_disk


def text_to_spans(text: str) -> list[list[int]]:
    spans, cursor = [], 0
    for sentence in nltk.sent_tokenize(text, language="english"):
        stripped = sentence.strip()
        if not stripped:
            continue
        start = text.find(stripped, cursor)
        if start == -1:
            start = text.find(stripped)
        if start == -1:
            continue
        spans.append([start, start + len(stripped)])
        cursor = start + len(stripped)
    if spans:
        return spans
    stripped = text.strip()
    return [[text.find(stripped), text.find(stripped) + len(stripped)]] if stripped else [[0, 0]]


def natural(name: str) -> tuple:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name))


def convert(dataset: str, output: str, slug: str) -> None:
    source = load_from_disk(dataset)
    out = {}
    for split, ds in source.items():
        negatives = sorted((c for c in ds.column_names if c.startswith("negative")), key=natural)
        extra = [c for c in ds.column_names if c not in {"query", "positive", *negatives}]
        records = []
        for idx, row in enumerate(ds):
            texts = [row["positive"]] + [row[c] for c in negatives if row[c]]
            record = {
                "id": f"{slug}:{split}:{idx}",
                "query": row["query"],
                "texts": texts,
                "context_spans": [text_to_spans(t) for t in texts],
                "labels": [1] + [0] * (len(texts) - 1),
            }
            record.update({c: row[c] for c in extra})
            records.append(record)
        out[split] = Dataset.from_list(records)
    DatasetDict(out).save_to_disk(output)


def frequency_filter(dataset: str, output_dir: str, thresholds: list[int]) -> None:
    source = load_from_disk(dataset)
    train = source["train"]
    stats = {}
    for threshold in sorted(set(thresholds)):
        seen, total, drop = Counter(), Counter(), set()
        for row in train:
            hashes = [hashlib.md5(t.encode("utf-8")).hexdigest() for t in row["texts"]]
            for h in hashes:
                total[h] += 1
            if sum(1 for h in hashes if seen[h] > 0) > threshold:
                drop.add(row["id"])
                continue
            for h in hashes:
                seen[h] += 1
        kept = train.filter(lambda r, drop=drop: r["id"] not in drop)
        target = Path(output_dir) / f"freq{threshold}"
        DatasetDict({**source, "train": kept}).save_to_disk(str(target))
        kept_total = sum(seen.values())
        stats[f"freq{threshold}"] = {
            "rows_kept": len(kept),
            "dup_ratio": (kept_total - len(seen)) / kept_total if kept_total else 0.0,
        }
    Path(output_dir, "stats.json").write_text(json.dumps(stats, indent=2))


def main() -> None:
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("convert")
    c.add_argument("--dataset", required=True)
    c.add_argument("--output", required=True)
    c.add_argument("--slug", required=True)
    f = sub.add_parser("filter")
    f.add_argument("--dataset", required=True)
    f.add_argument("--output-dir", required=True)
    f.add_argument("--threshold", type=int, action="append", required=True)
    args = p.parse_args()
    if args.cmd == "convert":
        convert(args.dataset, args.output, args.slug)
    else:
        frequency_filter(args.dataset, args.output_dir, args.threshold)


if __name__ == "__main__":
    main()

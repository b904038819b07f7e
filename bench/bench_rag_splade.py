#!/usr/bin/env python
"""SPLADE index build and search: ScaleDown's dense method against ours, side by side.

Same model (SPLADE-tiny, `package:cognition/model`), same corpus (the demo's SQuAD 2.0 and
wiki_demo articles as KILT lines, `paper` chunks, replicated to --chunks), same queries (SQuAD
questions) and top-k. Each method runs in its own process (so peak RSS is its own:
`resource.getrusage(RUSAGE_SELF).ru_maxrss`), reading the same texts from a temp file:

- scaledown: `bench/baseline_scaledown_splade.py` (dense 30,522-wide vectors, `Q @ D.T`,
  argsort);
- ours: `distilldata.rag.splade.SPLADERetriever` (length-sorted padded batches, MLM head on
  real tokens only with max-pooled logits, bf16 screen where the CPU has bf16 units, inverted
  CSR index, sparse search).

Printed and written to --output: documents/s of the index build, queries/s of the search
(encoding + scoring + top-k), peak RSS, and how the two top-k lists agree (scores within 1e-4,
and the same documents once replicated copies are mapped back to the chunk they copy:
copies tie, and the two methods order ties differently).

Index-build speed is measured twice: on --speed_chunks chunks with the two methods alternating
(best of --repeats each, so load from other processes hits both alike), and over the full
corpus in the single full run of each method (which also gives search speed, RSS, agreement).

  python bench/bench_rag_splade.py --chunks 20000 --queries 512 --threads 1
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
MODEL = "package:cognition/model"


def corpus_and_queries(n_chunks: int, n_queries: int) -> dict:
    """Real chunks (SQuAD + wiki_demo), repeated up to n_chunks; SQuAD questions."""
    from distilldata.rag.chunking import Chunker
    from distilldata.rag.corpus import to_document
    from distilldata.rag.corpus_parts import load_tokenizer
    from distilldata.rag.kilt import squad_kilt_records, wiki_demo_kilt_records
    from distilldata.rag.squad import read_squad

    data = REPO / "data"
    records = list(squad_kilt_records(data / "squad" / "dev-v2.0.json"))
    records += list(
        wiki_demo_kilt_records(
            data / "rag" / "llamafactory" / "wiki_demo.txt",
            data / "rag" / "llamafactory" / "wiki_demo_titles.tsv",
        )
    )
    chunker = Chunker("paper", load_tokenizer(MODEL), "en", 128)
    unique = [
        f"{c.title} {c.text}"
        for i, r in enumerate(records)
        for c in chunker.chunks(to_document(r, "kilt", str(i)))
    ]
    texts = [unique[i % len(unique)] for i in range(max(n_chunks, len(unique)))]
    questions = [
        q.question for a in read_squad(data / "squad" / "dev-v2.0.json") for q in a.questions
    ]
    return {"texts": texts, "unique": len(unique), "queries": questions[::7][:n_queries]}


def build_speed(method: str, texts: list[str]) -> float:
    """Documents/s of one index build (model loaded before the clock starts)."""
    from distilldata.core.models import resolve_model

    if method == "scaledown":
        from baseline_scaledown_splade import ScaleDownSplade

        model = ScaleDownSplade(resolve_model(MODEL))
        build = model.encode
    else:
        from distilldata.rag.splade import SPLADERetriever

        build = SPLADERetriever(MODEL).build
    start = time.perf_counter()
    build(texts)
    return len(texts) / (time.perf_counter() - start)


def run_child(
    method: str, inputs: Path, top_k: int, threads: int, out: Path, speed: int = 0
) -> None:
    import numpy as np
    import torch

    from distilldata.core.models import resolve_model

    torch.set_num_threads(threads)
    payload = json.loads(inputs.read_text())
    texts, queries = payload["texts"], payload["queries"]
    if speed:
        out.write_text(json.dumps({"docs_per_s": build_speed(method, texts[:speed])}))
        return
    if method == "scaledown":
        from baseline_scaledown_splade import ScaleDownSplade

        model = ScaleDownSplade(resolve_model(MODEL))
        start = time.perf_counter()
        docs = model.encode(texts)
        build = time.perf_counter() - start
        start = time.perf_counter()
        rows, scores = model.retrieve(model.encode(queries), docs, top_k)
        search = time.perf_counter() - start
        index_bytes = docs.nbytes
    else:
        from distilldata.rag.splade import SPLADERetriever

        model = SPLADERetriever(MODEL)
        start = time.perf_counter()
        index = model.build(texts)
        build = time.perf_counter() - start
        start = time.perf_counter()
        hits = model.search(index, queries, top_k)
        search = time.perf_counter() - start
        rows, scores = hits.rows, hits.scores
        index_bytes = index.data.nbytes + index.indices.nbytes + index.indptr.nbytes
    np.savez(out.with_suffix(".npz"), rows=rows, scores=scores)
    result = {
        "method": method,
        "chunks": len(texts),
        "queries": len(queries),
        "build_seconds": build,
        "docs_per_s": len(texts) / build,
        "search_seconds": search,
        "queries_per_s": len(queries) / search,
        "index_bytes": int(index_bytes),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    out.write_text(json.dumps(result))


def agreement(ours: Path, theirs: Path, unique: int) -> dict:
    import numpy as np

    a, b = np.load(ours), np.load(theirs)
    same_scores = np.abs(a["scores"] - b["scores"]).max()
    rows_a, rows_b = a["rows"] % unique, b["rows"] % unique  # a copy stands for its chunk
    # the same chunks, in the same order once each run of equal scores is taken as a set
    agree = 0
    for ra, rb, sa in zip(rows_a, rows_b, a["scores"], strict=True):
        groups_a, groups_b, start = [], [], 0
        for end in range(1, len(sa) + 1):
            if end == len(sa) or abs(sa[end] - sa[start]) > 1e-4:
                groups_a.append(sorted(ra[start:end]))
                groups_b.append(sorted(rb[start:end]))
                start = end
        agree += groups_a[:-1] == groups_b[:-1]  # the last group may be cut at k in either
    return {
        "max_score_difference": float(same_scores),
        "queries_with_the_same_top_k": int(agree),
        "queries": len(rows_a),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--chunks", type=int, default=20000, help="corpus size (real chunks repeated)")
    p.add_argument("--queries", type=int, default=512, help="SQuAD questions searched")
    p.add_argument("--top_k", type=int, default=20, help="hits per query")
    p.add_argument("--threads", type=int, default=1, help="torch threads of each method")
    p.add_argument(
        "--speed_chunks",
        type=int,
        default=1000,
        help="index-build speed: this many chunks, the methods alternating (best of --repeats)",
    )
    p.add_argument("--repeats", type=int, default=2, help="alternating speed runs per method")
    p.add_argument("--output", default=str(REPO / "bench/out/rag_splade.json"), help="result")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    p.add_argument("--inputs", default=None, help=argparse.SUPPRESS)
    p.add_argument("--child_output", default=None, help=argparse.SUPPRESS)
    p.add_argument("--speed", type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        run_child(
            args.child,
            Path(args.inputs),
            args.top_k,
            args.threads,
            Path(args.child_output),
            args.speed,
        )
        return
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        payload = corpus_and_queries(args.chunks, args.queries)
        (tmp / "inputs.json").write_text(json.dumps(payload))
        base = [sys.executable, __file__, "--inputs", str(tmp / "inputs.json")]
        base += ["--top_k", str(args.top_k), "--threads", str(args.threads)]

        def child(method: str, speed: int = 0) -> dict:
            out = tmp / f"{method}.json"
            cmd = [*base, "--child", method, "--child_output", str(out), "--speed", str(speed)]
            subprocess.run(cmd, check=True)
            return json.loads(out.read_text())

        speeds = {"ours": [], "scaledown": []}
        for _ in range(args.repeats):  # alternating, so load from others hits both alike
            for method in speeds:
                speeds[method].append(child(method, args.speed_chunks)["docs_per_s"])
                print(method, "docs/s", round(speeds[method][-1], 1), flush=True)
        results = {}
        for method in ("ours", "scaledown"):
            results[method] = child(method)
            print(json.dumps(results[method]), flush=True)
        ours, theirs = results["ours"], results["scaledown"]
        summary = {
            "chunks": ours["chunks"],
            "unique_chunks": payload["unique"],
            "queries": ours["queries"],
            "top_k": args.top_k,
            "threads": args.threads,
            "load_average": os.getloadavg(),
            "ours": ours,
            "scaledown": theirs,
            "speed_chunks": args.speed_chunks,
            "docs_per_s_alternating": {m: max(v) for m, v in speeds.items()},
            "build_speedup": max(speeds["ours"]) / max(speeds["scaledown"]),
            "build_speedup_full_run": ours["docs_per_s"] / theirs["docs_per_s"],
            "search_speedup": ours["queries_per_s"] / theirs["queries_per_s"],
            "rss_ratio": theirs["peak_rss_mb"] / ours["peak_rss_mb"],
            "agreement": agreement(tmp / "ours.npz", tmp / "scaledown.npz", payload["unique"]),
        }
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    from distilldata.core.store import write_json

    write_json(args.output, summary)
    print(json.dumps({k: v for k, v in summary.items() if k not in ("ours", "scaledown")}))


if __name__ == "__main__":
    main()

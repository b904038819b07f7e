"""How good are the span labels? Precision / recall / F2 of `context_spans_relevance` against gold.

Gold exists where the dataset carries `answer_spans` (SQuAD-derived data): in `texts[0]` a
sentence is relevant iff it overlaps an answer; the other texts (other paragraphs of the
article) have no relevant sentence. Counts are micro TP/FP/TN/FN over the spans of every text
that got a label (texts without a prompt, `[]`, are counted as skipped; spans flagged -1,
which the labeling prompt never showed, are counted as `unknown_spans` and not scored), as the
seed's `eval_datasets.py` counts them; F2 = 5PR / (4P + R), the evaluator's own function
(`span_metrics.f_beta`). Scores are kept exact in the JSON and rounded in the Markdown only.
Two scopes: all texts, and the positive text only (where the answer is, so recall there is
the interesting number).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from distilldata.core.errors import InputError
from distilldata.core.sources import load_tables
from distilldata.core.span_metrics import Confusion, f_beta, precision, recall, span_accuracy
from distilldata.core.store import write_json, write_text
from distilldata.provence.relevance import COLUMN, GOLD_COLUMN
from distilldata.text.answer_spans import gold_relevance

log = logging.getLogger(__name__)

SCOPES = ("all_texts", "positive_text")


def metrics(tp: int, fp: int, tn: int, fn: int) -> dict:
    c = Confusion(tp=tp, fp=fp, tn=tn, fn=fn)
    p, r = precision(c), recall(c)
    return {
        "precision": p,
        "recall": r,
        "f2": f_beta(p, r),
        "span_accuracy": span_accuracy(c),
        "confusion_matrix": {"tp": tp, "fp": fp, "tn": tn, "fn": fn},
        "spans": c.total,
    }


def split_quality(rows: list[dict]) -> dict:
    counts = {scope: Confusion() for scope in SCOPES}
    texts = skipped = unknown = 0
    for row in rows:
        answers = row[GOLD_COLUMN] or []
        spans_per_text, flags_per_text = row["context_spans"], row[COLUMN] or []
        if flags_per_text and len(flags_per_text) != len(spans_per_text):
            raise InputError(
                f"row {row.get('id')!r}: {len(flags_per_text)} {COLUMN} lists for "
                f"{len(spans_per_text)} texts; they must align one to one"
            )
        for t, spans in enumerate(spans_per_text):
            texts += 1
            flags = flags_per_text[t] if flags_per_text else []
            if not flags:
                skipped += 1
                continue
            if len(flags) != len(spans):
                raise InputError(
                    f"row {row.get('id')!r}, text {t}: {len(flags)} flags for {len(spans)} "
                    f"spans in {COLUMN}; a label list has one flag per span"
                )
            gold = gold_relevance(spans, answers) if t == 0 else [0] * len(spans)
            known = [i for i, f in enumerate(flags) if f >= 0]
            unknown += len(flags) - len(known)
            for scope in SCOPES if t == 0 else SCOPES[:1]:
                counts[scope].add([gold[i] for i in known], [flags[i] for i in known])
    out = {"rows": len(rows), "texts": texts, "texts_skipped": skipped, "unknown_spans": unknown}
    out |= {scope: metrics(c.tp, c.fp, c.tn, c.fn) for scope, c in counts.items()}
    return out


def label_quality(dataset_path: str | Path, markdown: str | Path, json_path: str | Path) -> dict:
    tables = load_tables(str(dataset_path))
    splits = {}
    for name, table in tables.items():
        if COLUMN not in table.column_names or GOLD_COLUMN not in table.column_names:
            missing = [c for c in (COLUMN, GOLD_COLUMN) if c not in table.column_names]
            splits[name] = {"gold": False, "missing": missing}
            continue
        cols = [c for c in ("id", "context_spans", COLUMN, GOLD_COLUMN) if c in table.column_names]
        splits[name] = {"gold": True, **split_quality(table.select(cols).to_pylist())}
    labeler = None
    stats = Path(dataset_path) / "relevance.json"
    if stats.exists():
        labeler = json.loads(stats.read_text("utf-8")).get("labeler")
    report = {"dataset": str(dataset_path), "labeler": labeler, "splits": splits}
    write_json(json_path, report)
    write_text(markdown, render_markdown(report))
    log.info("label quality: %s", {k: v.get("all_texts", {}).get("f2") for k, v in splits.items()})
    return report


def _fmt(value) -> str:
    return "–" if value is None else f"{value:.3f}" if isinstance(value, float) else f"{value:,}"


def render_markdown(report: dict) -> str:
    lines = [
        f"# Span-label quality: `{report['dataset']}`",
        "",
        f"Labeler: `{report['labeler'] or 'unknown'}`. Gold: in `texts[0]` the sentences that "
        "overlap a gold answer span; no relevant sentence in the other texts. Micro counts over "
        "spans; F2 = 5PR/(4P+R).",
        "",
    ]
    gold = {k: v for k, v in report["splits"].items() if v.get("gold")}
    if not gold:
        lines.append("No gold answer offsets (`answer_spans`) in this dataset: nothing to score.")
        return "\n".join(lines) + "\n"
    lines += [
        "| Split | Scope | F2 | Recall | Precision | TP | FP | TN | FN | Spans | Texts skipped |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for split, info in gold.items():
        for scope in SCOPES:
            m, cm = info[scope], info[scope]["confusion_matrix"]
            lines.append(
                f"| {split} | {scope} | {_fmt(m['f2'])} | {_fmt(m['recall'])} | "
                f"{_fmt(m['precision'])} | {cm['tp']:,} | {cm['fp']:,} | {cm['tn']:,} | "
                f"{cm['fn']:,} | {m['spans']:,} | {info['texts_skipped']:,} |"
            )
    unknown = [f"{k} {v['unknown_spans']:,}" for k, v in gold.items() if v.get("unknown_spans")]
    if unknown:
        lines += [
            "",
            f"Spans flagged -1 (never shown to the labeler; not scored): {', '.join(unknown)}.",
        ]
    others = [k for k, v in report["splits"].items() if not v.get("gold")]
    if others:
        lines += ["", f"Splits without gold: {', '.join(others)}."]
    return "\n".join(lines) + "\n"

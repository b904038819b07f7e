"""How good are the span labels? Precision / recall / F2 of `context_spans_relevance` against gold.

Gold exists where the dataset carries `answer_spans` (SQuAD-derived data): in `texts[0]` a
sentence is relevant iff it overlaps an answer; the other texts (other paragraphs of the
article) have no relevant sentence. Counts are micro TP/FP/TN/FN over the spans of every text
that got a label (texts without a prompt, `[]`, are counted as skipped), as the seed's
`eval_datasets.py` counts them; F2 = 5PR / (4P + R). Two scopes: all texts, and the positive
text only (where the answer is, so recall there is the interesting number).
"""

from __future__ import annotations

import logging
from pathlib import Path

from distilldata.gold import gold_relevance
from distilldata.relevance import COLUMN, GOLD_COLUMN
from distilldata.sources import load_tables
from distilldata.store import write_json

log = logging.getLogger(__name__)

SCOPES = ("all_texts", "positive_text")


def _ratio(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def metrics(tp: int, fp: int, tn: int, fn: int) -> dict:
    p, r = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    f2 = round(5 * p * r / (4 * p + r), 4) if p is not None and r is not None and (p or r) else None
    return {
        "precision": p,
        "recall": r,
        "f2": f2,
        "span_accuracy": _ratio(tp + tn, tp + fp + tn + fn),
        "confusion_matrix": {"tp": tp, "fp": fp, "tn": tn, "fn": fn},
        "spans": tp + fp + tn + fn,
    }


def split_quality(rows: list[dict]) -> dict:
    counts = {scope: [0, 0, 0, 0] for scope in SCOPES}
    texts = skipped = 0
    for row in rows:
        answers = row[GOLD_COLUMN] or []
        for t, (spans, flags) in enumerate(zip(row["context_spans"], row[COLUMN], strict=True)):
            texts += 1
            if not flags or len(flags) != len(spans):
                skipped += 1
                continue
            gold = gold_relevance(spans, answers) if t == 0 else [0] * len(spans)
            scopes = SCOPES if t == 0 else SCOPES[:1]
            for pred, want in zip(flags, gold, strict=True):
                cell = (0 if want else 1) if pred else (3 if want else 2)  # tp fp tn fn
                for scope in scopes:
                    counts[scope][cell] += 1
    out = {"rows": len(rows), "texts": texts, "texts_skipped": skipped}
    out |= {scope: metrics(*c) for scope, c in counts.items()}
    return out


def label_quality(dataset_path: str | Path, markdown: str | Path, json_path: str | Path) -> dict:
    tables = load_tables(str(dataset_path))
    splits = {}
    for name, table in tables.items():
        if COLUMN not in table.column_names or GOLD_COLUMN not in table.column_names:
            missing = [c for c in (COLUMN, GOLD_COLUMN) if c not in table.column_names]
            splits[name] = {"gold": False, "missing": missing}
            continue
        cols = ["context_spans", COLUMN, GOLD_COLUMN]
        splits[name] = {"gold": True, **split_quality(table.select(cols).to_pylist())}
    labeler = None
    stats = Path(dataset_path) / "relevance.json"
    if stats.exists():
        import json

        info = json.loads(stats.read_text("utf-8"))
        labeler = info.get("labeler")
    report = {"dataset": str(dataset_path), "labeler": labeler, "splits": splits}
    write_json(json_path, report)
    Path(markdown).write_text(render_markdown(report), "utf-8")
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
    others = [k for k, v in report["splits"].items() if not v.get("gold")]
    if others:
        lines += ["", f"Splits without gold: {', '.join(others)}."]
    return "\n".join(lines) + "\n"

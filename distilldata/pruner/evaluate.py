"""Span-level evaluation of a pruner (the seed's `eval_datasets` tables) and a threshold sweep.

Per dataset of an eval YAML (`split`, `datasets[{dataset_name, subset, n_samples, split,
max_texts}]`): every text of every row (or its first `max_texts`) is scored once
(`pruner_inference.score_texts`); then, per threshold, a sentence is predicted relevant when
its keep-probability is > threshold, and the micro confusion matrix over all sentences of all
texts gives precision, recall, F2 = 5PR/(4P+R), span accuracy; mean compression = mean over
texts of the % of characters removed (`orig = "".join(sentences)`).

Gold labels: `context_spans_relevance` where a text has them, else gold labels from
`answer_spans` (texts[0]; other texts all 0), as training reads them
(`pruner_data.text_relevance`). Fixes to the seed:
- a text without any label is skipped, not scored as all-negative (the seed's convention,
  which training does not share); so is a sentence labelled -1 (unknown: the labeling prompt
  never showed it). `contexts_skipped` counts the skipped texts, `span_skipped` the skipped
  sentences (theirs included). An eval set with no labelled sentence at all is an InputError;
- predictions are the model's own per-sentence decisions, not a string match of the pruned
  text (which misaligns on duplicate or empty sentences).
Compression is over every sentence of a scored text, labelled or not.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from distilldata.core.errors import InputError
from distilldata.core.span_metrics import Confusion, f_beta, precision, recall, span_accuracy
from distilldata.core.store import atomic_path, write_json, write_text

log = logging.getLogger(__name__)

TABLE_HEADER = (
    "| Dataset | F2 Score | Recall | Precision | FN | TP | FP | TN | Mean Compression (%) "
    "| Span Accuracy | Total Spans | Contexts |"
)


# ---- metrics ------------------------------------------------------------------------------

f2 = f_beta  # the seed's headline score: F-beta with beta = 2 (f_beta's default)


def compression(sentences: Sequence[str], keep: Sequence[int]) -> float:
    """% of characters removed from `"".join(sentences)` by keeping only `keep`."""
    total = sum(len(s) for s in sentences)
    kept = sum(len(s) for s, k in zip(sentences, keep, strict=True) if k)
    return (total - kept) / max(total, 1) * 100


# ---- eval config ------------------------------------------------------------------------------


@dataclass
class EvalDataset:
    dataset_name: str
    subset: str | None
    split: str
    n_samples: int | None
    # Score only the first N texts of a row: 1 = the gold-context setting (the question with its
    # own paragraph; our base datasets put the positive first), where every label is gold.
    max_texts: int | None = None

    @property
    def key(self) -> str:
        suffix = f"/texts[:{self.max_texts}]" if self.max_texts else ""
        return f"{self.dataset_name}:{self.subset or self.split}{suffix}"


def load_eval_config(path: str | Path, split: str | None = None) -> list[EvalDataset]:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text("utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(f"{path}: cannot read the eval YAML ({exc})") from exc
    default_split = split or raw.get("split", "test")
    out = []
    for entry in raw.get("datasets") or []:
        if isinstance(entry, str):
            entry = {"dataset_name": entry}
        unknown = set(entry) - {"dataset_name", "subset", "n_samples", "split", "max_texts"}
        if unknown:
            raise InputError(f"{path}: unknown keys {sorted(unknown)} in {entry}")
        max_texts = entry.get("max_texts")
        if max_texts is not None and (not isinstance(max_texts, int) or max_texts < 1):
            raise InputError(f"{path}: max_texts must be a positive integer in {entry}")
        out.append(
            EvalDataset(
                entry["dataset_name"],
                entry.get("subset"),
                split or entry.get("split") or default_split,
                entry.get("n_samples"),
                max_texts,
            )
        )
    if not out:
        raise InputError(f"{path}: `datasets` is empty")
    return out


def eval_datasets_inputs(path: str | Path) -> list[str]:
    """The dataset names an eval YAML reads (for the workflow's input functions)."""
    return list(dict.fromkeys(d.dataset_name for d in load_eval_config(path)))


# ---- evaluation -------------------------------------------------------------------------------


def _gold_and_sentences(row: dict) -> list[tuple[list[int] | None, list[str]]]:
    """Per text: its per-sentence gold (None = unlabelled; -1 = unknown sentence), sentences."""
    from distilldata.pruner.data import text_relevance

    texts, spans_per_text = row["texts"], row["context_spans"]
    if len(texts) != len(spans_per_text):
        raise InputError(
            f"row {row.get('id')!r}: {len(texts)} texts but {len(spans_per_text)} "
            "context_spans lists; they must align one to one"
        )
    out = []
    for text, spans, gold in zip(texts, spans_per_text, text_relevance(row), strict=True):
        sentences = [text[max(0, s) : max(0, min(e, len(text)))] for s, e in spans]
        out.append((gold, sentences))
    return out


def evaluate_dataset(
    model, ds: EvalDataset, thresholds: Sequence[float], batch_size: int, limit: int | None = None
) -> dict[str, dict[str, Any]]:
    """{threshold string: metrics} for one eval dataset."""
    from distilldata.core.sources import load_tables
    from distilldata.pruner.inference import score_texts

    t0 = time.monotonic()
    tables = load_tables(ds.dataset_name, ds.subset)
    if ds.split not in tables:
        raise InputError(f"{ds.key}: no split {ds.split!r} (found {sorted(tables)})")
    n = min(x for x in (ds.n_samples, limit, tables[ds.split].num_rows) if x is not None)
    rows = tables[ds.split].slice(0, n).to_pylist()  # the first N rows, as the seed
    items, golds, sentences = [], [], []
    contexts_skipped = span_skipped = 0
    for row in rows:
        texts = zip(row["texts"], row["context_spans"], _gold_and_sentences(row), strict=True)
        for text, spans, (gold, sents) in list(texts)[: ds.max_texts]:
            if gold is None or (gold and all(g < 0 for g in gold)):
                contexts_skipped += 1  # no label at all: nothing to score it against
                span_skipped += len(spans)
                continue
            span_skipped += sum(1 for g in gold if g < 0)
            items.append((row["query"], text, spans))
            golds.append(gold)
            sentences.append(sents)
    if not any(g >= 0 for gold in golds for g in gold):
        raise InputError(
            f"{ds.key}: no labelled sentence in the first {len(rows)} rows of split "
            f"{ds.split!r} ({contexts_skipped} texts without labels); the eval set needs "
            "`context_spans_relevance` or `answer_spans`"
        )
    if contexts_skipped or span_skipped:
        log.warning(
            "%s: skipped %d unlabelled texts and %d sentences without a label",
            ds.key,
            contexts_skipped,
            span_skipped,
        )
    t1 = time.monotonic()
    scores = score_texts(model, items, batch_size=batch_size)
    t2 = time.monotonic()
    log.info(
        "%s: %d rows, %d contexts scored in %.1fs (%.1f contexts/s)",
        ds.key,
        len(rows),
        len(items),
        t2 - t1,
        len(items) / max(t2 - t1, 1e-9),
    )
    results = {}
    for th in thresholds:
        c = Confusion()
        comps, flat_scores, flat_labels, flat_preds = [], [], [], []
        for gold, sents, sc in zip(golds, sentences, scores, strict=True):
            probs = sc.sentence_probabilities
            pred = [int(p > th) for p in probs]
            known = [i for i, g in enumerate(gold) if g >= 0]
            c.add([gold[i] for i in known], [pred[i] for i in known])
            comps.append(compression(sents, pred))
            flat_scores += [round(probs[i], 5) for i in known]
            flat_labels += [gold[i] for i in known]
            flat_preds += [pred[i] for i in known]
        p, r = precision(c), recall(c)
        results[str(th)] = {
            "span_total": c.total,
            "span_correct": c.tp + c.tn,
            "span_accuracy": span_accuracy(c),
            "span_skipped": span_skipped,
            "contexts": len(items),
            "contexts_skipped": contexts_skipped,
            "mean_compression": sum(comps) / len(comps) if comps else 0.0,
            "process_time_seconds": round(t2 - t1, 3),
            "precision": p,
            "recall": r,
            "f2": f2(p, r),
            "confusion_matrix": {"tp": c.tp, "fp": c.fp, "tn": c.tn, "fn": c.fn},
            "roc_data": {"scores": flat_scores, "labels": flat_labels, "predictions": flat_preds},
            "timing": {
                "preprocess_seconds": round(t1 - t0, 3),
                "inference_seconds": round(t2 - t1, 3),
                "contexts_per_second": round(len(items) / max(t2 - t1, 1e-9), 2),
                "rows": len(rows),
            },
        }
    return results


def _fmt(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def markdown_table(per_dataset: dict[str, dict[str, Any]]) -> list[str]:
    lines = [TABLE_HEADER, "|" + " --- |" * 12]
    for key, m in per_dataset.items():
        cm = m["confusion_matrix"]
        lines.append(
            f"| {key} | {_fmt(m['f2'])} | {_fmt(m['recall'])} | {_fmt(m['precision'])} "
            f"| {cm['fn']} | {cm['tp']} | {cm['fp']} | {cm['tn']} "
            f"| {m['mean_compression']:.2f} | {_fmt(m['span_accuracy'])} "
            f"| {m['span_total']} | {m['contexts']} |"
        )
    return lines


def render_markdown(args: dict[str, Any], results: dict[str, dict[str, dict]]) -> str:
    lines = ["# Pruner evaluation", ""]
    for name in ("timestamp", "model", "config", "batch_size", "total_seconds", "thresholds"):
        lines.append(f"- {name}: {args.get(name)}")
    lines.append(f"- datasets: {', '.join(args.get('datasets', []))}")
    for key, m in next(iter(results.values()), {}).items():
        if m.get("contexts_skipped") or m.get("span_skipped"):
            lines.append(
                f"- skipped in {key} (no gold label): {m.get('contexts_skipped', 0)} texts, "
                f"{m['span_skipped']} sentences"
            )
    best = best_threshold(results)
    if best:
        lines.append(
            f"- best threshold by mean F2: {best[0]} (mean F2 {best[1]:.4f}, mean compression "
            f"{best[2]:.2f}%)"
        )
    datasets = list(dict.fromkeys(k for per_dataset in results.values() for k in per_dataset))
    if len(datasets) > 1:  # the mean's best can suit none of them (e.g. all texts vs gold context)
        for key in datasets:
            own = best_threshold({th: {key: m[key]} for th, m in results.items() if key in m})
            if own:
                lines.append(
                    f"- best threshold for {key}: {own[0]} (F2 {own[1]:.4f}, mean compression "
                    f"{own[2]:.2f}%)"
                )
    for th, per_dataset in results.items():
        lines += ["", f"## Threshold {th}", "", *markdown_table(per_dataset)]
    return "\n".join(lines) + "\n"


def best_threshold(results: dict[str, dict[str, dict]]) -> tuple[str, float, float] | None:
    """(threshold, mean F2, mean compression) with the highest mean F2 over datasets."""
    best = None
    for th, per_dataset in results.items():
        values = [m["f2"] for m in per_dataset.values() if m["f2"] is not None]
        if not values:
            continue
        mean_f2 = sum(values) / len(values)
        comp = sum(m["mean_compression"] for m in per_dataset.values()) / len(per_dataset)
        if best is None or mean_f2 > best[1]:
            best = (th, mean_f2, comp)
    return best


def evaluate_to_files(
    model_path: str | Path,
    config_path: str | Path,
    thresholds: Sequence[float] = (0.1,),
    batch_size: int = 32,
    output_md: str | Path | None = None,
    output_json: str | Path | None = None,
    output_plot: str | Path | None = None,
    split: str | None = None,
    limit: int | None = None,
    target: str | None = None,
    device: str | None = None,
) -> dict[str, Any]:
    """Evaluate a saved pruner on every dataset of an eval YAML; write md / json / plot."""
    import torch

    from distilldata.pruner.model import ProvencePruner

    started = time.monotonic()
    datasets = load_eval_config(config_path, split)
    if target:
        datasets = [d for d in datasets if d.key == target]
        if not datasets:
            raise InputError(f"--target {target!r} matches no dataset of {config_path}")
    thresholds = sorted(dict.fromkeys(float(t) for t in thresholds))
    model = ProvencePruner.from_pretrained(str(model_path))
    if model.tokenizer is None:
        raise InputError(f"{model_path}: no tokenizer files; is this a final_model/ folder?")
    model.to(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    results: dict[str, dict[str, dict]] = {str(t): {} for t in thresholds}
    for ds in datasets:
        for th, metrics in evaluate_dataset(model, ds, thresholds, batch_size, limit).items():
            results[th][ds.key] = metrics
    args = {
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "model": str(model_path),
        "config": str(config_path),
        "batch_size": batch_size,
        "thresholds": thresholds,
        "datasets": [d.key for d in datasets],
        "total_seconds": round(time.monotonic() - started, 1),
    }
    payload = {"args": args, "results": results}
    if output_json:
        write_json(output_json, payload)
    if output_md:
        write_text(output_md, render_markdown(args, results))
    if output_plot:
        plot_sweep(results, output_plot)
    for th, per_dataset in results.items():
        for key, m in per_dataset.items():
            log.info(
                "th=%s %s: F2 %s P %s R %s compression %.2f%%",
                th,
                key,
                _fmt(m["f2"]),
                _fmt(m["precision"]),
                _fmt(m["recall"]),
                m["mean_compression"],
            )
    return payload


def plot_sweep(results: dict[str, dict[str, dict]], path: str | Path) -> None:
    """F2 and mean compression against the threshold, one line per dataset."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    thresholds = sorted(results, key=float)
    keys = list(dict.fromkeys(k for th in thresholds for k in results[th]))
    fig, ax = plt.subplots(figsize=(7, 4.2))
    ax2 = ax.twinx()
    for key in keys:
        xs = [float(t) for t in thresholds if key in results[t]]
        f2s = [results[t][key]["f2"] or 0.0 for t in thresholds if key in results[t]]
        comps = [results[t][key]["mean_compression"] for t in thresholds if key in results[t]]
        (line,) = ax.plot(xs, f2s, marker="o", label=f"F2 {key}")
        ax2.plot(xs, comps, ls="--", marker="x", color=line.get_color(), label=f"compression {key}")
    ax.set_xlabel("threshold (keep if P(keep) > threshold)")
    ax.set_ylabel("F2 (solid)")
    ax2.set_ylabel("mean compression % (dashed)")
    ax.set_ylim(0, 1)
    ax2.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=7)
    ax.set_title("Pruner threshold sweep")
    fig.tight_layout()
    try:
        with atomic_path(path) as tmp:  # the temp name has no extension: name the format
            fig.savefig(tmp, dpi=110, format=Path(path).suffix.lstrip(".") or "png")
    finally:
        plt.close(fig)

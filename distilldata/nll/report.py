"""The NLL report: histograms of `nll_mean` and `percentile_within_split` per pool and split
(PNG, deterministic: Agg backend, no timestamps or software tag), and a Markdown page with the
score summary per corpus/pool/split, the subset sizes and a few example rows per subset."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from distilldata.core.store import atomic_path, write_text
from distilldata.nll.ranking import PERCENTILE

log = logging.getLogger(__name__)

EXAMPLE_CHARS = 160


def panels(scored: Mapping[str, Path]) -> list[tuple[str, dict[str, dict[str, np.ndarray]]]]:
    """[(corpus/pool, {split: {column: values}})] of the scored rows, sorted."""
    out: dict[str, dict[str, dict[str, list]]] = {}
    for corpus in sorted(scored):
        rows = pq.read_table(scored[corpus]).to_pylist()
        for row in rows:
            if row["nll_mean"] is None:
                continue
            for pool in row["pools"]:
                split = out.setdefault(f"{corpus}/{pool}", {}).setdefault(str(row["split"]), {})
                split.setdefault("nll_mean", []).append(row["nll_mean"])
                split.setdefault(PERCENTILE, []).append(row[PERCENTILE])
    return [
        (
            name,
            {s: {k: np.asarray(v) for k, v in cols.items()} for s, cols in sorted(splits.items())},
        )
        for name, splits in sorted(out.items())
    ]


def histogram_figure(data, column: str, bins: int, path: Path, xlabel: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    count = max(1, len(data))
    cols = min(3, count)
    rows = (count + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows), squeeze=False)
    for ax in axes.flat[count:]:
        ax.set_visible(False)
    for ax, (name, splits) in zip(axes.flat, data, strict=False):
        values = np.concatenate([cols[column] for cols in splits.values()])
        lo, hi = (0.0, 1.0) if column == PERCENTILE else (float(values.min()), float(values.max()))
        edges = np.linspace(lo, hi if hi > lo else lo + 1.0, bins + 1)
        for split, cols in splits.items():
            ax.hist(
                cols[column], bins=edges, histtype="step", label=f"{split} (n={len(cols[column])})"
            )
        ax.set_title(name, fontsize=9)
        ax.set_xlabel(xlabel, fontsize=8)
        ax.set_ylabel("rows", fontsize=8)
        ax.legend(fontsize=7)
    if not data:
        axes.flat[0].text(0.5, 0.5, "no scored rows", ha="center", va="center")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=90, metadata={"Software": None})
    plt.close(fig)


def summary_table(scored: Mapping[str, Path]) -> list[str]:
    lines = [
        "| corpus | pool | split | scored | flagged | truncated | mean NLL | median NLL |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for corpus in sorted(scored):
        rows = pq.read_table(scored[corpus]).to_pylist()
        groups: dict[tuple[str, str], list[dict]] = {}
        for row in rows:
            for pool in row["pools"]:
                groups.setdefault((pool, str(row["split"])), []).append(row)
        for (pool, split), members in sorted(groups.items()):
            means = [r["nll_mean"] for r in members if r["nll_mean"] is not None]
            flagged = sum(r["nll_mean"] is None for r in members)
            truncated = sum(bool(r["truncated"]) for r in members)
            mean = f"{np.mean(means):.3f}" if means else "-"
            median = f"{np.median(means):.3f}" if means else "-"
            lines.append(
                f"| {corpus} | {pool} | {split} | {len(means)} | {flagged} | {truncated} "
                f"| {mean} | {median} |"
            )
    return lines


def _snippet(text: str) -> str:
    text = " ".join(str(text).split())
    cut = text[-EXAMPLE_CHARS:] if len(text) > EXAMPLE_CHARS else text
    return cut.replace("|", "\\|")


def subset_section(subsets: Mapping[str, Path], examples: int) -> list[str]:
    lines = ["| subset | rule | rows | per corpus |", "| --- | --- | ---: | --- |"]
    detail: list[str] = []
    for name in sorted(subsets):
        folder = Path(subsets[name])
        manifest = json.loads((folder / "manifest.json").read_text("utf-8"))
        rule, policy = manifest["rule"], manifest["policy"]
        text = (
            f"{rule['min_percentile']} < p <= {rule['max_percentile']}, correctness "
            f"{rule['correctness']} (null: {policy['null_correctness']})"
        )
        if rule["max_ifd"] is not None:
            text += f", IFD <= {rule['max_ifd']}" + ("" if manifest["ifd_applied"] else " (no IFD)")
        per_corpus = ", ".join(f"{c}: {n}" for c, n in manifest["rows_per_corpus"].items())
        lines.append(f"| {name} | {text} | {manifest['rows']} | {per_corpus} |")
        rows = []
        for entry in manifest["files"]:  # the first rows only: subsets can be large
            if len(rows) >= examples:
                break
            batch = next(pq.ParquetFile(folder / entry["path"]).iter_batches(examples), None)
            rows += batch.to_pylist() if batch is not None else []
        detail += ["", f"### {name}: {min(examples, manifest['rows'])} example rows", ""]
        if not rows:
            detail.append("(no rows)")
            continue
        detail += [
            "| id | corpus | split | nll_mean | percentile | correctness | end of the text |",
            "| --- | --- | --- | ---: | ---: | ---: | --- |",
        ]
        for row in rows[:examples]:
            correctness = row.get("meta_correctness")
            detail.append(
                f"| `{row['id']}` | {row['corpus']} | {row['split']} | {row['nll_mean']:.3f} "
                f"| {row[PERCENTILE]:.2f} | {'-' if correctness is None else correctness} "
                f"| {_snippet(row['text'])} |"
            )
    return lines + detail


def build_report(
    scored: Mapping[str, str | Path],
    subsets: Mapping[str, str | Path],
    markdown: str | Path,
    nll_plot: str | Path,
    percentile_plot: str | Path,
    examples: int = 3,
    bins: int = 20,
) -> None:
    scored = {c: Path(p) for c, p in scored.items()}
    data = panels(scored)
    histogram_figure(data, "nll_mean", bins, Path(nll_plot), "nll_mean (nats/token)")
    histogram_figure(data, PERCENTILE, bins, Path(percentile_plot), PERCENTILE)
    models = sorted(
        {
            m
            for p in scored.values()
            for m in pq.read_table(p, columns=["model"]).column(0).to_pylist()
        }
    )
    lines = [
        "# Completion-only NLL scores and selection subsets",
        "",
        f"Student: {', '.join(f'`{m}`' for m in models) or '-'}. Plots: "
        f"`{Path(nll_plot).name}` (nll_mean), `{Path(percentile_plot).name}` ({PERCENTILE}).",
        "",
        "## Scores per corpus, pool and split",
        "",
        *summary_table(scored),
        "",
        "## Subsets",
        "",
        *subset_section(subsets, examples),
        "",
    ]
    write_text(markdown, "\n".join(lines))
    log.info("report: %s", markdown)

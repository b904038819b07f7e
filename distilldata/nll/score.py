"""Completion-only NLL of every row of one candidate-pool shard under a student model.

Per row: the scored character spans (`distilldata.nll.masks`) -> the student's fast-tokenizer
offsets -> a target mask (`distilldata.llm.token_masks`) -> the summed NLL of the targets
(`distilldata.llm.token_scores`). Output, one row per input row (after `max_records`):
`id, split, dataset, pool, model, loss_mode, nll_mean, nll_sum, ppl (exp of the mean, at most
exp(30)), completion_token_count, token_count, truncated, scored_tokens_lost, flag`, plus
`nll_mean_prompt_free, completion_token_count_prompt_free, ifd` with IFD on.

- Rows longer than `max_length` tokens are scored on their first `max_length` tokens, flagged
  `truncated`, and the scored tokens past the cut are counted (`scored_tokens_lost`); a row
  whose every scored token is past the cut is flagged `truncated_away`. Never a silent cut.
- Rows that cannot be scored keep a row with `nll_mean` null and a `flag`: `no_text` (null or
  empty text), `unparseable_harmony`, `no_completion_tokens`, `truncated_away`. A row that an
  earlier pool shard of the corpus also samples is scored there only (`scored_in_earlier_pool`;
  pools overlap by design: tool_use and long_context, verified_correct and high_correctness).
  The stats JSON counts them: rows_in = scored + flagged by reason + scored_in_earlier_pool +
  dropped (`max_records`).
- A missing `id`/`text` column, duplicate ids, or an unknown loss_mode raise InputError.
- Resumable: rows are cut into groups of `group_size`; each group's scores are one GroupCache
  file keyed by a digest of the group's (id, text, loss_mode) and a fingerprint of everything
  that decides the scores (backend, model, tokenizer, dtype, max_length, include_headers), so
  a killed job redoes at most the group it was in.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from distilldata.core.errors import InputError
from distilldata.core.progress import Progress
from distilldata.core.store import write_json, write_parquet
from distilldata.llm.cache import GroupCache, digest_rows, group_bounds, labeler_name
from distilldata.llm.token_masks import target_mask, tokenize_with_offsets
from distilldata.llm.token_scores import (
    TokenScorer,
    TokenScoreSettings,
    TokenSequence,
    make_token_scorer,
)
from distilldata.nll.masks import (
    FLAG_NO_COMPLETION,
    Unscorable,
    check_loss_mode,
    prompt_free_text,
    scored_text,
)

log = logging.getLogger(__name__)

# Bump when the scores change for the same rows and settings (cached groups are then redone).
SCORES_VERSION = 1
FLAG_TRUNCATED_AWAY = "truncated_away"
# A row of several pools is scored once, in the first pool shard (name order) that samples it;
# its other copies carry this flag and the percentile pass gives them the owner's score.
FLAG_ELSEWHERE = "scored_in_earlier_pool"
PPL_CLAMP = 30.0
TOKENIZE_BATCH = 256
SCORE_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("split", pa.string()),
        ("dataset", pa.string()),
        ("pool", pa.string()),
        ("model", pa.string()),
        ("loss_mode", pa.string()),
        ("nll_mean", pa.float64()),
        ("nll_sum", pa.float64()),
        ("ppl", pa.float64()),
        ("completion_token_count", pa.int64()),
        ("token_count", pa.int64()),
        ("truncated", pa.bool_()),
        ("scored_tokens_lost", pa.int64()),
        ("flag", pa.string()),
    ]
)
IFD_FIELDS = [
    ("nll_mean_prompt_free", pa.float64()),
    ("completion_token_count_prompt_free", pa.int64()),
    ("ifd", pa.float64()),
]


@dataclass
class NllSettings:
    """What to score and how; `scorer` holds the model and the backend knobs."""

    backend: str = "local"
    loss_mode: str | None = None  # None: each row's own `loss_mode`
    include_headers: bool = False
    max_length: int = 4096
    max_records: int = 0  # 0: every row
    group_size: int = 256
    ifd: bool = False
    scorer: TokenScoreSettings = field(default_factory=TokenScoreSettings)
    model_name: str | None = None  # the reference as configured (the `model` column)

    @property
    def model_label(self) -> str:
        return self.model_name or self.scorer.model

    def fingerprint(self, dtype: str | None = None) -> str:
        """`<backend>-<model>-<hash of what decides the scores>` (the cache's labeler); `dtype`
        is the one the loaded scorer resolved `auto` to (float32 on CPU, bfloat16 on GPU)."""
        decisive = {k: getattr(self.scorer, k) for k in TokenScoreSettings.fingerprint_fields}
        if dtype:
            decisive["dtype"] = dtype
        decisive.update(
            backend=self.backend,
            model_identity=model_identity(self.scorer.model),
            max_length=self.max_length,
            include_headers=self.include_headers,
            version=SCORES_VERSION,
        )
        return labeler_name(self.backend, self.model_label, decisive, digits=10)


def make_settings(model: str, **options) -> NllSettings:
    """NllSettings from flat options (a CLI's or the Modal app's): the model reference is
    resolved (`package:`, a model file standing for its folder) and each option goes to the
    settings that own it; None means the default."""
    from dataclasses import fields

    from distilldata.core.models import model_folder, resolve_model

    options = {k: v for k, v in options.items() if v is not None}
    scorer_keys = {f.name for f in fields(TokenScoreSettings)}
    tokenizer = options.pop("tokenizer", None)
    scorer = TokenScoreSettings(
        model=str(model_folder(resolve_model(model))),
        tokenizer=str(model_folder(resolve_model(tokenizer))) if tokenizer else None,
        **{k: options.pop(k) for k in list(options) if k in scorer_keys},
    )
    return NllSettings(scorer=scorer, model_name=model, **options)


def model_identity(ref: str) -> str | None:
    """For a local model folder, a digest of its config and weight file sizes (a folder
    rebuilt with other weights under the same path is another model); None for a Hub id."""
    folder = Path(ref)
    if not (folder / "config.json").is_file():
        return None
    digest = hashlib.sha1((folder / "config.json").read_bytes())
    for weights in sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.bin")):
        digest.update(f"{weights.name}:{weights.stat().st_size}".encode())
    return digest.hexdigest()[:12]


@dataclass
class RowPlan:
    """One row's fate: a token sequence to score, or a flag; truncation accounting."""

    flag: str | None = None
    sequence: TokenSequence | None = None
    token_count: int = 0
    truncated: bool = False
    lost: int = 0


def plan_rows(
    texts: Sequence[object],
    modes: Sequence[str],
    settings: NllSettings,
    tokenizer,
    prompt_free: bool = False,
    elsewhere: Sequence[bool] | None = None,
) -> list[RowPlan]:
    """Spans -> tokens -> target masks, cut at `max_length` and after the last target; rows
    scored in an earlier pool shard (`elsewhere`) are only marked."""
    build = prompt_free_text if prompt_free else scored_text
    plans = [RowPlan() for _ in texts]
    scorable: list[tuple[int, object]] = []
    for i, (text, mode) in enumerate(zip(texts, modes, strict=True)):
        if elsewhere is not None and elsewhere[i]:
            plans[i].flag = FLAG_ELSEWHERE
            continue
        try:
            scorable.append((i, build(text, mode, settings.include_headers)))
        except Unscorable as exc:
            plans[i].flag = exc.flag
    for start in range(0, len(scorable), TOKENIZE_BATCH):
        chunk = scorable[start : start + TOKENIZE_BATCH]
        tokenized = tokenize_with_offsets(tokenizer, [st.text for _, st in chunk])
        for (i, st), tok in zip(chunk, tokenized, strict=True):
            plans[i] = cut_row(tok.ids, target_mask(tok.offsets, st.spans), settings.max_length)
    return plans


def cut_row(ids: np.ndarray, mask: np.ndarray, max_length: int) -> RowPlan:
    plan = RowPlan(token_count=len(ids), truncated=len(ids) > max_length)
    total = int(mask.sum())
    kept = mask[:max_length]
    plan.lost = total - int(kept.sum())
    if total == 0:
        plan.flag = FLAG_NO_COMPLETION
    elif not kept.any():
        plan.flag = FLAG_TRUNCATED_AWAY
    else:
        last = int(np.flatnonzero(kept)[-1])
        plan.sequence = TokenSequence(ids[: last + 1], kept[: last + 1].copy())
    return plan


@dataclass
class GroupRun:
    """Scores the groups of one pass (with or without the prompt) through its cache."""

    scorer: TokenScorer
    cache: GroupCache | None
    progress: Progress
    counts: Counter = field(default_factory=Counter)

    def run(self, start: int, end: int, ids: list[str], digest: str, plans: list[RowPlan]):
        """{id: (nll_sum, count)} of the group's scorable rows."""
        cached = self.cache.load("rows", start, end, digest) if self.cache else None
        if cached is not None:
            self.counts["cached"] += 1
            self.progress.total -= sum(len(p.sequence.ids) for p in plans if p.sequence)
            return {k: tuple(v) for k, v in cached.items()}
        todo = [(row_id, p.sequence) for row_id, p in zip(ids, plans, strict=True) if p.sequence]
        scores = self.scorer.score([seq for _, seq in todo])
        result = {row_id: (s.nll_sum, s.count) for (row_id, _), s in zip(todo, scores, strict=True)}
        if self.cache:
            self.cache.save("rows", start, end, digest, {k: list(v) for k, v in result.items()})
        self.counts["computed"] += 1
        self.progress.update(sum(len(seq.ids) for _, seq in todo))
        return result


def sampled_ids(path: Path, max_records: int) -> set[str]:
    """The ids a pool shard scores (its first `max_records` rows; 0: all)."""
    table = pq.read_table(path, columns=["id"])
    if max_records:
        table = table.slice(0, max_records)
    return {str(i) for i in table.column("id").to_pylist()}


def read_pool_rows(path: Path, settings: NllSettings) -> tuple[pa.Table, list[str], int]:
    """(the rows to score, their effective loss modes, rows in the file) with clear errors."""
    schema = pq.read_schema(path)
    for column in ("id", "text"):
        if column not in schema.names:
            raise InputError(f"{path}: no {column!r} column; a candidate pool needs id and text")
    if settings.loss_mode is None and "loss_mode" not in schema.names:
        raise InputError(f"{path}: no 'loss_mode' column; pass --loss_mode to choose one")
    columns = [c for c in ("id", "text", "loss_mode", "split", "dataset") if c in schema.names]
    table = pq.read_table(path, columns=columns)
    rows_in = table.num_rows
    if settings.max_records:
        table = table.slice(0, settings.max_records)
    ids = table.column("id").to_pylist()
    if any(i is None for i in ids):
        raise InputError(f"{path}: row {ids.index(None)} has a null id")
    seen: dict[str, int] = {}
    for row, row_id in enumerate(ids):
        if row_id in seen:
            raise InputError(f"{path}: rows {seen[row_id]} and {row} share id {row_id!r}")
        seen[row_id] = row
    if settings.loss_mode is not None:
        modes = [check_loss_mode(settings.loss_mode, "--loss_mode")] * table.num_rows
    else:
        modes = [
            check_loss_mode(mode, f"{path}: row {row} (id {ids[row]!r})")
            for row, mode in enumerate(table.column("loss_mode").to_pylist())
        ]
    return table, modes, rows_in


def _column(table: pa.Table, name: str) -> list:
    return table.column(name).to_pylist() if name in table.column_names else [None] * len(table)


def _mean(scores: dict, row_id: str) -> tuple[float | None, float | None, int]:
    nll_sum, count = scores.get(row_id, (None, 0))
    if nll_sum is None or not count:
        return None, None, 0
    return nll_sum / count, nll_sum, int(count)


def score_table(
    table: pa.Table,
    modes: list[str],
    settings: NllSettings,
    scorer: TokenScorer,
    cache_root: str | Path | None = None,
    cache_name: str = "pool",
    pool: str | None = None,
    on_group_done: Callable[[int, int, int], None] | None = None,
    scored_elsewhere: set[str] | None = None,
) -> tuple[pa.Table, dict]:
    """Score the rows of `table` (columns id, text [, split, dataset]) except those whose id is
    in `scored_elsewhere`; (scores table, stats)."""
    started = time.monotonic()
    scorer.load()
    ids = [str(i) for i in table.column("id").to_pylist()]
    texts = table.column("text").to_pylist()
    elsewhere = [i in (scored_elsewhere or ()) for i in ids]
    tokenizer = scorer.tokenizer
    passes = {"conditioned": plan_rows(texts, modes, settings, tokenizer, False, elsewhere)}
    if settings.ifd:
        passes["prompt_free"] = plan_rows(texts, modes, settings, tokenizer, True, elsewhere)
    fingerprint = settings.fingerprint(scorer.describe().get("dtype"))
    total = sum(len(p.sequence.ids) for plans in passes.values() for p in plans if p.sequence)
    progress = Progress(total, "tokens", log)
    runs = {
        name: GroupRun(
            scorer,
            GroupCache(cache_root, cache_name, f"{fingerprint}-{name}") if cache_root else None,
            progress,
        )
        for name in passes
    }
    keys = ("id", "text", "loss_mode", "elsewhere")
    rows = zip(ids, texts, modes, elsewhere, strict=True)
    keyed = [dict(zip(keys, row, strict=True)) for row in rows]
    results: dict[str, dict] = {name: {} for name in passes}
    for index, (start, end) in enumerate(group_bounds(len(ids), settings.group_size)):
        digest = digest_rows(keyed[start:end], keys)
        for name, plans in passes.items():
            results[name].update(
                runs[name].run(start, end, ids[start:end], digest, plans[start:end])
            )
        if on_group_done:
            on_group_done(index, start, end)
    out = assemble(ids, table, modes, passes, results, settings, pool)
    stats = shard_stats(out, passes, runs, scorer, settings, fingerprint)
    stats["seconds"] = round(time.monotonic() - started, 3)
    scoring_seconds = max(stats["seconds"] - stats["load_seconds"], 1e-9)
    stats["tokens_per_s"] = round(progress.done / scoring_seconds)
    return out, stats


def assemble(ids, table, modes, passes, results, settings, pool) -> pa.Table:
    plans = passes["conditioned"]
    columns: dict[str, list] = {name: [] for name in SCORE_SCHEMA.names}
    extra: dict[str, list] = {name: [] for name, _ in IFD_FIELDS}
    splits, datasets = _column(table, "split"), _column(table, "dataset")
    for row, row_id in enumerate(ids):
        plan = plans[row]
        mean, nll_sum, count = _mean(results["conditioned"], row_id)
        values = {
            "id": row_id,
            "split": splits[row],
            "dataset": datasets[row],
            "pool": pool,
            "model": settings.model_label,
            "loss_mode": modes[row],
            "nll_mean": mean,
            "nll_sum": nll_sum,
            "ppl": math.exp(min(mean, PPL_CLAMP)) if mean is not None else None,
            "completion_token_count": count,
            "token_count": plan.token_count,
            "truncated": plan.truncated,
            "scored_tokens_lost": plan.lost,
            "flag": plan.flag,
        }
        for name, value in values.items():
            columns[name].append(value)
        if settings.ifd:
            free, _, free_count = _mean(results["prompt_free"], row_id)
            extra["nll_mean_prompt_free"].append(free)
            extra["completion_token_count_prompt_free"].append(free_count)
            ifd = mean / free if mean is not None and free else None
            extra["ifd"].append(ifd)
    schema = SCORE_SCHEMA
    if settings.ifd:
        for name, kind in IFD_FIELDS:
            schema = schema.append(pa.field(name, kind))
        columns.update(extra)
    return pa.table(columns, schema=schema)


def shard_stats(out, passes, runs, scorer, settings, fingerprint) -> dict:
    flags = Counter(f for f in out.column("flag").to_pylist() if f)
    elsewhere = flags.pop(FLAG_ELSEWHERE, 0)
    plans = passes["conditioned"]
    stats = {
        "model": settings.model_label,
        "fingerprint": fingerprint,
        "scorer": scorer.describe(),
        "settings": {k: v for k, v in asdict(settings).items() if k != "scorer"},
        "rows_out": out.num_rows,
        "scored": out.num_rows - sum(flags.values()) - elsewhere,
        "flagged": dict(sorted(flags.items())),
        FLAG_ELSEWHERE: elsewhere,
        "truncated": sum(p.truncated for p in plans),
        "scored_tokens_lost": sum(p.lost for p in plans),
        "tokens": sum(p.token_count for p in plans),
        "target_tokens": int(sum(c or 0 for c in out.column("completion_token_count").to_pylist())),
        "groups": {name: dict(sorted(run.counts.items())) for name, run in runs.items()},
        "load_seconds": round(scorer.load_seconds, 3),
    }
    if settings.ifd:
        free = Counter(p.flag for p in passes["prompt_free"] if p.flag)
        stats["prompt_free_flagged"] = dict(sorted(free.items()))
    return stats


def score_shard(
    input_path: str | Path,
    output_path: str | Path,
    stats_path: str | Path,
    settings: NllSettings,
    scorer: TokenScorer | None = None,
    cache_root: str | Path | None = None,
    cache_name: str | None = None,
    pool: str | None = None,
    on_group_done: Callable[[int, int, int], None] | None = None,
    earlier_shards: Sequence[str | Path] = (),
) -> dict:
    """Score one pool shard into `output_path` (Parquet) and `stats_path` (JSON). Rows that
    `earlier_shards` (the corpus's pool shards before this one, in name order) sample too are
    not scored again (flag `scored_in_earlier_pool`)."""
    input_path = Path(input_path)
    table, modes, rows_in = read_pool_rows(input_path, settings)
    seen: set[str] = set()
    for earlier in earlier_shards:
        seen |= sampled_ids(Path(earlier), settings.max_records)
    owned = scorer is None
    if owned:
        scorer = make_token_scorer(settings.backend, settings.scorer)
    pool = pool or input_path.parent.name
    cache_name = cache_name or f"{pool}/{input_path.stem}"
    try:
        out, stats = score_table(
            table, modes, settings, scorer, cache_root, cache_name, pool, on_group_done, seen
        )
    finally:
        if owned:
            scorer.close()
    dropped = rows_in - table.num_rows
    stats = {
        "input": str(input_path),
        "output": str(output_path),
        "pool": pool,
        "rows_in": rows_in,
        "dropped": {"max_records": dropped} if dropped else {},
        **stats,
    }
    write_parquet(out, output_path)
    write_json(stats_path, stats)
    log.info(
        "%s: %d rows, %d scored, flagged %s, %d truncated; %s",
        input_path,
        rows_in,
        stats["scored"],
        stats["flagged"],
        stats["truncated"],
        stats["groups"],
    )
    return stats

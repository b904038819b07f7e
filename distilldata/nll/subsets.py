"""Selection subsets from the student's NLL percentiles x the teacher-side correctness.

A subset is a band of `percentile_within_split` (lo < p <= hi) crossed with a correctness level
(`high`: meta_correctness >= high_correctness; `low`: < low_correctness; `any`) and, when the
scores carry IFD, an upper bound on it (Cherry LLM drops IFD > 1: the prompt does not help).
What a null `meta_correctness` counts as is a policy (`null_correctness`): `exclude` (neither
high nor low), `high` (trust the teacher, e.g. corpora of verified trajectories only) or
`low`. Flagged rows (no score) are never selected; truncated rows only if allowed.

Each subset folder holds `part-NNNNN.parquet` (the pool row columns + the scores + `corpus` and
`nll_subset`) and `manifest.json`: rows, bytes and sha256 per file, the rule and thresholds that
chose the rows, and the input files with their sha256.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from distilldata.core.errors import InputError
from distilldata.core.store import atomic_path, sha256_file, write_json, write_parquet
from distilldata.nll.ranking import PERCENTILE

log = logging.getLogger(__name__)

CORRECTNESS_LEVELS = ("high", "low", "any")
NULL_POLICIES = ("exclude", "high", "low")


@dataclass(frozen=True)
class SubsetRule:
    name: str
    min_percentile: float = 0.0
    max_percentile: float = 1.0
    correctness: str = "high"
    max_ifd: float | None = None

    def __post_init__(self):
        if self.correctness not in CORRECTNESS_LEVELS:
            raise InputError(
                f"subset {self.name}: correctness {self.correctness!r}; "
                f"use one of {CORRECTNESS_LEVELS}"
            )
        if not 0.0 <= self.min_percentile < self.max_percentile <= 1.0:
            raise InputError(
                f"subset {self.name}: need 0 <= min_percentile < max_percentile <= 1, got "
                f"{self.min_percentile}, {self.max_percentile}"
            )


@dataclass(frozen=True)
class SubsetPolicy:
    high_correctness: float = 0.75
    low_correctness: float = 0.25
    null_correctness: str = "exclude"
    exclude_truncated: bool = True
    rows_per_file: int = 100_000

    def __post_init__(self):
        if self.null_correctness not in NULL_POLICIES:
            raise InputError(
                f"null_correctness {self.null_correctness!r}: use one of {NULL_POLICIES}"
            )


def _numbers(table: pa.Table, column: str) -> np.ndarray:
    if column not in table.column_names:
        return np.full(table.num_rows, np.nan)
    values = pc.cast(table.column(column), pa.float64())
    return np.asarray(pc.fill_null(values, float("nan")).to_numpy(zero_copy_only=False))


def correctness_mask(values: np.ndarray, level: str, policy: SubsetPolicy) -> np.ndarray:
    if level == "any":
        return np.ones(len(values), dtype=bool)
    missing = np.isnan(values)
    with np.errstate(invalid="ignore"):
        if level == "high":
            known = values >= policy.high_correctness
        else:
            known = values < policy.low_correctness
    return np.where(missing, policy.null_correctness == level, known)


def select(table: pa.Table, rule: SubsetRule, policy: SubsetPolicy) -> np.ndarray:
    """Which rows of a joined table (scores + pool columns) the rule takes."""
    percentile = _numbers(table, PERCENTILE)
    with np.errstate(invalid="ignore"):
        mask = (percentile > rule.min_percentile) & (percentile <= rule.max_percentile)
    mask &= correctness_mask(_numbers(table, "meta_correctness"), rule.correctness, policy)
    if policy.exclude_truncated and "truncated" in table.column_names:
        mask &= ~np.asarray(pc.fill_null(table.column("truncated"), False).to_pylist(), dtype=bool)
    if rule.max_ifd is not None and "ifd" in table.column_names:
        ifd = _numbers(table, "ifd")
        mask &= np.isnan(ifd) | (ifd <= rule.max_ifd)  # unknown IFD is not a reason to drop
    return mask


def pool_rows(pools_dir: Path) -> pa.Table:
    """The unique rows of a corpus's pools (first pool in name order), from its manifest."""
    manifest_path = pools_dir / "pools_manifest.json"
    if not manifest_path.is_file():
        raise InputError(f"{pools_dir}: no pools_manifest.json (not a pool folder?)")
    files = json.loads(manifest_path.read_text("utf-8"))["files"]
    tables = [pq.read_table(pools_dir / f["path"]) for f in sorted(files, key=lambda f: f["path"])]
    if not tables:
        return pa.table({"id": pa.array([], pa.string())})
    table = pa.concat_tables(tables, promote_options="default")
    ids = table.column("id").to_pylist()
    first = sorted({row_id: i for i, row_id in reversed(list(enumerate(ids)))}.values())
    return table.take(pa.array(first, pa.int64()))


def joined_rows(corpus: str, scored_path: Path, pools_dir: Path) -> pa.Table:
    """Pool row columns + score columns of every scored id of a corpus, in scored order."""
    scored = pq.read_table(scored_path)
    pools = pool_rows(pools_dir)
    position = {row_id: i for i, row_id in enumerate(pools.column("id").to_pylist())}
    ids = scored.column("id").to_pylist()
    missing = [i for i in ids if i not in position]
    if missing:
        raise InputError(
            f"{scored_path}: {len(missing)} scored ids are in no pool of {pools_dir} "
            f"(e.g. {missing[0]!r}); were the pools rebuilt after scoring?"
        )
    rows = pools.take(pa.array([position[i] for i in ids], pa.int64()))
    for column in scored.column_names:
        if column not in rows.column_names:  # split, dataset, loss_mode: the pool's own
            rows = rows.append_column(column, scored.column(column))
    return rows.append_column("corpus", pa.array([corpus] * rows.num_rows, pa.string()))


def write_parts(table: pa.Table, folder: Path, rows_per_file: int) -> list[dict]:
    files = []
    starts = range(0, max(table.num_rows, 1), rows_per_file)
    for part, start in enumerate(starts):
        path = folder / f"part-{part:05d}.parquet"
        write_parquet(table.slice(start, rows_per_file), path, compression="zstd")
        files.append(
            {
                "path": path.name,
                "rows": min(rows_per_file, table.num_rows - start),
                "bytes": path.stat().st_size,
                "sha256": sha256_file(path),
            }
        )
    return files


def build_subset(
    rule: SubsetRule,
    policy: SubsetPolicy,
    corpora: Mapping[str, tuple[str | Path, str | Path]],
    out_dir: str | Path,
) -> dict:
    """Write subset `rule.name` from {corpus: (scored parquet, pools folder)} to `out_dir`."""
    selected, per_corpus, inputs, has_ifd = [], {}, [], False
    for corpus in sorted(corpora):
        scored_path, pools_dir = (Path(p) for p in corpora[corpus])
        rows = joined_rows(corpus, scored_path, pools_dir)
        has_ifd |= "ifd" in rows.column_names
        chosen = rows.filter(pa.array(select(rows, rule, policy)))
        per_corpus[corpus] = chosen.num_rows
        selected.append(chosen)
        inputs.append({"path": str(scored_path), "sha256": sha256_file(scored_path)})
        manifest = pools_dir / "pools_manifest.json"
        inputs.append({"path": str(manifest), "sha256": sha256_file(manifest)})
    table = pa.concat_tables(selected, promote_options="default")
    table = table.append_column("nll_subset", pa.array([rule.name] * table.num_rows, pa.string()))
    with atomic_path(out_dir) as tmp:
        tmp.mkdir()
        files = write_parts(table, tmp, policy.rows_per_file)
        manifest = {
            "subset": rule.name,
            "rule": asdict(rule),
            "policy": asdict(policy),
            "ifd_applied": has_ifd and rule.max_ifd is not None,
            "rows": table.num_rows,
            "rows_per_corpus": per_corpus,
            "bytes": sum(f["bytes"] for f in files),
            "files": files,
            "inputs": inputs,
        }
        write_json(tmp / "manifest.json", manifest)
    log.info("subset %s: %d rows %s", rule.name, table.num_rows, per_corpus)
    return manifest

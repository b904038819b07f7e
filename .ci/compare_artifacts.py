"""Compare two workflow run directories artifact by artifact (local run vs SLURM run in CI).

usage: python .ci/compare_artifacts.py RUN_A RUN_B [--tree results] [--unstable GLOB ...]

- The same files must exist under each tree (Snakemake's `.snakemake_timestamp` markers and HF
  `cache-*.arrow` files aside).
- Hugging Face `save_to_disk` folders compare by content: per split, the features and every row;
  Parquet files likewise (schema and rows), whatever their file metadata.
- JSON compares by content, without timestamps and timings (keys such as `generated_at`,
  `seconds`, `rows_per_s`) and with each run's own directory replaced by a placeholder; every
  other file compares as text (or bytes) after the same replacement.
- Paths matching an --unstable glob (relative to the run, e.g. `results/models/**`) are artifacts
  that differ from run to run even on one machine: only their shape is compared (same files,
  dataset splits with the same features and row counts, Parquet schema and row count, top-level
  JSON keys).
Exits 1 and lists every difference; prints a one-line summary on success.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import re
import sys
from pathlib import Path

IGNORED_NAMES = {".snakemake_timestamp"}
# Timestamps and timings: `generated_at`, `seconds`, `load_seconds`, `rows_per_s`, `elapsed`, ...
VOLATILE_KEY = re.compile(
    r"(^|_)(at|time|runtime|timestamp|date|hostname|host|seconds|secs|elapsed|duration|per_s"
    r"|per_second)$"
)
# The same keys as Markdown metadata lines (`- timestamp: ...`, `- total_seconds: 0.8`).
VOLATILE_LINE = re.compile(r"^- (\w+): .*$", re.M)


def drop_volatile_lines(text: str) -> str:
    return VOLATILE_LINE.sub(lambda m: "" if VOLATILE_KEY.search(m.group(1)) else m.group(0), text)


def is_dataset_dir(path: Path) -> bool:
    return (path / "dataset_dict.json").is_file() or (path / "dataset_info.json").is_file()


def is_ignored(rel: Path) -> bool:
    return rel.name in IGNORED_NAMES or (rel.name.startswith("cache-") and rel.suffix == ".arrow")


def is_dataset_metadata(path: Path) -> bool:
    """Files that `save_to_disk` writes itself: compared through the loaded dataset instead."""
    return path.suffix == ".arrow" or path.name in {
        "dataset_dict.json",
        "dataset_info.json",
        "state.json",
        *IGNORED_NAMES,
    }


def walk(root: Path) -> tuple[set[Path], set[Path]]:
    """Dataset folders and the other files under root, relative to root."""
    datasets: set[Path] = set()
    files: set[Path] = set()

    def visit(folder: Path) -> None:
        if is_dataset_dir(folder):
            datasets.add(folder.relative_to(root))
            # Files beside the splits (stats.json, summaries) are ordinary artifacts.
            for child in folder.iterdir():
                if child.is_file() and not is_dataset_metadata(child):
                    files.add(child.relative_to(root))
            return
        for child in sorted(folder.iterdir()):
            if child.is_dir():
                visit(child)
            elif not is_ignored(child.relative_to(root)):
                files.add(child.relative_to(root))

    if root.is_dir():
        visit(root)
    return datasets, files


def normalise(value, workdir: str):
    if isinstance(value, dict):
        return {
            key: normalise(item, workdir)
            for key, item in value.items()
            if not VOLATILE_KEY.search(str(key))
        }
    if isinstance(value, list):
        return [normalise(item, workdir) for item in value]
    if isinstance(value, str):
        return value.replace(workdir, "<workdir>")
    return value


def shape(value):
    """What an unstable JSON file must keep: its type and, for an object, its top-level keys."""
    return sorted(value) if isinstance(value, dict) else type(value).__name__


def load_splits(path: Path) -> dict:
    import datasets

    loaded = datasets.load_from_disk(str(path))
    return {"(no split)": loaded} if isinstance(loaded, datasets.Dataset) else dict(loaded)


def compare_tables(x, y, values: bool) -> list[str]:
    """Two Arrow tables: schema, row count and (if values) every row."""
    if x.schema.remove_metadata() != y.schema.remove_metadata():
        return [f"schemas differ: {x.schema} vs {y.schema}"]
    if x.num_rows != y.num_rows:
        return [f"{x.num_rows} vs {y.num_rows} rows"]
    if values and not x.equals(y):
        return ["same shape, different rows"]
    return []


def compare_dataset(a: Path, b: Path, values: bool) -> list[str]:
    left, right = load_splits(a), load_splits(b)
    if set(left) != set(right):
        return [f"splits differ: {sorted(left)} vs {sorted(right)}"]
    problems = []
    for split in sorted(left):
        x, y = left[split], right[split]
        if x.features != y.features:
            problems.append(f"{split}: features differ: {x.features} vs {y.features}")
        else:
            found = compare_tables(x.data.table, y.data.table, values)
            problems += [f"{split}: {problem}" for problem in found]
    return problems


def compare_file(a: Path, b: Path, workdirs: tuple[str, str], values: bool) -> list[str]:
    if a.suffix == ".parquet":
        import pyarrow.parquet as pq

        return compare_tables(pq.read_table(a), pq.read_table(b), values)
    if a.suffix == ".json":
        left = normalise(json.loads(a.read_text()), workdirs[0])
        right = normalise(json.loads(b.read_text()), workdirs[1])
        if not values:
            left, right = shape(left), shape(right)
        return [] if left == right else ["JSON content differs"]
    if not values:
        return []
    raw_a, raw_b = a.read_bytes(), b.read_bytes()
    try:
        text_a = raw_a.decode().replace(workdirs[0], "<workdir>")
        text_b = raw_b.decode().replace(workdirs[1], "<workdir>")
    except UnicodeDecodeError:
        return [] if raw_a == raw_b else ["bytes differ"]
    if drop_volatile_lines(text_a) == drop_volatile_lines(text_b):
        return []
    return ["text differs"]


def compare_runs(
    run_a: Path, run_b: Path, trees: list[str], unstable: list[str]
) -> tuple[list[str], dict[str, int]]:
    problems: list[str] = []
    counts = {"datasets": 0, "files": 0, "shape only": 0}
    workdirs = (str(run_a), str(run_b))
    for tree in trees:
        datasets_a, files_a = walk(run_a / tree)
        datasets_b, files_b = walk(run_b / tree)
        if not datasets_a and not files_a:
            problems.append(f"{run_a / tree}: no artifacts")
        for rel in sorted((datasets_a | files_a) ^ (datasets_b | files_b)):
            side = run_a if rel in datasets_a | files_a else run_b
            problems.append(f"{tree}/{rel}: only in {side}")
        for rel in sorted((datasets_a & datasets_b) | (files_a & files_b)):
            name = f"{tree}/{rel}"
            values = not any(fnmatch.fnmatch(name, pattern) for pattern in unstable)
            a, b = run_a / tree / rel, run_b / tree / rel
            if rel in datasets_a:
                counts["datasets"] += 1
                found = compare_dataset(a, b, values)
            else:
                counts["files"] += 1
                found = compare_file(a, b, workdirs, values)
            counts["shape only"] += not values
            problems += [f"{name}: {problem}" for problem in found]
    return problems, counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_a", type=Path)
    parser.add_argument("run_b", type=Path)
    parser.add_argument("--tree", action="append", dest="trees", help="default: results, resources")
    parser.add_argument("--unstable", action="append", default=[], metavar="GLOB")
    args = parser.parse_args(argv)
    trees = args.trees or ["results", "resources"]
    run_a, run_b = args.run_a.resolve(), args.run_b.resolve()
    problems, counts = compare_runs(run_a, run_b, trees, args.unstable)
    if problems:
        print(f"{len(problems)} difference(s) between {run_a} and {run_b}:", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    print(
        f"identical: {counts['datasets']} datasets, {counts['files']} files "
        f"({counts['shape only']} of them by shape only) under {', '.join(trees)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Frequency filter: the seed's greedy kept rows and ratios on a handcrafted case."""

from __future__ import annotations

import json
import subprocess
import sys

import pyarrow as pa
import pytest
from datasets import load_from_disk

from conftest import REPO, offline_env
from distilldata.core.errors import InputError
from distilldata.core.store import save_splits
from distilldata.provence.frequency import frequency_filter, variant_paths

# Row texts by id. Cross-row duplicates (A, B, C, D, E) and within-row duplicates (c: E E,
# e: E F E). dup_count counts each occurrence already seen in an *earlier kept* row.
ROWS = {
    "a": ["A", "B", "C"],  # 0 seen
    "b": ["A", "D"],  # A seen -> 1
    "c": ["E", "E"],  # within-row only -> 0
    "d": ["B", "C", "D"],  # 2 (N=0: D's row b was dropped) or 3
    "e": ["E", "F", "E"],  # E seen via c, counted twice -> 2
    "f": ["D", "G"],  # 0 when b and d were dropped (N=0), else 1
}
EXPECTED_KEPT = {0: "acf", 1: "abcf", 2: "abcef", 3: "abcdef"}
# (texts kept, unique texts kept) per threshold, counted by hand from ROWS.
EXPECTED_TEXTS = {0: (7, 6), 1: (9, 6), 2: (12, 7), 3: (15, 7)}


@pytest.fixture()
def handcrafted(tmp_path):
    def table(prefix):
        return pa.table({"id": [f"{prefix}{k}" for k in ROWS], "texts": list(ROWS.values())})

    return save_splits({"train": table(""), "validation": table("v")}, tmp_path / "ds")


def test_kept_rows_and_ratios(tmp_path, handcrafted):
    stats = frequency_filter(str(handcrafted), *variant_paths(tmp_path / "out", [3, 0, 2, 1]))
    assert stats["before"] == {"texts_total": 15, "texts_unique": 7, "dup_ratio": 8 / 15}
    for n, kept in EXPECTED_KEPT.items():
        ds = load_from_disk(str(tmp_path / "out" / f"freq{n}"))
        assert list(ds["train"]["id"]) == list(kept)
        assert len(ds["validation"]) == 6
        total, unique = EXPECTED_TEXTS[n]
        got = stats["thresholds"][f"freq{n}"]
        assert (got["texts_total"], got["texts_unique"]) == (total, unique)
        assert got["dup_ratio"] == pytest.approx((total - unique) / total)
        assert got["rows_kept"] + got["rows_dropped"]["duplicate_texts_over_threshold"] == 6
        drop_file = tmp_path / "out" / f"freq{n}" / "drop_ids.txt"
        dropped = sorted(set("abcdef") - set(kept))
        assert (drop_file.read_text().split("\n") if dropped else not drop_file.exists()) in (
            dropped,
            True,
        )
    summary = (tmp_path / "out" / "freq1" / "frequency_filter_ds_summary.md").read_text()
    assert "| 3 | 1 | 0 | 1 |" in summary  # row d: dup_count 3, removed at N=1
    meta = json.loads((tmp_path / "out" / "frequency_filter_metadata.json").read_text())
    assert meta["thresholds"] == [0, 1, 2, 3]


def test_debug_limit_truncates_train(tmp_path, handcrafted):
    frequency_filter(str(handcrafted), *variant_paths(tmp_path / "out", [0]), debug_limit=3)
    assert list(load_from_disk(str(tmp_path / "out" / "freq0"))["train"]["id"]) == ["a", "c"]


def test_non_string_ids_are_rejected(tmp_path):
    path = save_splits({"train": pa.table({"id": [1, 2], "texts": [["x"], ["x"]]})}, tmp_path / "d")
    with pytest.raises(InputError, match="must hold strings"):
        frequency_filter(str(path), *variant_paths(tmp_path / "out", [1, 2, 3]))


def test_cli_non_string_ids_and_existing_output(tmp_path, handcrafted):
    script = str(REPO / "scripts" / "provence/frequency_filter.py")
    path = save_splits({"train": pa.table({"id": [1], "texts": [["x"]]})}, tmp_path / "ints")
    proc = subprocess.run(
        [sys.executable, script, "--dataset", str(path), "--output-dir", str(tmp_path / "o1")],
        capture_output=True,
        text=True,
        env=offline_env(),
        timeout=300,
    )
    assert proc.returncode == 2 and "'id' must hold strings" in proc.stderr
    (tmp_path / "o2" / "freq1").mkdir(parents=True)
    proc = subprocess.run(
        [
            sys.executable,
            script,
            "--dataset",
            str(handcrafted),
            "--threshold",
            "1",
            "--output-dir",
            str(tmp_path / "o2"),
        ],
        capture_output=True,
        text=True,
        env=offline_env(),
        timeout=300,
    )
    assert proc.returncode == 2 and "pass --overwrite" in proc.stderr


def test_cli_writes_exactly_the_declared_outputs(tmp_path, handcrafted):
    """The rule names each variant folder and the stats file; nothing else is derived."""
    script = str(REPO / "scripts" / "provence/frequency_filter.py")
    a, b, stats = tmp_path / "x" / "a", tmp_path / "y" / "b", tmp_path / "z" / "s.json"
    cmd = [sys.executable, script, "--dataset", str(handcrafted), "--threshold", "0"]
    cmd += ["--threshold", "2", "--output", str(a), str(b), "--stats", str(stats)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=offline_env(), timeout=300)
    assert proc.returncode == 0, proc.stderr
    written = json.loads(stats.read_text())
    assert set(written["thresholds"]) == {"freq0", "freq2"}
    assert load_from_disk(str(a))["train"].num_rows == written["thresholds"]["freq0"]["rows_kept"]
    assert load_from_disk(str(b))["train"].num_rows == written["thresholds"]["freq2"]["rows_kept"]
    assert (b / "frequency_filter_ds_summary.md").exists()

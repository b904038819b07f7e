"""Resolving configured datasets to shard files."""

from __future__ import annotations

import pytest

from distilldata.core.dataset_files import resolve_splits, split_of
from distilldata.core.errors import InputError


@pytest.mark.parametrize(
    ("name", "split"),
    [
        ("data/high.part_00.jsonl", "high_part00"),
        ("data/low-00000-of-00017.parquet", "low"),
        ("data/chat_if.jsonl", "chat_if"),
        ("MCQ.jsonl.gz", "MCQ"),
    ],
)
def test_split_of(name, split):
    assert split_of(name) == split


def test_snapshot_layout_and_local_globs(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    for name in ["low.jsonl", "high.part_00.jsonl", "high.part_01.jsonl", "README.md"]:
        (data / name).write_text("{}\n")
    found = resolve_splits(snapshot_dir=str(tmp_path))
    assert sorted(found) == ["high_part00", "high_part01", "low"]
    found = resolve_splits(splits={"high": str(data / "high.*.jsonl")})
    assert [p.name for p in found["high"]] == ["high.part_00.jsonl", "high.part_01.jsonl"]
    with pytest.raises(InputError):
        resolve_splits(splits={"x": str(data / "nothing*.jsonl")})
    with pytest.raises(InputError):
        resolve_splits()


def test_hub_id_not_cached_is_an_input_error(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    with pytest.raises(InputError, match="not in the local Hub cache"):
        resolve_splits(hub_id="nvidia/Nemotron-Math-v2")


def test_resolve_dataset_local_file_folder_and_non_shard(tmp_path):
    from distilldata.core.dataset_files import resolve_dataset

    (tmp_path / "rows.jsonl").write_text("{}\n")
    (tmp_path / "notes.txt").write_text("x")
    assert resolve_dataset(str(tmp_path / "rows.jsonl")) == {"rows": [tmp_path / "rows.jsonl"]}
    assert resolve_dataset(str(tmp_path)) == {"rows": [tmp_path / "rows.jsonl"]}
    with pytest.raises(InputError, match="not a shard file"):
        resolve_dataset(str(tmp_path / "notes.txt"))

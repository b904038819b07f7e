"""Publishing is one batch commit; tests only dry-run (no network)."""

from __future__ import annotations

import pytest

from distilldata.errors import InputError
from distilldata.publish import publish_folder


def test_dry_run_plans_one_commit(tmp_path, monkeypatch):
    (tmp_path / "pool" / "a").mkdir(parents=True)
    (tmp_path / "pool" / "a" / "part-00000.parquet").write_bytes(b"x" * 10)
    (tmp_path / "pool" / "pools_manifest.json").write_text("{}")
    (tmp_path / "pool" / ".snakemake_timestamp").write_text("")
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "HfApi", None)  # any real call would fail loudly
    plan = publish_folder(tmp_path / "pool", "me/repo", path_in_repo="math", dry_run=True)
    assert plan["dry_run"] and plan["repo_type"] == "dataset"
    assert [f["path_in_repo"] for f in plan["files"]] == [
        "math/a/part-00000.parquet",
        "math/pools_manifest.json",
    ]
    assert plan["total_bytes"] == 12


def test_empty_folder_is_an_input_error(tmp_path):
    with pytest.raises(InputError):
        publish_folder(tmp_path, "me/repo")

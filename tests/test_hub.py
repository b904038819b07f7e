"""The one Hub writer (distilldata/core/hub.py): a plan of files committed in one `create_commit`.

Dry runs run on real data with `huggingface_hub.HfApi` removed, so any network call fails loudly.
The real-run tests swap `HfApi` for `FakeHub`, an in-memory dataset repo (the Hub, not our code).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from conftest import DATA, REPO, offline_env
from distilldata.core.errors import InputError
from distilldata.core.hub import merge_card, publish_folder, upload_dataset
from distilldata.core.store import save_splits


def squad_rows(n: int) -> list[dict]:
    """The first `n` questions of data/squad (SQuAD 2.0 dev) as flat rows."""
    data = json.loads((DATA / "squad" / "dev-v2.0.json").read_text("utf-8"))
    rows = []
    for article in data["data"]:
        for para in article["paragraphs"]:
            for qa in para["qas"]:
                rows.append(
                    {
                        "id": qa["id"],
                        "title": article["title"],
                        "question": qa["question"],
                        "context": para["context"],
                        "answers": [a["text"] for a in qa["answers"]],
                    }
                )
                if len(rows) == n:
                    return rows
    raise AssertionError("data/squad has fewer rows than asked")


@pytest.fixture
def squad(tmp_path) -> tuple[Path, dict[str, pa.Table]]:
    rows = squad_rows(40)
    tables = {
        "train": pa.Table.from_pylist(rows[:31]),
        "validation": pa.Table.from_pylist(rows[31:]),
    }
    return save_splits(tables, tmp_path / "squad_en"), tables


@pytest.fixture
def offline(monkeypatch):
    import huggingface_hub

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub, "HfApi", None)  # any real call would fail loudly


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def front_matter(readme: str) -> dict:
    assert readme.startswith("---\n")
    return yaml.safe_load(readme.split("---\n")[1])


# ---- upload: DatasetDict -> Parquet shards + README, dry run ---------------------------------


def test_upload_dry_run_plans_the_push_to_hub_layout(squad, tmp_path, offline):
    path, tables = squad
    stage = tmp_path / "stage"
    plan = upload_dataset(path, "me/squad-cr", subset="freq2", dry_run=True, stage_dir=stage)
    assert plan["dry_run"] is True and plan["private"] is True
    assert plan["repo_id"] == "me/squad-cr" and plan["repo_type"] == "dataset"
    assert [f["path_in_repo"] for f in plan["files"]] == [
        "README.md",
        "freq2/train-00000-of-00001.parquet",
        "freq2/validation-00000-of-00001.parquet",
    ]
    for entry in plan["files"]:
        local = Path(entry["local"])
        assert local.parent.parent == stage or local.parent == stage
        assert entry["bytes"] == local.stat().st_size and entry["sha256"] == sha256(local)
    assert plan["total_bytes"] == sum(f["bytes"] for f in plan["files"])
    assert {name: s["rows"] for name, s in plan["splits"].items()} == {"train": 31, "validation": 9}
    assert plan["delete_patterns"] == ["freq2/*"]
    for name, table in tables.items():
        shard = pq.read_table(stage / "freq2" / f"{name}-00000-of-00001.parquet")
        assert shard.to_pylist() == table.to_pylist()
        assert b"huggingface" in shard.schema.metadata  # features travel, as with push_to_hub
    card = front_matter((stage / "README.md").read_text())
    assert card["configs"] == [
        {
            "config_name": "freq2",
            "data_files": [
                {"split": "train", "path": "freq2/train-*"},
                {"split": "validation", "path": "freq2/validation-*"},
            ],
        }
    ]
    assert [p.name for p in tmp_path.iterdir()] == ["squad_en", "stage"]  # no temp left behind


def test_default_subset_goes_to_data_and_the_temp_stage_is_removed(squad, offline):
    path, _ = squad
    plan = upload_dataset(path, "me/squad-cr", split="validation", public=True)
    assert plan["dry_run"] is True and plan["private"] is False
    assert [f["path_in_repo"] for f in plan["files"]] == [
        "README.md",
        "data/validation-00000-of-00001.parquet",
    ]
    assert plan["delete_patterns"] == ["data/validation-*"]
    assert not Path(plan["staging"]["folder"]).exists() and plan["staging"]["kept"] is False


def test_num_shards_two_splits_rows_contiguously(squad, tmp_path, offline):
    path, tables = squad
    stage = tmp_path / "stage"
    plan = upload_dataset(path, "me/squad-cr", num_shards=2, stage_dir=stage)
    names = [f["path_in_repo"] for f in plan["files"]]
    assert names == [
        "README.md",
        "data/train-00000-of-00002.parquet",
        "data/train-00001-of-00002.parquet",
        "data/validation-00000-of-00002.parquet",
        "data/validation-00001-of-00002.parquet",
    ]
    assert plan["splits"]["train"]["shard_rows"] == [16, 15]  # datasets' contiguous shards
    assert plan["splits"]["validation"]["shard_rows"] == [5, 4]
    train = [pq.read_table(stage / n) for n in names[1:3]]
    assert [t.num_rows for t in train] == [16, 15]
    assert pa.concat_tables(train).to_pylist() == tables["train"].to_pylist()


def test_max_shard_size_sets_the_shard_count_like_push_to_hub(squad, tmp_path, offline):
    path, tables = squad
    plan = upload_dataset(path, "me/squad-cr", max_shard_size="10KB", stage_dir=tmp_path / "s")
    expected = int(tables["train"].nbytes / 10_000) + 1
    assert expected > 1
    assert plan["splits"]["train"]["shards"] == expected
    assert sum(plan["splits"]["train"]["shard_rows"]) == 31
    # num_proc raises the shard count to at least num_proc, as push_to_hub does
    plan = upload_dataset(path, "me/squad-cr", num_proc=3, stage_dir=tmp_path / "s")
    assert plan["splits"]["validation"]["shard_rows"] == [3, 3, 3]


def test_bad_upload_input_is_an_input_error(squad, offline):
    path, _ = squad
    with pytest.raises(InputError, match="owner/name"):
        upload_dataset(path, "no-owner")
    with pytest.raises(InputError, match="no split 'x'"):
        upload_dataset(path, "me/ds", split="x")
    with pytest.raises(InputError, match="not both"):
        upload_dataset(path, "me/ds", num_shards=2, max_shard_size="1MB")
    with pytest.raises(InputError, match="'data'"):
        upload_dataset(path, "me/ds", subset="data")


# ---- the README card: configs merge (a pure function) -------------------------------------

FREQ2 = {"config_name": "freq2", "data_files": [{"split": "train", "path": "freq2/train-*"}]}
EXISTING = """---
license: cc-by-sa-4.0
task_categories:
- text-ranking
configs:
- config_name: default
  default: true
  data_files:
  - split: train
    path: data/train-*
  - split: test
    path: data/test-*
dataset_info:
- config_name: default
  splits:
  - name: train
    num_examples: 10
- config_name: freq2
  splits:
  - name: train
    num_examples: 3
---
# SQuAD context relevance

Hand-written notes.
"""


def test_merge_card_appends_a_new_subset_and_keeps_everything_else():
    merged = merge_card(EXISTING, FREQ2)
    meta = front_matter(merged)
    assert [c["config_name"] for c in meta["configs"]] == ["default", "freq2"]
    assert meta["configs"][1] == FREQ2
    assert meta["configs"][0]["default"] is True
    assert meta["license"] == "cc-by-sa-4.0" and meta["task_categories"] == ["text-ranking"]
    assert merged.endswith("---\n# SQuAD context relevance\n\nHand-written notes.\n")
    # the stale size info of the subset being replaced goes; the other subset's stays
    assert [i["config_name"] for i in meta["dataset_info"]] == ["default"]


def test_merge_card_replaces_the_same_subset_in_place():
    new = {
        "config_name": "default",
        "data_files": [{"split": "train", "path": "data/train-*"}],
    }
    meta = front_matter(merge_card(EXISTING, new))
    assert meta["configs"][0] == {"config_name": "default", "default": True, **new}
    assert [c["config_name"] for c in meta["configs"]] == ["default"]
    # one split pushed (--split): the subset's other splits stay listed
    kept = front_matter(merge_card(EXISTING, new, keep_other_splits=True))["configs"][0]
    assert kept["data_files"] == [
        {"split": "train", "path": "data/train-*"},
        {"split": "test", "path": "data/test-*"},
    ]


def test_merge_card_on_a_repo_without_a_card():
    fresh = merge_card("", FREQ2, title="me/squad-cr")
    assert front_matter(fresh) == {"configs": [FREQ2]}
    assert "# me/squad-cr" in fresh
    plain = merge_card("# Notes only\n", FREQ2)
    assert front_matter(plain) == {"configs": [FREQ2]}
    assert plain.endswith("---\n# Notes only\n")
    assert merge_card(fresh, FREQ2) == fresh  # idempotent


def test_merge_card_rejects_a_broken_front_matter():
    with pytest.raises(InputError, match="README.md"):
        merge_card("---\nconfigs: [\n---\n", FREQ2)


# ---- publish: a folder as it is, dry run (the former tests/test_publish.py) ----------------


def test_dry_run_plans_one_commit(tmp_path, offline):
    (tmp_path / "pool" / "a").mkdir(parents=True)
    (tmp_path / "pool" / "a" / "part-00000.parquet").write_bytes(b"x" * 10)
    (tmp_path / "pool" / "pools_manifest.json").write_text("{}")
    (tmp_path / "pool" / ".snakemake_timestamp").write_text("")
    plan = publish_folder(tmp_path / "pool", "me/repo", path_in_repo="math", dry_run=True)
    assert plan["dry_run"] and plan["repo_type"] == "dataset"
    assert [f["path_in_repo"] for f in plan["files"]] == [
        "math/a/part-00000.parquet",
        "math/pools_manifest.json",
    ]
    assert plan["total_bytes"] == 12
    assert plan["files"][1]["sha256"] == hashlib.sha256(b"{}").hexdigest()
    assert plan["private"] is True and plan["delete_patterns"] == []


def test_empty_folder_is_an_input_error(tmp_path):
    with pytest.raises(InputError):
        publish_folder(tmp_path, "me/repo")


# ---- real runs against an in-memory Hub ---------------------------------------------------


class FakeHub:
    """Stands in for `huggingface_hub.HfApi`: one in-memory repo per id; records each call."""

    repos: dict[str, dict[str, bytes]] = {}
    calls: list[tuple[str, dict]] = []

    def __init__(self, token=None, **_):
        self.token = token

    def _record(self, name, **kwargs):
        FakeHub.calls.append((name, kwargs))

    def create_repo(self, repo_id, *, repo_type=None, private=None, exist_ok=False, **_):
        self._record("create_repo", repo_id=repo_id, repo_type=repo_type, private=private)
        FakeHub.repos.setdefault(repo_id, {})

    def create_branch(self, repo_id, *, branch, **_):
        self._record("create_branch", repo_id=repo_id, branch=branch)

    def repo_info(self, repo_id, **_):
        return SimpleNamespace(sha=f"sha{len(FakeHub.calls)}")

    def list_repo_files(self, repo_id, **_):
        return sorted(FakeHub.repos[repo_id])

    def hf_hub_download(self, repo_id, filename, **_):
        from huggingface_hub.errors import EntryNotFoundError

        if filename not in FakeHub.repos[repo_id]:
            raise EntryNotFoundError(f"{filename} not in {repo_id}")
        out = Path(tempfile.mkdtemp()) / filename
        out.write_bytes(FakeHub.repos[repo_id][filename])
        return str(out)

    def create_commit(self, repo_id, operations, *, commit_message, **kwargs):
        operations = list(operations)
        self._record("create_commit", repo_id=repo_id, operations=operations, **kwargs)
        files = FakeHub.repos[repo_id]
        for op in operations:
            if hasattr(op, "path_or_fileobj"):
                files[op.path_in_repo] = Path(op.path_or_fileobj).read_bytes()
            else:
                del files[op.path_in_repo]
        return SimpleNamespace(commit_url=f"https://hub/{repo_id}/commit/{len(FakeHub.calls)}")


@pytest.fixture
def hub(monkeypatch):
    import huggingface_hub

    monkeypatch.setattr(FakeHub, "repos", {})
    monkeypatch.setattr(FakeHub, "calls", [])
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeHub)
    return FakeHub


def test_real_upload_is_one_commit_and_a_second_subset_keeps_the_first(squad, hub):
    path, _ = squad
    first = upload_dataset(path, "me/squad-cr", num_shards=2, dry_run=False)
    assert first["commit_url"].startswith("https://hub/me/squad-cr/commit/")
    assert [c[0] for c in hub.calls] == ["create_repo", "create_commit"]
    assert hub.calls[0][1]["private"] is True
    assert sorted(hub.repos["me/squad-cr"]) == sorted(f["path_in_repo"] for f in first["files"])

    upload_dataset(path, "me/squad-cr", subset="freq2", split="train", dry_run=False)
    files = hub.repos["me/squad-cr"]
    assert (
        "freq2/train-00000-of-00001.parquet" in files
        and "data/train-00001-of-00002.parquet" in files
    )
    configs = front_matter(files["README.md"].decode())["configs"]
    assert [c["config_name"] for c in configs] == ["default", "freq2"]

    # pushing `default` again with fewer shards removes the stale ones, in the same commit
    hub.calls.clear()
    again = upload_dataset(path, "me/squad-cr", dry_run=False)
    assert [c[0] for c in hub.calls] == ["create_repo", "create_commit"]
    assert again["deleted"] == [
        "data/train-00000-of-00002.parquet",
        "data/train-00001-of-00002.parquet",
        "data/validation-00000-of-00002.parquet",
        "data/validation-00001-of-00002.parquet",
    ]
    assert sorted(p for p in hub.repos["me/squad-cr"] if p.startswith("data/")) == [
        "data/train-00000-of-00001.parquet",
        "data/validation-00000-of-00001.parquet",
    ]
    configs = front_matter(hub.repos["me/squad-cr"]["README.md"].decode())["configs"]
    assert [c["config_name"] for c in configs] == ["default", "freq2"]


def test_real_publish_is_one_commit(tmp_path, hub):
    (tmp_path / "pool").mkdir()
    for i in range(3):
        (tmp_path / "pool" / f"part-{i:05d}.parquet").write_bytes(b"x" * i)
    plan = publish_folder(tmp_path / "pool", "me/pools", path_in_repo="math", dry_run=False)
    commits = [c for c in hub.calls if c[0] == "create_commit"]
    assert len(commits) == 1 and len(commits[0][1]["operations"]) == 3
    assert sorted(hub.repos["me/pools"]) == [f["path_in_repo"] for f in plan["files"]]
    assert plan["deleted"] == []


# ---- the scripts, as the rules call them --------------------------------------------------


def run_script(name: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO / "scripts" / name), *args],
        capture_output=True,
        text=True,
        env=offline_env(),
        timeout=300,
    )


def test_upload_script_defaults_to_a_dry_run(squad, tmp_path):
    path, _ = squad
    out = tmp_path / "upload" / "squad_en.json"
    args = ["--dataset-path", str(path), "--repo-id", "ci/squad", "--subset", "default"]
    proc = run_script("provence/upload_to_hub.py", *args, "--no-embed", "--summary-json", str(out))
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(out.read_text())
    assert summary["dry_run"] is True and summary["repo_id"] == "ci/squad"
    assert summary["splits"]["train"]["rows"] == 31
    proc = run_script("provence/upload_to_hub.py", *args, "--dry-run", "--summary-json", str(out))
    assert proc.returncode == 0, proc.stderr
    proc = run_script(
        "provence/upload_to_hub.py", *args, "--num-shards", "2", "--max-shard-size", "1MB"
    )
    assert proc.returncode == 2 and "not both" in proc.stderr


def test_publish_script_defaults_to_a_dry_run(tmp_path):
    (tmp_path / "pool").mkdir()
    (tmp_path / "pool" / "pools_manifest.json").write_text("{}")
    plan = tmp_path / "publish" / "pool.json"
    args = ["--folder", str(tmp_path / "pool"), "--plan", str(plan), "--repo_id", "me/pools"]
    for extra in ([], ["--dry-run"]):
        proc = run_script("sft/publish_to_hub.py", *args, "--path_in_repo", "math", *extra)
        assert proc.returncode == 0, proc.stderr
        written = json.loads(plan.read_text())
        assert written["dry_run"] is True
        assert [f["path_in_repo"] for f in written["files"]] == ["math/pools_manifest.json"]


@pytest.mark.parametrize("name", ["provence/upload_to_hub.py", "sft/publish_to_hub.py"])
def test_every_flag_has_help_and_the_default_is_a_dry_run(name):
    spec = importlib.util.spec_from_file_location(Path(name).stem, REPO / "scripts" / name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    parser = module.build_parser()
    assert all(a.help for a in parser._actions), [a.dest for a in parser._actions if not a.help]
    flags = {s for a in parser._actions for s in a.option_strings}
    assert {"--dry-run", "--no-dry-run"} <= flags
    assert parser.get_default("dry_run") is True
    assert "real" in module.__doc__ and "dry run" in module.__doc__.lower()

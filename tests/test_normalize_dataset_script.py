"""scripts/sft/normalize_dataset.py as a user runs it: local files and folders as --dataset, the
workflow's explicit output flags, and non-string content (issue 12 items 18, 19, 7)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pyarrow.parquet as pq

from conftest import DATA, REPO, offline_env

SCRIPT = REPO / "scripts" / "sft/normalize_dataset.py"
TYPED = DATA / "chat_tools" / "llamafactory" / "reason_tool_use_demo_50.jsonl"
SHAREGPT = DATA / "chat_tools" / "llamafactory" / "glaive_toolcall_en_demo.json"


def run_script(cwd, *args: str) -> subprocess.CompletedProcess:
    env = offline_env(PYTHONPATH=str(REPO), HF_HOME=str(cwd / "hf_home"))
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], cwd=cwd, capture_output=True, text=True, env=env
    )


def test_local_file_as_dataset(tmp_path):
    shutil.copy(TYPED, tmp_path / "rows.jsonl")
    proc = run_script(tmp_path, "--dataset", "./rows.jsonl", "--out_dir", "out")
    assert proc.returncode == 0, proc.stderr
    table = pq.read_table(tmp_path / "out" / "rows" / "part-00000.parquet")
    assert table.num_rows == 50
    assert set(table.column("dataset").to_pylist()) == {"rows"}  # never a path


def test_local_folder_as_dataset(tmp_path):
    folder = tmp_path / "my_chats"
    folder.mkdir()
    shutil.copy(TYPED, folder / "train.jsonl")
    shutil.copy(SHAREGPT, folder / "test.json")
    proc = run_script(tmp_path, "--dataset", str(folder), "--out_dir", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    stats = {
        split: json.loads((tmp_path / "out" / split / "part-00000.stats.json").read_text())
        for split in ("train", "test")
    }
    assert stats["train"]["rows_in"] == 50 and stats["test"]["rows_in"] == 300
    assert stats["train"]["dataset"] == "my_chats"


def test_missing_local_dataset_is_a_clear_error(tmp_path):
    proc = run_script(tmp_path, "--dataset", "./nothing.jsonl", "--out_dir", "out")
    assert proc.returncode == 2
    assert "'./nothing.jsonl' is not a local file or folder" in proc.stderr


def test_non_string_content_default_strict_and_legacy_flag(tmp_path):
    row = {
        "uuid": "a1",
        "messages": [
            {"role": "user", "content": {"b": 1, "a": [1, 2]}},
            {"role": "assistant", "content": "ok"},
        ],
    }
    (tmp_path / "agentic.jsonl").write_text(json.dumps(row) + "\n")
    base = ["--dataset", "nvidia/Nemotron-Agentic-v1", "--input", "agentic.jsonl"]
    for name, extra in [("default", []), ("legacy", ["--stringify_content"])]:
        proc = run_script(tmp_path, *base, "--out_dir", name, *extra)
        assert proc.returncode == 0, proc.stderr
        stats = json.loads((tmp_path / name / "agentic/part-00000.stats.json").read_text())
        assert stats["rows_out"] == 1 and stats["notes"] == {"stringified_content": 1}
    proc = run_script(tmp_path, *base, "--out_dir", "strict", "--strict_content")
    assert proc.returncode == 0, proc.stderr
    stats = json.loads((tmp_path / "strict/agentic/part-00000.stats.json").read_text())
    assert stats["rows_out"] == 0 and stats["quarantined"] == {"non_string_content": 1}
    help_text = run_script(tmp_path, "--help").stdout
    assert "--strict_content" in help_text and "no effect" in help_text

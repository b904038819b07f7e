"""The scripts' shared entry point: bad input is one readable line and exit code 2."""

from __future__ import annotations

import subprocess
import sys

from conftest import REPO, offline_env


def run_script(script: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO / "scripts" / script), *args],
        capture_output=True, text=True, env=offline_env(), timeout=120,
    )  # fmt: skip


def test_a_missing_input_file_is_one_line_naming_it(tmp_path):
    missing = tmp_path / "no-such-pool.parquet"
    done = run_script("nll/score_nll.py", "--input", str(missing), "--output",
                      str(tmp_path / "s.parquet"), "--model", str(tmp_path))  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "error: " in done.stderr and str(missing) in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "s.parquet").exists()


def test_a_model_that_is_not_there_is_one_line_with_the_fix(tmp_path):
    (tmp_path / "q.txt").write_text("what is a norman?\n", encoding="utf-8")
    done = run_script("rag/prepare_dataset.py", "--queries_file", str(tmp_path / "q.txt"),
                      "--corpus_path", str(REPO / "data/rag/flashrag/sample_data.jsonl"),
                      "--chunking", "none", "--retriever", "bm25", "--teacher_backend", "none",
                      "--output_file", str(tmp_path / "o.json"))  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "'naver/splade-cocondenser-ensembledistil' is a Hub id" in done.stderr
    assert "HUB=1" in done.stderr and "Traceback" not in done.stderr

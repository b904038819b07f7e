"""The Provence stages through the real snakemake CLI on config/tiny.yaml in a temp dir."""

from __future__ import annotations

import json
import os
import re

import pytest
import yaml
from datasets import load_from_disk

from conftest import TINY, run_snakemake, start_snakemake

pytestmark = pytest.mark.workflow


def job_counts(dry_run_stdout: str) -> dict[str, int]:
    """The `Job stats:` table of a dry run as {rule: count}."""
    table = dry_run_stdout.split("Job stats:", 1)[1].split("\n\n", 1)[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("provence")
    run_snakemake(workdir, "provence")
    return workdir


def test_artifacts(tiny_run):
    config = yaml.safe_load(TINY.read_text())["provence"]
    for slug, entry in config["datasets"].items():
        base = load_from_disk(str(tiny_run / "results/provence/base" / slug))
        assert set(base) == {"train", "validation", "test"}
        train = base["train"]
        for column in ("id", "query", "texts", "context_spans", "labels"):
            assert column in train.column_names
        for row in train.select(range(min(20, len(train)))):
            assert row["id"].startswith(f"{slug}:train:")
            for text, spans in zip(row["texts"], row["context_spans"], strict=True):
                assert all(text[s:e] == text[s:e].strip() != "" for s, e in spans)
        if entry.get("sample_size"):
            assert sum(len(s) for s in base.values()) <= 3 * entry["sample_size"]
        stats = json.loads((tiny_run / f"results/provence/freq/{slug}/stats.json").read_text())
        for n in config["frequency_thresholds"]:
            variant = load_from_disk(str(tiny_run / f"results/provence/freq/{slug}/freq{n}"))
            kept = stats["thresholds"][f"freq{n}"]["rows_kept"]
            assert len(variant["train"]) == kept <= len(train)
            assert len(variant["test"]) == len(base["test"])
            report = json.loads(
                (tiny_run / f"results/provence/reports/freq/{slug}/freq{n}.json").read_text()
            )
            assert report["splits"]["train"]["rows"] == kept
            md = (tiny_run / f"results/provence/reports/freq/{slug}/freq{n}.md").read_text()
            assert "| train |" in md


def test_second_run_has_nothing_to_do(tiny_run):
    proc = run_snakemake(tiny_run, "provence")
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_targeted_rebuild_builds_only_that(tmp_path):
    proc = run_snakemake(tmp_path, "-n", "results/provence/base/msmarco_en")
    assert job_counts(proc.stdout) == {"punkt_tables": 1, "convert_triplets": 1, "total": 2}
    run_snakemake(tmp_path, "results/provence/base/msmarco_en")
    assert (tmp_path / "results/provence/base/msmarco_en/dataset_dict.json").exists()
    assert not (tmp_path / "results/provence/freq").exists()


def test_dry_run_prints_the_plan(tmp_path):
    proc = run_snakemake(tmp_path, "-n", "provence")
    counts = job_counts(proc.stdout)
    assert counts["convert_triplets"] == 2 and counts["frequency_filter"] == 2
    assert "This was a dry-run" in proc.stdout
    assert not (tmp_path / "results").exists()


def test_bad_config_key_names_itself(tmp_path):
    config = yaml.safe_load(TINY.read_text())
    config["provence"]["frequncy_thresholds"] = [1]
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(config))
    proc = run_snakemake(tmp_path, "-n", configfile=bad, check=False)
    assert proc.returncode != 0
    assert "frequncy_thresholds" in proc.stdout + proc.stderr
    assert not (tmp_path / "results").exists()


def test_interrupt_then_resume_keeps_finished_jobs(tmp_path):
    """Ctrl-C mid-run, then the same command: finished artifacts are not rebuilt."""
    import signal
    import time

    proc = start_snakemake(tmp_path, "provence", cores=1)
    first = tmp_path / "results/provence/base/msmarco_en/dataset_dict.json"
    # Snakemake touches this marker when it records the job as finished.
    done = first.parent / ".snakemake_timestamp"
    deadline = time.monotonic() + 300
    while not done.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert done.exists(), "the first dataset was never built"
    time.sleep(2)
    os.killpg(proc.pid, signal.SIGINT)
    proc.wait(timeout=120)
    built_at = first.stat().st_mtime

    plan = run_snakemake(tmp_path, "-n", "provence")
    assert "output: results/provence/base/msmarco_en" not in plan.stdout
    run_snakemake(tmp_path, "provence")
    assert first.stat().st_mtime == built_at
    assert "Nothing to be done" in run_snakemake(tmp_path, "-n", "provence").stdout

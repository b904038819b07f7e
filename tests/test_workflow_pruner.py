"""The tiny training recipe trains and evaluates through the real `snakemake` CLI."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

from conftest import run_snakemake, start_snakemake


@pytest.mark.workflow
def test_tiny_training_run_through_snakemake(tmp_path):
    run_snakemake(tmp_path, "pruner")
    run = tmp_path / "results/pruner/models/tiny"
    assert sorted(p.name for p in run.glob("checkpoint-*")) == ["checkpoint-2", "checkpoint-4"]
    final = run / "final_model"
    assert (final / "config.json").exists() and (final / "tokenizer.json").exists()
    results = json.loads((final / "eval_datasets/results.json").read_text())
    assert "0.1" in results["results"] and "0.9" in results["results"]  # YAML + sweep
    metrics = results["results"]["0.1"]["results/provence/base/squad_en:test"]
    assert metrics["contexts"] > 0 and metrics["span_total"] > 0
    gold = results["results"]["0.1"]["results/provence/base/squad_en:test/texts[:1]"]
    assert gold["contexts"] == 5 < metrics["contexts"]  # max_texts: 1, one text per question
    tables = (final / "eval_datasets/results.md").read_text().count("## Threshold")
    assert tables == len(results["results"]) >= 10
    assert (run / "threshold_sweep.png").stat().st_size > 1000
    log = json.loads((final / "training_log.json").read_text())
    assert log["global_step"] == 4
    assert any("sentence_loss" in entry for entry in log["log_history"])
    # Nothing left to do on a second run.
    again = run_snakemake(tmp_path, "pruner", "-n")
    assert "Nothing to be done" in again.stdout + again.stderr


TRAIN_TARGET = "results/pruner/models/tiny/final_model/config.json"


def _wait_for(condition, proc, what: str, seconds: float = 300) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"{what} never happened (snakemake exit code {proc.poll()})")
        time.sleep(0.02)


@pytest.mark.workflow
def test_preempted_training_resumes_from_last_checkpoint(tmp_path):
    """Kill the tiny run after checkpoint-2 is complete, rerun the same command: it resumes from
    checkpoint-2 (issue 12.8) instead of deleting the run folder and starting at step 0."""
    run = tmp_path / "results/pruner/models/tiny"
    proc = start_snakemake(tmp_path, TRAIN_TARGET, cores=1)
    try:
        # A clean start writes the fingerprint after clearing the folder. Then a named pipe as
        # checkpoint-4/trainer_state.json (the Trainer writes that file last) holds the job
        # inside its second save, checkpoint-2 complete: the kill needs no timing luck.
        _wait_for((run / "run_fingerprint.json").exists, proc, "a clean start")
        (run / "checkpoint-4").mkdir()
        os.mkfifo(run / "checkpoint-4" / "trainer_state.json")
        _wait_for((run / "checkpoint-4" / "model.safetensors").exists, proc, "checkpoint-4")
        assert (run / "checkpoint-2" / "trainer_state.json").is_file()
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode != 0
    assert not (run / "final_model" / "model.safetensors").exists()
    kept = (run / "checkpoint-2" / "model.safetensors").stat().st_mtime_ns

    started = time.monotonic()
    run_snakemake(tmp_path, TRAIN_TARGET)  # the same command again
    print(f"resumed run: {time.monotonic() - started:.1f}s")
    log = (tmp_path / "logs/pruner/train_pruner/tiny.log").read_text()
    assert "resuming from results/pruner/models/tiny/checkpoint-2 (step 2)" in log
    assert "starting clean" not in log
    training_log = json.loads((run / "final_model" / "training_log.json").read_text())
    assert training_log["resumed_from"]["step"] == 2 and training_log["global_step"] == 4
    state = json.loads((run / "checkpoint-4" / "trainer_state.json").read_text())
    assert state["global_step"] == 4
    assert (run / "checkpoint-2" / "model.safetensors").stat().st_mtime_ns == kept  # not redone
    assert (run / "final_model" / "model.safetensors").exists()


def test_training_commands_use_declared_inputs_and_outputs(tmp_path):
    """Issue 12.7: the commands name the files the DAG declares ({input}/{output}; every rule
    is checked in test_rules.py); the train rule resumes (--auto-resume), never --overwrite."""
    proc = run_snakemake(tmp_path, "pruner", "-n", "-p")
    commands = proc.stdout
    train = next(line for line in commands.splitlines() if "train_pruner.py" in line)
    assert f"--final-model {TRAIN_TARGET}" in train
    assert "--auto-resume" in train and "--overwrite" not in train
    assert "--model results/pruner/models/tiny/final_model/model.safetensors" in commands
    assert "--output resources/models/tiny-bert/config.json " in commands

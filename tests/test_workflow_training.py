"""The tiny training recipe trains and evaluates through the real `snakemake` CLI."""

from __future__ import annotations

import json

import pytest

from conftest import run_snakemake


@pytest.mark.workflow
def test_tiny_training_run_through_snakemake(tmp_path):
    run_snakemake(tmp_path, "training")
    run = tmp_path / "results/provence/models/tiny"
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
    again = run_snakemake(tmp_path, "training", "-n")
    assert "Nothing to be done" in again.stdout + again.stderr

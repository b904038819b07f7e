"""The NLL pipeline on config/tiny.yaml through the real snakemake CLI: the pools checkpoint,
one scoring job per pool shard, the percentile pass, the subsets and the report; and the Modal
rule's command when a config turns Modal on (dry run: CI has no token)."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
import yaml

from conftest import REPO, TINY, run_snakemake

pytestmark = pytest.mark.workflow


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    path = tmp_path_factory.mktemp("nll_wf")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PYTHONPATH", str(REPO))  # jobs import this checkout's distilldata
        run_snakemake(path, "nll")
    return path


def test_every_pool_shard_is_scored_and_counted(workdir):
    corpus = "hermes_reasoning_tools"
    manifest = json.loads((workdir / f"results/sft/pools/{corpus}/pools_manifest.json").read_text())
    assert {f["pool"] for f in manifest["files"]} == {"long_context", "tool_use"}
    for entry in manifest["files"]:
        base = workdir / "results/nll/scores" / corpus / entry["path"]
        stats = json.loads(base.with_name(base.name.replace(".parquet", ".stats.json")).read_text())
        assert stats["rows_in"] == entry["rows"]
        assert stats["rows_in"] == (
            stats["scored"]
            + sum(stats["flagged"].values())
            + stats["scored_in_earlier_pool"]
            + sum(stats["dropped"].values())
        )
        assert pq.read_table(base).num_rows == stats["rows_out"] == 8  # max_records
    scored = pq.read_table(workdir / f"results/nll/scored/{corpus}.parquet").to_pylist()
    assert len({r["id"] for r in scored}) == len(scored) > 8  # the two pools overlap
    assert any(len(r["pools"]) == 2 for r in scored)
    for row in scored:
        if row["nll_mean"] is None:
            assert row["percentile_within_split"] is None and row["flag"]
        else:
            assert 0 < row["percentile_within_split"] <= 1 and row["ifd"] is not None
    assert max(r["percentile_within_split"] or 0 for r in scored) == 1.0


def test_subsets_and_report(workdir):
    sizes = {}
    for name in ("anchor", "restoration", "learning", "challenge"):
        manifest = json.loads((workdir / f"results/nll/subsets/{name}/manifest.json").read_text())
        assert manifest["policy"]["null_correctness"] == "high"  # tiny.yaml's choice
        sizes[name] = manifest["rows"]
        rows = sum(pq.read_table(workdir / f"results/nll/subsets/{name}/{f['path']}").num_rows
                   for f in manifest["files"])  # fmt: skip
        assert rows == manifest["rows"]
    assert sizes["anchor"] > 0
    report = (workdir / "results/nll/report/nll_report.md").read_text()
    assert "| hermes_reasoning_tools | tool_use | train |" in report
    for name, size in sizes.items():
        assert f"| {name} |" in report and f"### {name}: {min(3, size)} example rows" in report
    for plot in ("nll_mean.png", "percentiles.png"):
        assert (workdir / "results/nll/report" / plot).read_bytes()[:4] == b"\x89PNG"


def test_second_run_has_nothing_to_do(workdir):
    again = run_snakemake(workdir, "nll", "-n")
    assert "Nothing to be done" in again.stdout + again.stderr


def test_modal_rule_command_from_config(workdir, tmp_path):
    config = yaml.safe_load(TINY.read_text())
    config["nll"]["modal"] = {"enabled": True, "gpu": "H200", "volume": "my-vol"}
    path = tmp_path / "modal.yaml"
    path.write_text(yaml.safe_dump(config))
    dry = run_snakemake(workdir, "-n", "-p", "nll", configfile=path)
    out = dry.stdout + dry.stderr
    corpus = "hermes_reasoning_tools"
    assert "rule nll_modal_scores" in out and "rule nll_score:" not in out
    assert (
        f"scripts/nll/modal_scores.py --pools results/sft/pools/{corpus} "
        f"--output results/nll/modal_scores/{corpus} --corpus {corpus} "
        "--model resources/models/tiny-causal-lm --max_length 4096"
    ) in out
    assert "--gpu H200 --volume my-vol --source volume" in out and "--ifd" in out

"""How the workflow picks its config and its Hub access (real `snakemake` dry runs)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

from conftest import REPO, TINY, offline_env, snakemake_command

DEMO = REPO / "config" / "config.yaml"
HUB_ONLINE = REPO / "config" / "hub-online.yaml"


def dry_run(tmp_path, *args: str) -> str:
    """Job counts of a dry run of the repo's Snakefile with these config arguments."""
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "data").symlink_to(REPO / "data")
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile")]
    cmd += ["--directory", str(tmp_path), "--cores", "1", "-n", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=offline_env(), timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout + proc.stderr


def job_count(output: str, rule: str) -> int:
    match = re.search(rf"^{rule}\s+(\d+)$", output, re.MULTILINE)
    return int(match.group(1)) if match else 0


def test_config_override_alone_applies_on_top_of_the_demo_config(tmp_path):
    out = dry_run(tmp_path, "--config", "sft={publish: {repo_id: me/elsewhere}}")
    # the demo's four Provence datasets and three Nemotron corpora are still planned
    assert job_count(out, "convert_triplets") == 4
    assert job_count(out, "sft_publish") == 3


def test_configfile_replaces_the_demo_config(tmp_path):
    out = dry_run(
        tmp_path,
        "--configfile",
        str(TINY),
        "--config",
        "sft={publish: {repo_id: me/elsewhere}}",
    )
    assert job_count(out, "convert_triplets") == 2  # tiny's two datasets, not the demo's four
    assert job_count(out, "sft_publish") == 2


def test_hub_is_offline_unless_the_config_opts_in(tmp_path):
    assert "hub: offline" in dry_run(tmp_path / "a", "--configfile", str(TINY))
    online = dry_run(tmp_path / "b", "--configfile", str(TINY), str(HUB_ONLINE))
    assert "hub: online" in online


def test_make_run_hub_1_adds_the_online_config():
    cmd = ["make", "-n", "run", "HUB=1", "STAMP=Makefile"]
    out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert "config/hub-online.yaml" in out
    plain = ["make", "-n", "run", "STAMP=Makefile"]
    out = subprocess.run(plain, cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert "hub-online" not in out


def test_jobs_run_the_python_that_runs_snakemake(tmp_path):
    """`.venv/bin/snakemake` without the venv on PATH: jobs must not fall back to a bare
    `python` (the system one, without our packages)."""
    bare_path = "/usr/bin:/bin"
    env = offline_env(PATH=bare_path)
    proc = subprocess.run(
        snakemake_command(tmp_path, "resources/nltk_data"),
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tmp_path / "resources/nltk_data/tokenizers/punkt_tab/english").is_dir()


def copy_workflow(tmp_path):
    """The workflow's own files in a folder of their own (so a test may edit its code)."""
    for name in ("Snakefile", "rules", "scripts", "distilldata", "config", "envs", "report"):
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, tmp_path / name)
    (tmp_path / "data").symlink_to(REPO / "data")
    return tmp_path


def test_a_job_reruns_when_the_code_it_runs_changes_and_only_then(tmp_path):
    flow = copy_workflow(tmp_path)

    def plan(*args):
        cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(flow / "Snakefile")]
        cmd += ["--directory", str(flow), "--configfile", str(TINY), "--cores", "1", *args]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=offline_env(), timeout=300)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc.stdout + proc.stderr

    plan("resources/nltk_data")
    assert "Nothing to be done" in plan("-n", "resources/nltk_data")
    with open(flow / "distilldata" / "sft" / "pools.py", "a") as f:
        f.write("\n# export_punkt.py never imports this\n")
    assert "Nothing to be done" in plan("-n", "resources/nltk_data")
    with open(flow / "distilldata" / "text" / "sentences.py", "a") as f:
        f.write("\n# export_punkt.py imports this\n")
    out = plan("-n", "resources/nltk_data")
    assert job_count(out, "punkt_tables") == 1
    assert "Params have changed" in out or "params" in out.lower()

"""The cluster profiles, statically: what every job would ask SLURM for, from a dry run.

Expectations come from the profile itself (rendered the way Snakemake renders it) and from the
rules that exist when the test runs, so the checks follow new GPU rules as they land. The real
submission is exercised by the SLURM CI lane (.ci/slurm-lane.sh).
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yte

from conftest import REPO, TINY, offline_env

SLURM_PROFILE = REPO / "profiles" / "slurm"
WORKSTATION_PROFILE = REPO / "profiles" / "gpu-workstation"

# Site facts set to values no default could produce.
SITE_ENV = {
    "DISTILLDATA_SLURM_ACCOUNT": "acct-test",
    "DISTILLDATA_SLURM_CPU_PARTITION": "cpu-test",
    "DISTILLDATA_SLURM_GPU_PARTITION": "gpu-test",
    "DISTILLDATA_SLURM_GPU_MODEL": "",
}
UNIT_MINUTES = {"m": 1, "min": 1, "h": 60, "d": 24 * 60}

needs_slurm_plugin = pytest.mark.skipif(
    importlib.util.find_spec("snakemake_executor_plugin_slurm") is None,
    reason="snakemake-executor-plugin-slurm is not installed (`make install-profile`)",
)


def site_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    """SITE_ENV plus overrides; a developer's own site file never leaks into the test."""
    env = {"DISTILLDATA_SLURM_SITE": str(tmp_path / "no-site-file.yaml"), **SITE_ENV}
    env.update(overrides)
    return env


def render_profile(monkeypatch, env: dict[str, str], profile: Path = SLURM_PROFILE) -> dict:
    """The profile as Snakemake sees it (YTE-rendered with this environment)."""
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with open(profile / "config.yaml") as stream:
        return yte.process_yaml(stream, require_use_yte=True)


def minutes(value) -> int:
    """A profile runtime ("6h", "90m", 30) in minutes, independently of Snakemake's parser."""
    if isinstance(value, int):
        return value
    match = re.fullmatch(r"(\d+)\s*(m|min|h|d)", str(value))
    assert match, f"runtime {value!r} has no unit"
    return int(match[1]) * UNIT_MINUTES[match[2]]


def dry_run(workdir: Path, snakefile: Path, env: dict[str, str], *args: str) -> dict[str, list]:
    """`snakemake -n` in workdir: {rule: [resources of each job that would be submitted]}."""
    workdir.mkdir(parents=True, exist_ok=True)
    if not (workdir / "data").exists():
        (workdir / "data").symlink_to(REPO / "data")
    cmd = [sys.executable, "-m", "snakemake", "-n", "--snakefile", str(snakefile)]
    cmd += ["--directory", str(workdir), *args]
    proc = subprocess.run(
        cmd, capture_output=True, text=True, env=offline_env(**env), timeout=300, cwd=workdir
    )
    assert proc.returncode == 0, f"dry run failed:\n{proc.stdout}\n{proc.stderr}"
    return parse_jobs(proc.stdout + proc.stderr)


def parse_jobs(output: str) -> dict[str, list[dict[str, str]]]:
    """Jobs per rule with their resources. Target rules (no output) and local rules are left out:
    Snakemake runs them itself, they never reach SLURM."""
    blocks: list[tuple[str, list[str]]] = []
    for line in output.splitlines():
        if match := re.match(r"^(local)?rule (\w+):$", line):
            blocks.append(("" if match[1] else match[2], []))
        elif blocks and line.startswith("    "):
            blocks[-1][1].append(line.strip())
    jobs: dict[str, list[dict[str, str]]] = {}
    for rule, lines in blocks:
        if not rule or not any(line.startswith("output: ") for line in lines):
            continue
        resources = next((line for line in lines if line.startswith("resources: ")), "")
        items = resources.removeprefix("resources: ").split(", ")
        jobs.setdefault(rule, []).append(dict(item.split("=", 1) for item in items if "=" in item))
    return jobs


def gpus(resources: dict[str, str]) -> int:
    if "gpu" in resources:
        return int(resources["gpu"])
    gres = re.fullmatch(r"gpu(?::\w+)?(?::(\d+))?", resources.get("gres", ""))
    return int(gres[1] or 1) if gres else 0


def check_jobs(jobs: dict, local_jobs: dict, profile: dict, env: dict[str, str]) -> None:
    """Every job resolves to what the profile promises, and every GPU job to a GPU partition."""
    defaults = profile["default-resources"]
    per_rule = profile.get("set-resources", {})
    assert jobs, "the dry run listed no jobs"
    for rule, rule_jobs in jobs.items():
        promised = per_rule.get(rule, {})
        own = local_jobs.get(rule, [{}])[0]  # what the rule itself declares (no profile)
        for resources in rule_jobs:
            where = f"{rule}: {resources}"
            assert resources.get("slurm_account") == env["DISTILLDATA_SLURM_ACCOUNT"], where
            if "runtime" in promised:
                runtime = minutes(promised["runtime"])
            elif "runtime" in own:
                runtime = int(own["runtime"])
            else:
                runtime = minutes(defaults["runtime"])
            assert int(resources.get("runtime", 0)) == runtime, where
            if rule in per_rule:
                # A GPU rule may ask for no GPU when its config picks a CPU backend (gpu=0).
                assert resources["slurm_partition"] == env["DISTILLDATA_SLURM_GPU_PARTITION"], where
            else:
                # A GPU job outside the profile's GPU rules would land on the CPU partition.
                assert not gpus(resources), f"GPU rule {rule} has no set-resources entry: {where}"
                assert resources["slurm_partition"] == env["DISTILLDATA_SLURM_CPU_PARTITION"], where
            for key, value in promised.items():
                expected = minutes(value) if key == "runtime" else value
                assert str(resources.get(key)) == str(expected), f"{key}: {where}"


def gpu_workflow(tmp_path: Path, profile: dict) -> Path:
    """A stand-in workflow: one CPU rule plus every GPU rule the profile names, each gpu=1."""
    names = sorted(profile["set-resources"])
    rules = ["rule all:", "    input:"] + [f'        "{n}.txt",' for n in [*names, "cpu_step"]]
    rules += ["    localrule: True", ""]
    for name in [*names, "cpu_step"]:
        rules += [f"rule {name}:", "    output:", f'        "{name}.txt",']
        if name != "cpu_step":
            rules += ["    resources:", "        gpu=1,"]
        rules += ["    shell:", '        "touch {output}"', ""]
    snakefile = tmp_path / "gpu_rules.smk"
    snakefile.write_text("\n".join(rules))
    return snakefile


@needs_slurm_plugin
def test_profile_gpu_rules_resolve(tmp_path, monkeypatch):
    env = site_env(tmp_path)
    profile = render_profile(monkeypatch, env)
    assert profile["executor"] == "slurm"
    assert set(profile["set-resources"]) >= {
        "span_relevance",
        "teacher_scores",
        "train_pruner",
        "eval_pruner",
    }
    snakefile = gpu_workflow(tmp_path, profile)
    jobs = dry_run(tmp_path / "run", snakefile, env, "--profile", str(SLURM_PROFILE))
    assert set(jobs) == {*profile["set-resources"], "cpu_step"}
    check_jobs(jobs, {}, profile, env)
    for rule in profile["set-resources"]:
        resources = jobs[rule][0]
        assert resources["gpu"] == "1" and "gpu_model" not in resources
        assert int(resources["cpus_per_gpu"]) >= 1 and int(resources["mem_mb"]) >= 1000


def test_profile_gpu_jobs_threads_match_their_cpus(monkeypatch, tmp_path):
    """A GPU job's threads (OMP, torch, DuckDB) are the CPUs SLURM gives it with its one GPU."""
    profile = render_profile(monkeypatch, site_env(tmp_path))
    gpu_rules = profile["set-resources"]
    assert set(profile["set-threads"]) == set(gpu_rules)
    for rule, resources in gpu_rules.items():
        assert profile["set-threads"][rule] == resources["cpus_per_gpu"]


@needs_slurm_plugin
def test_profile_defaults_without_site_facts(tmp_path, monkeypatch):
    """No site facts: no account (the plugin guesses), the site's default CPU partition, `gpu`."""
    env = {"DISTILLDATA_SLURM_SITE": str(tmp_path / "none.yaml")}
    for key in SITE_ENV:
        monkeypatch.delenv(key, raising=False)
    profile = render_profile(monkeypatch, env)
    assert "slurm_account" not in profile["default-resources"]
    assert "slurm_partition" not in profile["default-resources"]
    assert {entry["slurm_partition"] for entry in profile["set-resources"].values()} == {"gpu"}
    jobs = dry_run(
        tmp_path / "run", gpu_workflow(tmp_path, profile), env, "--profile", str(SLURM_PROFILE)
    )
    assert "slurm_partition" not in jobs["cpu_step"][0]
    assert "slurm_account" not in jobs["cpu_step"][0]
    assert jobs["train_pruner"][0]["slurm_partition"] == "gpu"


@needs_slurm_plugin
def test_site_file_and_environment(tmp_path, monkeypatch):
    """The site file supplies facts; an environment variable beats the site file."""
    site = tmp_path / "site.yaml"
    site.write_text("account: lab7\ngpu_partition: gpu-a100\ngpu_model: a100\n")
    for key in SITE_ENV:
        monkeypatch.delenv(key, raising=False)
    env = {"DISTILLDATA_SLURM_SITE": str(site), "DISTILLDATA_SLURM_ACCOUNT": "proj42"}
    profile = render_profile(monkeypatch, env)
    assert profile["default-resources"]["slurm_account"] == "proj42"
    jobs = dry_run(
        tmp_path / "run", gpu_workflow(tmp_path, profile), env, "--profile", str(SLURM_PROFILE)
    )
    resources = jobs["span_relevance"][0]
    assert resources["slurm_partition"] == "gpu-a100"
    assert resources["gpu_model"] == "a100" and resources["slurm_account"] == "proj42"


@needs_slurm_plugin
@pytest.mark.workflow
def test_tiny_config_resolves_under_slurm_profile(tmp_path, monkeypatch):
    """Every job of the real workflow (tiny config), including GPU rules once they exist."""
    env = site_env(tmp_path)
    profile = render_profile(monkeypatch, env)
    snakefile = REPO / "Snakefile"
    tiny = ("--configfile", str(TINY))
    jobs = dry_run(tmp_path / "slurm", snakefile, env, *tiny, "--profile", str(SLURM_PROFILE))
    local_jobs = dry_run(tmp_path / "local", snakefile, env, *tiny, "--cores", "2")
    assert set(jobs) == set(local_jobs)
    check_jobs(jobs, local_jobs, profile, env)


@pytest.mark.workflow
def test_gpu_workstation_runs_gpu_rules_one_at_a_time(tmp_path):
    rules = []
    for name in ("first", "second"):
        rules += [
            f"rule {name}:",
            "    output:",
            f'        "{name}.txt",',
            "    resources:",
            "        gpu=1,",
            "    shell:",
            '        "date +%s.%N > {output}; sleep 2; date +%s.%N >> {output}"',
            "",
        ]
    snakefile = tmp_path / "Snakefile"
    snakefile.write_text("\n".join(rules))
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(snakefile)]
    cmd += ["--directory", str(tmp_path), "--profile", str(WORKSTATION_PROFILE)]
    cmd += ["--cores", "2", "first.txt", "second.txt"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=offline_env(), timeout=300)
    assert proc.returncode == 0, proc.stderr
    spans = sorted(
        tuple(map(float, (tmp_path / f"{n}.txt").read_text().split())) for n in ("first", "second")
    )
    assert spans[0][1] <= spans[1][0], f"GPU jobs overlapped: {spans}"

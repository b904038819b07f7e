"""Shared fixtures: the repository paths and a runner for the real `snakemake` CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data"
TINY = REPO / "config" / "tiny.yaml"
BIN = Path(sys.executable).parent


def offline_env(**extra: str) -> dict[str, str]:
    """The environment every test subprocess runs in: offline, venv first on PATH."""
    env = dict(os.environ)
    env.update(
        HF_HUB_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        HF_HUB_DISABLE_TELEMETRY="1",
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
    )
    env.update(extra)
    return env


def snakemake_command(
    workdir: Path, *args: str, configfile: Path = TINY, cores: int = 2
) -> list[str]:
    """The real snakemake CLI on the repo's Snakefile in `workdir` (data/ linked in)."""
    if not (workdir / "data").exists():
        (workdir / "data").symlink_to(DATA)
    return [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        str(configfile),
        "--cores",
        str(cores),
        *args,
    ]


def start_snakemake(workdir: Path, *args: str, cores: int = 2) -> subprocess.Popen:
    """The real snakemake CLI in the background, in its own process group (so a test can
    interrupt the whole run with os.killpg, as Ctrl-C or a scheduler would)."""
    return subprocess.Popen(
        snakemake_command(workdir, *args, cores=cores),
        env=offline_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def run_snakemake(
    workdir: Path, *args: str, configfile: Path = TINY, check: bool = True, timeout: int = 900
) -> subprocess.CompletedProcess:
    """Run the real snakemake CLI in `workdir` and fail loudly unless it succeeds."""
    cmd = snakemake_command(workdir, *args, configfile=configfile)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=offline_env(), timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture(scope="session")
def nltk_data(tmp_path_factory) -> Path:
    """Punkt tables exported once per session, visible to NLTK in this process."""
    from distilldata.text.sentences import export_punkt_tables

    root = tmp_path_factory.mktemp("nltk_data")
    export_punkt_tables(root)
    os.environ["NLTK_DATA"] = str(root)
    import nltk

    nltk.data.path.insert(0, str(root))
    return root

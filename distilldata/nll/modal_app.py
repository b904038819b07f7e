"""Modal app: score candidate-pool shards on Modal GPUs with our `local` backend (transformers,
bf16, packed batches, head and cross-entropy only at scored positions).

The seed's interface (radna0/cuda-norm `modal/nll_scoring.py`): environment variables read where
the app is defined (your machine) and handed to the containers with `env=` (Modal does not
forward the local environment):

  CANDIDATE_DATASET_ID  Hub dataset repo with candidate Parquet files (empty: pools uploaded to
                        the Volume with `modal volume put`, see scripts/nll/modal_scores.py)
  CANDIDATE_SUBDIR      folder inside it (Hub), or the corpus folder under pools/ (Volume)
  MODEL_NAME            student (default unsloth/gpt-oss-120b)
  MAX_LENGTH            tokens scored per row at most (default 4096)
  BATCH_SIZE            rows per packed forward (default 8)
  MAX_RECORDS           first K rows of every shard (default 0: all; the seed counts K over
                        all files)
  and ours: NLL_LOSS_MODE (empty: each row's loss_mode), NLL_IFD (1: also the prompt-free
  pass), NLL_BATCH_TOKENS, NLL_INCLUDE_HEADERS, NLL_GPU (H100), NLL_VOLUME (distilldata-nll),
  NLL_TIMEOUT_HOURS (6), NLL_MAX_CONTAINERS (4), NLL_HF_SECRET (a Modal secret with HF_TOKEN).

Volume layout (mounted at /data): pools/<subdir>/<pool>/part-NNNNN.parquet in,
scores/<subdir>/<pool>/part-NNNNN.parquet (+ .stats.json) out, cache/ the group cache (a
preempted container's successor redoes one group at most). `NllScorer` loads the model once per
container (`@modal.enter`); `main` maps it over the shards:

  modal run distilldata/nll/modal_app.py::main --manifest results/sft/pools/X/pools_manifest.json

Without a Modal token the functions still run in-process (`.local()`, with NLL_DATA_ROOT
pointing at a local folder): that is how CI tests them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import modal

SEED_KEYS = (
    "CANDIDATE_DATASET_ID",
    "CANDIDATE_SUBDIR",
    "MODEL_NAME",
    "MAX_LENGTH",
    "BATCH_SIZE",
    "MAX_RECORDS",
)
OUR_KEYS = ("NLL_LOSS_MODE", "NLL_IFD", "NLL_BATCH_TOKENS", "NLL_INCLUDE_HEADERS")
RUN_ENV = {key: os.environ[key] for key in (*SEED_KEYS, *OUR_KEYS) if os.environ.get(key)}
DEFAULT_MODEL = "unsloth/gpt-oss-120b"
# The container's packages, pinned like requirements.lock (a CUDA torch from PyPI's default index).
PACKAGES = (
    "torch==2.13.0",
    "transformers==5.24.0",
    "accelerate",
    "pyarrow==26.0.1",
    "numpy",
    "huggingface_hub",
    "datasets==5.2.0",
)


def setting(key: str, default: str = "") -> str:
    return os.environ.get(key) or default


DATA_ROOT = Path(setting("NLL_DATA_ROOT", "/data"))
HF_CACHE = "/root/.cache/huggingface"

app = modal.App("distilldata-nll")
image = (
    modal.Image.debian_slim(python_version="3.11")
    .pip_install(*PACKAGES)
    .add_local_python_source("distilldata")
)
data_volume = modal.Volume.from_name(
    setting("NLL_VOLUME", "distilldata-nll"), create_if_missing=True
)
hf_cache = modal.Volume.from_name("distilldata-hf-cache", create_if_missing=True)
secrets = [modal.Secret.from_name(setting("NLL_HF_SECRET"))] if setting("NLL_HF_SECRET") else []
volumes = {str(DATA_ROOT): data_volume, HF_CACHE: hf_cache}
timeout = int(float(setting("NLL_TIMEOUT_HOURS", "6")) * 3600)


def subdir() -> str:
    return setting("CANDIDATE_SUBDIR").strip("/")


def pools_root() -> Path:
    return DATA_ROOT / "pools" / subdir()


def settings_from_env():
    from distilldata.nll.score import make_settings

    return make_settings(
        setting("MODEL_NAME", DEFAULT_MODEL),
        backend="local",
        max_length=int(setting("MAX_LENGTH", "4096")),
        batch_size=int(setting("BATCH_SIZE", "8")),
        batch_tokens=int(setting("NLL_BATCH_TOKENS", "16384")),
        max_records=int(setting("MAX_RECORDS", "0")),
        loss_mode=setting("NLL_LOSS_MODE") or None,
        include_headers=setting("NLL_INCLUDE_HEADERS") == "1",
        ifd=setting("NLL_IFD") == "1",
    )


def sync(volume: modal.Volume, write: bool) -> None:
    """See others' writes (reload) or publish ours (commit); a no-op when running locally."""
    if modal.is_local():
        return
    volume.commit() if write else volume.reload()


def list_shards(root: Path) -> list[str]:
    """Pool shards under `root`, as `<pool>/part-NNNNN.parquet`, sorted (the scoring order)."""
    return sorted(str(p.relative_to(root)) for p in root.glob("*/part-*.parquet"))


@app.function(image=image, volumes=volumes, secrets=secrets, env=RUN_ENV, timeout=3600)
def fetch_candidates() -> list[str]:
    """The shards to score: downloaded from CANDIDATE_DATASET_ID into the Volume (Hub source),
    or as uploaded (Volume source)."""
    dataset = setting("CANDIDATE_DATASET_ID")
    if dataset:
        from huggingface_hub import snapshot_download

        patterns = [f"{subdir()}/**/*.parquet"] if subdir() else ["**/*.parquet"]
        snapshot = Path(snapshot_download(dataset, repo_type="dataset", allow_patterns=patterns))
        source = snapshot / subdir()
        import shutil

        from distilldata.core.store import atomic_path

        for shard in list_shards(source):
            with atomic_path(pools_root() / shard) as tmp:
                shutil.copyfile(source / shard, tmp)
        sync(data_volume, write=True)
    else:
        sync(data_volume, write=False)
    return list_shards(pools_root())


@app.cls(
    image=image,
    gpu=setting("NLL_GPU", "H100"),
    volumes=volumes,
    secrets=secrets,
    env=RUN_ENV,
    timeout=timeout,
    max_containers=int(setting("NLL_MAX_CONTAINERS", "4")),
)
class NllScorer:
    @modal.enter()
    def load(self) -> None:
        from distilldata.llm.token_scores import make_token_scorer

        self.settings = settings_from_env()
        self.scorer = make_token_scorer("local", self.settings.scorer)
        self.scorer.load()

    @modal.method()
    def score(self, shard: str, all_shards: list[str]) -> dict:
        """Score pools/<subdir>/<shard> into scores/<subdir>/<shard>; rows that shards before
        it (in `all_shards` order) sample are scored there."""
        from distilldata.nll.score import score_shard

        sync(data_volume, write=False)
        source = pools_root() / shard
        target = DATA_ROOT / "scores" / subdir() / shard
        earlier = [pools_root() / s for s in all_shards[: all_shards.index(shard)]]
        stats = score_shard(
            source,
            target,
            target.with_name(target.name.removesuffix(".parquet") + ".stats.json"),
            self.settings,
            scorer=self.scorer,
            cache_root=DATA_ROOT / "cache",
            cache_name=f"{subdir() or 'pools'}/{shard.removesuffix('.parquet')}",
            pool=Path(shard).parent.name,
            earlier_shards=earlier,
        )
        sync(data_volume, write=True)
        return stats


def shards_from_manifest(manifest: str) -> list[str]:
    files = json.loads(Path(manifest).read_text("utf-8"))["files"]
    return sorted(entry["path"] for entry in files)


@app.local_entrypoint()
def main(manifest: str = "") -> None:
    """Score every shard (from the local pools manifest, else as found in the Volume or the
    Hub dataset), one container per shard at most `NLL_MAX_CONTAINERS` at a time."""
    shards = (
        shards_from_manifest(manifest)
        if manifest and not setting("CANDIDATE_DATASET_ID")
        else fetch_candidates.remote()
    )
    if not shards:
        raise SystemExit(f"no pool shards under pools/{subdir()} in the Volume")
    for stats in NllScorer().score.map(shards, kwargs={"all_shards": shards}):
        print(json.dumps({k: stats[k] for k in ("input", "rows_in", "scored", "flagged")}))

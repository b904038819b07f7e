"""The Modal app without a token: its functions run in-process with `.local()` (the Volume is a
local folder), and the workflow's three Modal steps (volume put, run, volume get) run against
a stand-in `modal` CLI that executes the same app functions locally."""

from __future__ import annotations

import importlib
import os
import stat
import sys
from pathlib import Path

import modal
import pyarrow.parquet as pq
import pytest
from nll_fixtures import normalized, write_pool

from conftest import REPO
from distilldata.nll.modal_run import ModalJob, run_modal_scores
from distilldata.nll.score import make_settings, score_shard

CORPUS = "demo"


def pools(root: Path) -> Path:
    """Two overlapping pool shards and their manifest, like the sft stage writes them."""
    import json

    rows = [*normalized("hermes")[:3], *normalized("glaive")[:1]]
    folder = root / CORPUS
    write_pool(folder / "long_context" / "part-00000.parquet", rows[:2])
    write_pool(folder / "tool_use" / "part-00000.parquet", rows[1:])
    files = [{"pool": p, "path": f"{p}/part-00000.parquet"} for p in ("long_context", "tool_use")]
    (folder / "pools_manifest.json").write_text(json.dumps({"files": files}))
    return folder


def app_env(data_root: Path, model: Path) -> dict[str, str]:
    return {
        "NLL_DATA_ROOT": str(data_root),
        "CANDIDATE_SUBDIR": CORPUS,
        "MODEL_NAME": str(model),
        "MAX_LENGTH": "2048",
        "BATCH_SIZE": "2",
        "MAX_RECORDS": "3",
        "NLL_IFD": "1",
    }


@pytest.fixture
def modal_app(tmp_path, tiny_causal_lm, monkeypatch):
    for key, value in app_env(tmp_path / "volume", tiny_causal_lm).items():
        monkeypatch.setenv(key, value)
    import distilldata.nll.modal_app as module

    yield importlib.reload(module)  # the app reads its knobs when it is defined


def test_app_functions_run_locally_and_score_like_the_local_backend(
    modal_app, tmp_path, tiny_causal_lm
):
    pools(tmp_path / "volume" / "pools")
    assert modal_app.RUN_ENV["MODEL_NAME"] == str(tiny_causal_lm)
    assert modal_app.RUN_ENV["MAX_RECORDS"] == "3" and "NLL_DATA_ROOT" not in modal_app.RUN_ENV
    assert isinstance(modal_app.fetch_candidates, modal.Function)
    assert isinstance(modal_app.NllScorer, modal.Cls)
    shards = modal_app.fetch_candidates.local()
    assert shards == ["long_context/part-00000.parquet", "tool_use/part-00000.parquet"]
    scorer = modal_app.NllScorer()
    stats = [scorer.score.local(shard, shards) for shard in shards]
    assert [s["scored"] for s in stats] == [2, 2] and stats[1]["scored_in_earlier_pool"] == 1
    # the same shard scored by hand with the same settings gives the same table
    settings = make_settings(str(tiny_causal_lm), max_length=2048, max_records=3, ifd=True)
    source = tmp_path / "volume" / "pools" / CORPUS
    by_hand = tmp_path / "by_hand.parquet"
    score_shard(
        source / shards[1], by_hand, tmp_path / "by_hand.json", settings,
        earlier_shards=[source / shards[0]],
    )  # fmt: skip
    app_out = tmp_path / "volume" / "scores" / CORPUS / shards[1]
    assert pq.read_table(app_out).equals(pq.read_table(by_hand))
    assert list((tmp_path / "volume" / "cache").rglob("*.json"))  # resumable on Modal too


FAKE_MODAL = """#!{python}
\"\"\"A stand-in `modal` CLI: the Volume is a folder; `run` executes the app in-process.\"\"\"
import os, shutil, sys
from pathlib import Path

args = sys.argv[1:]
root = Path(os.environ["FAKE_MODAL_ROOT"])
with open(root / "calls.txt", "a") as log:
    log.write(" ".join(args) + "\\n")
if args[:2] == ["volume", "put"]:
    _, _, _, volume, local, remote = args
    shutil.copytree(local, root / volume / remote.lstrip("/"), dirs_exist_ok=True)
elif args[:2] == ["volume", "get"]:
    _, _, _, volume, remote, dest = args
    source = root / volume / remote.lstrip("/")
    shutil.copytree(source, Path(dest) / source.name)  # the CLI nests the folder
elif args[0] == "run":
    os.environ["NLL_DATA_ROOT"] = str(root / os.environ["NLL_VOLUME"])
    import distilldata.nll.modal_app as app

    shards = app.shards_from_manifest(args[args.index("--manifest") + 1])
    scorer = app.NllScorer()
    for shard in shards:
        scorer.score.local(shard, shards)
else:
    sys.exit(f"unexpected modal call: {{args}}")
"""


def fake_modal(tmp_path: Path) -> Path:
    path = tmp_path / "bin" / "modal"
    path.parent.mkdir()
    path.write_text(FAKE_MODAL.format(python=sys.executable))
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


def test_modal_steps_upload_run_and_download_every_shard(tmp_path, tiny_causal_lm, monkeypatch):
    monkeypatch.setenv("FAKE_MODAL_ROOT", str(tmp_path / "modal"))
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    (tmp_path / "modal").mkdir()
    folder = pools(tmp_path / "pools")
    env = {k: v for k, v in app_env(Path("unused"), tiny_causal_lm).items() if k != "NLL_DATA_ROOT"}
    env.pop("CANDIDATE_SUBDIR")
    job = ModalJob(CORPUS, folder, volume="vol", env=env, modal=str(fake_modal(tmp_path)))
    out = tmp_path / "results" / "modal_scores" / CORPUS
    steps = run_modal_scores(job, out)
    assert [s[1:3] for s in steps] == [["volume", "put"], ["run", "-m"], ["volume", "get"]]
    calls = (tmp_path / "modal" / "calls.txt").read_text().splitlines()
    assert calls[0] == f"volume put --force vol {folder} /pools/{CORPUS}"
    assert calls[1] == (
        f"run -m distilldata.nll.modal_app::main --manifest {folder}/pools_manifest.json"
    )
    assert calls[2].startswith(f"volume get --force vol /scores/{CORPUS} ")
    scored = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.parquet"))
    assert scored == ["long_context/part-00000.parquet", "tool_use/part-00000.parquet"]
    assert (out / "modal_run.json").is_file()
    assert not list(tmp_path.glob("**/nll-modal-*"))  # the download folder is gone


def test_modal_run_fails_when_a_shard_comes_back_unscored(tmp_path):
    folder = pools(tmp_path / "pools")
    script = tmp_path / "modal"
    script.write_text(f"#!{sys.executable}\nimport sys\n")  # does nothing, returns nothing
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    job = ModalJob(CORPUS, folder, modal=str(script))
    with pytest.raises(RuntimeError, match="no scores for 2 of 2 pool shards"):
        run_modal_scores(job, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_hub_source_commands_and_dry_run(tmp_path, caplog):
    job = ModalJob(CORPUS, tmp_path / "pools", source="hub", env={"CANDIDATE_DATASET_ID": "me/p"})
    steps = run_modal_scores(job, tmp_path / "out", dry_run=True)
    assert steps[0] == ["modal", "run", "-m", "distilldata.nll.modal_app::main"]  # no upload
    assert steps[1][:5] == ["modal", "volume", "get", "--force", "distilldata-nll"]
    assert not (tmp_path / "out").exists()
    assert job.run_env() == {
        "CANDIDATE_SUBDIR": CORPUS,
        "NLL_VOLUME": "distilldata-nll",
        "CANDIDATE_DATASET_ID": "me/p",
    }
    assert os.environ.get("CANDIDATE_DATASET_ID") is None

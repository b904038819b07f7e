# What every pipeline shares: config validation (before any job runs), the offline switch, the
# interpreter jobs run, script paths and code digests, local-path tests, the wildcard helper.
# Each pipeline's own helpers sit at the top of its rules/<pipeline>.smk.
import json
import os
import re
import shlex
import sys
from pathlib import Path

from snakemake.utils import validate

validate(config, schema="../config/schema.yaml", set_default=True)


def one_of(names):
    """A wildcard regex matching exactly these strings (escaped: they may hold dots or
    slashes), never anything else; `__none__` when there are none."""
    return "|".join(re.escape(str(n)) for n in sorted(names, key=str)) or "__none__"


wildcard_constraints:
    split=r"[A-Za-z0-9_.-]+",
    part=r"\d{5}",
    bucket=r"\d{3}",
    shard=r"\d+",
    shards=r"\d+",


# Offline unless the config opts in: nothing may reach a hub in the demo, the tests or CI.
# Jobs inherit this process's environment (locally and through SLURM's --export=ALL).
HUB_OFFLINE_VARS = (
    "HF_HUB_OFFLINE",
    "HF_DATASETS_OFFLINE",
    "TRANSFORMERS_OFFLINE",
    "HF_HUB_DISABLE_TELEMETRY",
)
if not config["hub"]["online"]:
    os.environ.update(dict.fromkeys(HUB_OFFLINE_VARS, "1"))
logger.info(
    "hub: online (hub.online is true)"
    if config["hub"]["online"]
    else "hub: offline (set hub.online: true, e.g. config/hub-online.yaml, to download)"
)


def script(name):
    """A script's path from the workflow's own folder, so `--directory elsewhere` works."""
    return str(Path(workflow.basedir) / "scripts" / name)


def code_version(name):
    """Digest of a script and the distilldata modules it imports: a rule's `code` param, so a
    job reruns when the code it runs changes (Snakemake's params trigger), and only then.
    """
    from distilldata.core.code_version import code_digest

    return code_digest(script(name), workflow.basedir)


def _jobs_use_this_python():
    """Jobs run `python`: put the folder of the interpreter running Snakemake (the venv's)
    first on PATH, so they find it whatever the user's PATH says. Jobs inherit this environment,
    locally and through SLURM (--export=ALL). Under `--sdm conda` each job's env comes first.
    """
    bindir = str(Path(sys.executable).parent)
    path = os.environ.get("PATH", "").split(os.pathsep)
    if (Path(bindir) / "python").exists() and path[0] != bindir:
        os.environ.update(PATH=os.pathsep.join([bindir, *path]))


_jobs_use_this_python()


def is_local(dataset):
    """A dataset reference is a local path (built by a rule or on disk) rather than a Hub id."""
    return (
        dataset.startswith(("resources/", "results/", "data/"))
        or Path(dataset).exists()
    )


def repo_file(path):
    """A config file path as given if it exists here, else from the workflow's own folder
    (so `--directory elsewhere` finds config/training/*.yaml)."""
    if Path(path).exists() or Path(path).is_absolute():
        return str(path)
    return str(Path(workflow.basedir) / path)

# Every Python helper of the workflow, and the config validation (before any job runs).
import os
from pathlib import Path

from snakemake.utils import validate

validate(config, schema="../config/schema.yaml", set_default=True)

PROVENCE = config["provence"]
QA_SOURCES = PROVENCE["qa_sources"]
DATASETS = PROVENCE["datasets"]
THRESHOLDS = sorted(set(PROVENCE["frequency_thresholds"]))


def _alternatives(names):
    """A wildcard regex matching exactly these names (never anything else)."""
    return "|".join(sorted(map(str, names))) or "__none__"


wildcard_constraints:
    slug=_alternatives(DATASETS),
    source=_alternatives(QA_SOURCES),
    n=_alternatives(THRESHOLDS),


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


def script(name):
    """A script's path from the workflow's own folder, so `--directory elsewhere` works."""
    return str(Path(workflow.basedir) / "scripts" / name)


# ---- provence ---------------------------------------------------------------------------


def qa_source_file(wildcards):
    return QA_SOURCES[wildcards.source]["path"]


def qa_source_options(wildcards):
    source = QA_SOURCES[wildcards.source]
    return (
        f"--seed {PROVENCE['seed']} --max-negatives {source['max_negatives']} "
        f"--eval-fraction {source['eval_fraction']}"
    )


def is_local(dataset):
    """A dataset reference is a local path (built by a rule or on disk) rather than a Hub id."""
    return (
        dataset.startswith(("resources/", "results/", "data/"))
        or Path(dataset).exists()
    )


def convert_inputs(wildcards):
    dataset = DATASETS[wildcards.slug]["dataset"]
    inputs = {"punkt": "resources/nltk_data"}
    if is_local(dataset):
        inputs["dataset"] = dataset
    return inputs


def convert_options(wildcards):
    entry = DATASETS[wildcards.slug]
    options = [
        f"--dataset {entry['dataset']}",
        f"--lang {entry['lang']}",
        f"--seed {PROVENCE['seed']}",
    ]
    if entry.get("subset"):
        options.append(f"--subset {entry['subset']}")
    if entry.get("sample_size"):
        options.append(f"--sample-size {entry['sample_size']}")
    return " ".join(options)


def threshold_flags():
    return " ".join(f"--threshold {n}" for n in THRESHOLDS)


def provence_artifacts():
    """Every Provence dataset folder the config asks for, as paths under results/provence/."""
    artifacts = [f"base/{slug}" for slug in DATASETS]
    artifacts += [f"freq/{slug}/freq{n}" for slug in DATASETS for n in THRESHOLDS]
    return artifacts


def provence_targets():
    return expand(
        "results/provence/reports/{artifact}.{ext}",
        artifact=provence_artifacts(),
        ext=["md", "json"],
    ) + expand("results/provence/freq/{slug}/stats.json", slug=DATASETS)

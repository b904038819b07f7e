# Every Python helper of the workflow, and the config validation (before any job runs).
import os
import shlex
import sys
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
    corpus=_alternatives(config["nemotron"]["datasets"]),
    split=r"[A-Za-z0-9_.-]+",
    part=r"\d{5}",
    bucket=r"\d{3}",


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
    from distilldata.code_version import code_digest

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
    return (
        expand(
            "results/provence/reports/{artifact}.{ext}",
            artifact=provence_artifacts(),
            ext=["md", "json"],
        )
        + expand("results/provence/freq/{slug}/stats.json", slug=DATASETS)
        + provence_label_targets()
    )


# ---- nemotron ---------------------------------------------------------------------------
import functools
import shlex

NEMOTRON = config["nemotron"]
NEMOTRON_ENTRY_DEFAULTS = {
    "from_hub": False,
    "splits": None,
    "kind": None,
    "subset": "default",
    "loss_mode": "assistant_all",
    "dedup_key": "completion",
    "effort_from_split": False,
    "strict_content": False,
    "stringify_content": True,
    "uuid_is_problem_id": False,
}
for _corpus, _entry in NEMOTRON["datasets"].items():
    NEMOTRON["datasets"][_corpus] = {**NEMOTRON_ENTRY_DEFAULTS, **_entry}
NEMOTRON_CROSS = "results/nemotron/dedup_cross_corpus"


@functools.cache
def nemotron_shards(corpus):
    """{split: [shard paths]} of one dataset, resolved on first use by an input function (never
    at parse time): a missing file fails only the targets that need this dataset."""
    from distilldata.dataset_files import resolve_splits
    from distilldata.errors import InputError

    entry = NEMOTRON["datasets"][corpus]
    try:
        return resolve_splits(
            hub_id=entry["dataset"] if entry["from_hub"] else None,
            splits=entry["splits"],
        )
    except InputError as exc:
        raise InputError(f"nemotron dataset {corpus!r}: {exc}") from None


def nemotron_parts(corpus):
    """(split, part) of every input shard of a dataset; part is the 5-digit shard number."""
    return [
        (split, f"{i:05d}")
        for split, files in sorted(nemotron_shards(corpus).items())
        for i in range(len(files))
    ]


def nemotron_shard(wildcards):
    shards = nemotron_shards(wildcards.corpus)[wildcards.split]
    return str(shards[int(wildcards.part)])


def _nemotron_per_part(pattern, corpus):
    return [
        pattern.format(corpus=corpus, split=s, part=p)
        for s, p in nemotron_parts(corpus)
    ]


def nemotron_normalize_options(wildcards):
    entry = NEMOTRON["datasets"][wildcards.corpus]
    system, quality = NEMOTRON["system"], NEMOTRON["quality"]
    options = [
        f"--dataset {shlex.quote(entry['dataset'])}",
        f"--subset {shlex.quote(entry['subset'])}",
        f"--loss_mode {entry['loss_mode']}",
        f"--identity {shlex.quote(system['identity'])}",
        f"--knowledge_cutoff {shlex.quote(system['knowledge_cutoff'])}",
        f"--reasoning_effort {system['reasoning_effort']}",
        f"--min_completion_chars {quality['min_completion_chars']}",
        f"--repeated_line_min_count {quality['repeated_line_min_count']}",
        f"--too_long_tokens {quality['too_long_tokens']}",
    ]
    options += [f"--drop {reason}" for reason in NEMOTRON["drop"]]
    if entry["kind"]:
        options.append(f"--kind {entry['kind']}")
    if system["date"]:
        options.append(f"--date {shlex.quote(system['date'])}")
    if NEMOTRON["max_records"]:
        options.append(f"--max_records {NEMOTRON['max_records']}")
    for flag in ("effort_from_split", "strict_content", "uuid_is_problem_id"):
        if entry[flag]:
            options.append(f"--{flag}")
    return " ".join(options)


def nemotron_minhash_options(wildcards):
    dedup = NEMOTRON["dedup"]
    entry = NEMOTRON["datasets"][wildcards.corpus]
    order = 0
    if dedup["cross_corpus"]:
        order = list(NEMOTRON["datasets"]).index(wildcards.corpus)
    return (
        f"--key {entry['dedup_key']} --near_duplicates {dedup['near_duplicates']} "
        f"--ngram {dedup['ngram']} --bands {dedup['bands']} --rows {dedup['rows']} "
        f"--seed {dedup['seed']} --corpus {wildcards.corpus} --corpus_order {order}"
    )


def nemotron_buckets():
    return [
        f"{b:03d}"
        for b in range(
            min(NEMOTRON["dedup"]["bucket_jobs"], NEMOTRON["dedup"]["bands"])
        )
    ]


def nemotron_signatures(wildcards):
    return _nemotron_per_part(
        "results/nemotron/dedup/{corpus}/signatures/{split}/part-{part}.parquet",
        wildcards.corpus,
    )


def nemotron_all_signatures(wildcards):
    """The signatures of every dataset (cross-corpus dedup), in config order."""
    return [
        path
        for corpus in NEMOTRON["datasets"]
        for path in _nemotron_per_part(
            "results/nemotron/dedup/{corpus}/signatures/{split}/part-{part}.parquet",
            corpus,
        )
    ]


def nemotron_bucket_files(wildcards):
    return expand(
        "results/nemotron/dedup/{corpus}/buckets/bucket-{bucket}.parquet",
        corpus=wildcards.corpus,
        bucket=nemotron_buckets(),
    )


def nemotron_cross_bucket_files(wildcards):
    return expand(
        f"{NEMOTRON_CROSS}/buckets/bucket-{{bucket}}.parquet", bucket=nemotron_buckets()
    )


def nemotron_clusters(wildcards):
    """The cluster table a dataset is filtered with: its own, or the cross-corpus one."""
    if NEMOTRON["dedup"]["cross_corpus"]:
        return f"{NEMOTRON_CROSS}/clusters.parquet"
    return f"results/nemotron/dedup/{wildcards.corpus}/clusters.parquet"


def nemotron_deduped(wildcards):
    return _nemotron_per_part(
        "results/nemotron/deduped/{corpus}/{split}/part-{part}.parquet",
        wildcards.corpus,
    )


def nemotron_tool_parts(wildcards):
    return _nemotron_per_part(
        "results/nemotron/normalized/{corpus}/{split}/part-{part}.tools.jsonl",
        wildcards.corpus,
    )


def nemotron_pool_options():
    pools = NEMOTRON["pools"]
    return " ".join(f"--{key} {value}" for key, value in sorted(pools.items()))


def _nemotron_sources():
    """(dataset, split, shard) of every configured shard, sorted."""
    return [
        (corpus, split, str(f))
        for corpus in sorted(NEMOTRON["datasets"])
        for split, files in sorted(nemotron_shards(corpus).items())
        for f in files
    ]


def nemotron_inventory_inputs(wildcards):
    return sorted({f for _, _, f in _nemotron_sources()})


def nemotron_inventory_sources(wildcards):
    return " ".join(
        f"--source {shlex.quote(f'{corpus}:{split}:{f}')}"
        for corpus, split, f in _nemotron_sources()
    )


def nemotron_publish_options(wildcards):
    publish = NEMOTRON["publish"]
    dry = "--dry-run" if publish["dry_run"] else "--no-dry-run"
    return f"--repo_id {shlex.quote(publish['repo_id'])} --path_in_repo {wildcards.corpus} {dry}"


def _nemotron_target_files(wildcards):
    targets = [
        "results/nemotron/inventory.json",
        "results/nemotron/metadata_coverage.md",
    ]
    for corpus in NEMOTRON["datasets"]:
        targets.append(f"results/nemotron/pools/{corpus}")
        targets.append(f"results/nemotron/normalized/{corpus}/tools_catalog.json")
        targets += _nemotron_per_part(
            "results/nemotron/deduped/{corpus}/{split}/part-{part}.stats.json", corpus
        )
        if NEMOTRON["publish"]["repo_id"]:
            targets.append(f"results/nemotron/publish/{corpus}.json")
    return targets


def nemotron_targets():
    """The Nemotron targets, as an input function: shard lists are resolved only when a
    nemotron target is built, so other pipelines run while a Nemotron file is missing.
    """
    return [_nemotron_target_files] if NEMOTRON["datasets"] else []


# ---- training ---------------------------------------------------------------------------


TRAINING = PROVENCE["training"]
TRAINING_RUNS = TRAINING["runs"]


wildcard_constraints:
    run=_alternatives(TRAINING_RUNS),


def repo_file(path):
    """A config file path as given if it exists here, else from the workflow's own folder
    (so `--directory elsewhere` finds config/training/*.yaml)."""
    if Path(path).exists() or Path(path).is_absolute():
        return str(path)
    return str(Path(workflow.basedir) / path)


def training_recipe(run):
    """The parsed training YAML of a configured run."""
    import yaml

    return yaml.safe_load(Path(repo_file(TRAINING_RUNS[run])).read_text("utf-8"))


def _local_datasets(entries):
    names = [e if isinstance(e, str) else e["dataset_name"] for e in entries or []]
    return sorted({name for name in names if is_local(name)})


def training_inputs(wildcards):
    """The recipe, the local datasets it trains on and a local backbone (so the DAG builds them)."""
    recipe = training_recipe(wildcards.run)
    inputs = {
        "recipe": repo_file(TRAINING_RUNS[wildcards.run]),
        "datasets": _local_datasets(recipe["data_args"]["datasets"]),
    }
    backbone = recipe["model_args"]["model_name_or_path"]
    if is_local(backbone):
        inputs["backbone"] = str(Path(backbone) / "config.json")
    return inputs


def output_model_folder(wildcards, output):
    """The folder of the model a rule declares by its files (output.config), for a script
    that writes a whole model folder."""
    return str(Path(output.config).parent)


def _eval_spec(run):
    return training_recipe(run)["training_args"].get("eval_datasets") or {}


def eval_inputs(wildcards):
    import yaml

    eval_config = repo_file(_eval_spec(wildcards.run)["config"])
    entries = yaml.safe_load(Path(eval_config).read_text("utf-8"))["datasets"]
    return {"eval_config": eval_config, "datasets": _local_datasets(entries)}


def eval_options(wildcards):
    spec = _eval_spec(wildcards.run)
    configured = spec.get("threshold", 0.1)
    configured = configured if isinstance(configured, list) else [configured]
    thresholds = sorted({float(t) for t in configured + TRAINING["sweep_thresholds"]})
    return (
        f"--config {repo_file(spec['config'])} --th {','.join(map(str, thresholds))} "
        f"--batch-size {spec.get('batch_size', 32)}"
    )


def training_targets():
    return expand(
        "results/provence/models/{run}/{artifact}",
        run=TRAINING_RUNS,
        artifact=[
            "final_model/eval_datasets/results.md",
            "final_model/eval_datasets/results.json",
            "threshold_sweep.png",
        ],
    )


# ---- provence labels ----------------------------------------------------------------------
import json
import re

RELEVANCE = PROVENCE["relevance"]
RELEVANCE_INPUTS = RELEVANCE["inputs"]
TEACHER_DEFAULTS = {
    "kind": "cross-encoder",
    "batch_size": 16,
    "dtype": None,
    "max_length": None,
    "inputs": None,
}
TEACHERS = {t["name"]: {**TEACHER_DEFAULTS, **t} for t in PROVENCE["teachers"]}
UPLOADS = PROVENCE["upload"]["targets"]


def _exactly(names):
    """A wildcard regex matching exactly these strings (which may hold slashes or dots)."""
    return "|".join(re.escape(str(n)) for n in sorted(names)) or "__none__"


def _check_relevance_inputs():
    known = set(provence_artifacts())
    unknown = [name for name in RELEVANCE_INPUTS if name not in known]
    if unknown:
        raise ValueError(
            f"provence.relevance.inputs {unknown} are not built by this config; "
            f"choose from {sorted(known)}"
        )
    if len(TEACHERS) != len(PROVENCE["teachers"]):
        raise ValueError("provence.teachers: every teacher needs a unique name")
    for name, teacher in TEACHERS.items():
        stray = set(teacher["inputs"] or []) - set(RELEVANCE_INPUTS)
        if stray:
            raise ValueError(
                f"provence.teachers[{name}].inputs {sorted(stray)} are not relevance inputs"
            )


_check_relevance_inputs()


wildcard_constraints:
    rel_input=_exactly(RELEVANCE_INPUTS),
    teacher=_exactly(TEACHERS),
    upload=_exactly(UPLOADS),
    shard=r"\d+",
    shards=r"\d+",


def relevance_cache_name(wildcards):
    """Cache key of an input: its path under results/provence/ (freq2 alone would collide)."""
    return "__".join(Path(wildcards.rel_input).parts)


def relevance_shard_files(wildcards):
    shards = RELEVANCE["shards"]
    return [
        f"results/provence/relevance/{wildcards.rel_input}/shard{k}-of-{shards}.parquet"
        for k in range(shards)
    ]


def relevance_options():
    r = RELEVANCE
    options = [
        f"--backend {r['backend']}",
        f"--model {shlex.quote(r['model'])}",
        f"--max-model-len {r['max_model_len']}",
        f"--max-tokens {r['max_tokens']}",
        f"--temperature {r['temperature']}",
        f"--top-p {r['top_p']}",
        f"--stop-tokens {shlex.quote(' '.join(r['stop_tokens']))}",
        f"--batch-size {r['batch_size']}",
        f"--generate-batch-size {r['generate_batch_size']}",
        f"--group-size {r['group_size']}",
        f"--cache-root {shlex.quote(r['cache_root'])}",
        f"--seed {PROVENCE['seed']}",
        f"--gpu-memory-utilization {r['gpu_memory_utilization']}",
        f"--engine-kwargs {shlex.quote(json.dumps(r['engine_kwargs']))}",
        f"--api-key-env {r['openai']['api_key_env']}",
    ]
    if r["tokenizer"]:
        options.append(f"--tokenizer {shlex.quote(r['tokenizer'])}")
    if r["openai"]["base_url"]:
        options.append(f"--base-url {shlex.quote(r['openai']['base_url'])}")
    if r["debug_limit"]:
        options.append(f"--debug --debug-limit {r['debug_limit']}")
    return " ".join(options)


def merge_relevance_options():
    limit = RELEVANCE["debug_limit"]
    return f"--debug-limit {limit}" if limit else ""


def relevance_gpus():
    """LLM backends take a GPU per shard job; gold labels need none."""
    return 0 if RELEVANCE["backend"] == "gold" else 1


def teacher_inputs(wildcards):
    inputs = {"dataset": f"results/provence/{wildcards.rel_input}_with_relevance"}
    model = TEACHERS[wildcards.teacher]["model"]
    if is_local(model):
        inputs["model"] = str(Path(model) / "config.json")
    return inputs


def teacher_options(wildcards):
    t = TEACHERS[wildcards.teacher]
    options = [
        f"--model {shlex.quote(t['model'])}",
        f"--kind {t['kind']}",
        f"--column-name {t['name']}",
        f"--batch-size {t['batch_size']}",
    ]
    if t["dtype"]:
        options.append(f"--dtype {t['dtype']}")
    if t["max_length"]:
        options.append(f"--max-length {t['max_length']}")
    if RELEVANCE["debug_limit"]:
        options.append(f"--debug-limit {RELEVANCE['debug_limit']}")
    return " ".join(options)


def teachers_of(rel_input):
    """The teachers that score this input (a teacher without `inputs` scores all of them)."""
    return [
        name
        for name, t in TEACHERS.items()
        if t["inputs"] is None or rel_input in t["inputs"]
    ]


def teacher_score_files(wildcards):
    return [
        f"results/provence/teacher_scores/{wildcards.rel_input}/{name}.parquet"
        for name in teachers_of(wildcards.rel_input)
    ]


def labeled_dataset(rel_input):
    """The last dataset of the labeling chain for an input."""
    if teachers_of(rel_input):
        return f"results/provence/{rel_input}_with_relevance_with_teacher_scores"
    return f"results/provence/{rel_input}_with_relevance"


def provence_label_targets():
    targets = [labeled_dataset(name) for name in RELEVANCE_INPUTS]
    targets += expand(
        "results/provence/label_quality/{rel_input}.{ext}",
        rel_input=RELEVANCE_INPUTS,
        ext=["md", "json"],
    )
    return targets


def upload_input(wildcards):
    return f"results/provence/{UPLOADS[wildcards.upload]['dataset']}"


def upload_options(wildcards):
    u = UPLOADS[wildcards.upload]
    options = [
        f"--repo-id {shlex.quote(u['repo_id'])}",
        f"--subset {shlex.quote(u.get('subset', 'default'))}",
    ]
    if u.get("public"):
        options.append("--public")
    options.append("--dry-run" if PROVENCE["upload"]["dry_run"] else "--no-dry-run")
    return " ".join(options)


def upload_targets():
    return expand("results/provence/upload/{upload}.json", upload=UPLOADS)

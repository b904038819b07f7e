# The provence pipeline's helpers: config tables, wildcard constraints, input functions, option
# builders and targets of the rules in rules/provence.smk (which includes this file first).
PROVENCE = config["provence"]
QA_SOURCES = PROVENCE["qa_sources"]
DATASETS = PROVENCE["datasets"]
THRESHOLDS = sorted(set(PROVENCE["frequency_thresholds"]))


wildcard_constraints:
    slug=one_of(DATASETS),
    source=one_of(QA_SOURCES),
    n=one_of(THRESHOLDS),


def qa_source_file(wildcards):
    return QA_SOURCES[wildcards.source]["path"]


def qa_source_options(wildcards):
    source = QA_SOURCES[wildcards.source]
    return (
        f"--seed {PROVENCE['seed']} --max-negatives {source['max_negatives']} "
        f"--eval-fraction {source['eval_fraction']}"
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
    rel_input=one_of(RELEVANCE_INPUTS),
    teacher=one_of(TEACHERS),
    upload=one_of(UPLOADS),


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
    inputs["model"] = local_model_files(model)
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

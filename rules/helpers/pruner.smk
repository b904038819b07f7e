# The pruner pipeline's helpers: config tables, wildcard constraints, input functions, option
# builders and targets of the rules in rules/pruner.smk (which includes this file first).
PRUNER = config["pruner"]
PRUNER_RUNS = PRUNER["runs"]


wildcard_constraints:
    run=one_of(PRUNER_RUNS),


def training_recipe(run):
    """The parsed training YAML of a configured run."""
    import yaml

    return yaml.safe_load(Path(repo_file(PRUNER_RUNS[run])).read_text("utf-8"))


def _local_datasets(entries):
    names = [e if isinstance(e, str) else e["dataset_name"] for e in entries or []]
    return sorted({name for name in names if is_local(name)})


def training_inputs(wildcards):
    """The recipe, the local datasets it trains on and a local backbone (so the DAG builds them)."""
    recipe = training_recipe(wildcards.run)
    inputs = {
        "recipe": repo_file(PRUNER_RUNS[wildcards.run]),
        "datasets": _local_datasets(recipe["data_args"]["datasets"]),
    }
    backbone = recipe["model_args"]["model_name_or_path"]
    inputs["backbone"] = local_model_files(backbone)
    return inputs


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
    thresholds = sorted({float(t) for t in configured + PRUNER["sweep_thresholds"]})
    return (
        f"--config {repo_file(spec['config'])} --th {','.join(map(str, thresholds))} "
        f"--batch-size {spec.get('batch_size', 32)}"
    )


def pruner_targets():
    return expand(
        "results/pruner/models/{run}/{artifact}",
        run=PRUNER_RUNS,
        artifact=[
            "final_model/eval_datasets/results.md",
            "final_model/eval_datasets/results.json",
            "threshold_sweep.png",
        ],
    )

# The nll pipeline's helpers: config tables, wildcard constraints, input functions, option
# builders and targets of the rules in rules/nll.smk (which includes this file first).
import functools

NLL = config["nll"]
NLL_MODAL = NLL["modal"]
NLL_SUBSET_DEFAULTS = {
    "min_percentile": 0.0,
    "max_percentile": 1.0,
    "correctness": "high",
    "max_ifd": None,
}
NLL_SUBSETS = {
    name: {**NLL_SUBSET_DEFAULTS, **(spec or {})}
    for name, spec in NLL["subsets"]["rules"].items()
}


wildcard_constraints:
    pool=r"[A-Za-z0-9_]+",
    subset=one_of(NLL_SUBSETS),


def nll_corpora():
    """The sft datasets whose pools are scored (`nll.corpora`, default all), in config order."""
    chosen = NLL["corpora"]
    return [c for c in config["sft"]["datasets"] if chosen is None or c in chosen]


def nll_pool_files(corpus):
    """The pool shards of a corpus (`<pool>/part-NNNNN.parquet`, sorted: the scoring order),
    from its pools manifest, read once the sft_pools checkpoint has run (pools are decided
    from the data)."""
    folder = Path(checkpoints.sft_pools.get(corpus=corpus).output[0])
    manifest = folder / "pools_manifest.json"
    return _pool_files(str(manifest), manifest.stat().st_mtime_ns)


@functools.cache
def _pool_files(manifest, mtime_ns):
    """Read once per manifest version: every score job's input function asks for its corpus's
    shards, and a rerun checkpoint writes a new manifest (a new mtime, a fresh read)."""
    files = json.loads(Path(manifest).read_text("utf-8"))["files"]
    return sorted(
        f["path"] for f in files if NLL["pools"] is None or f["pool"] in NLL["pools"]
    )


def _nll_shard(wildcards):
    return f"{wildcards.pool}/part-{wildcards.part}.parquet"


def nll_score_inputs(wildcards):
    """The pool shard, the corpus's shards before it (their rows are scored there) and the
    student's files when it is a local folder (so the DAG builds it)."""
    shards = nll_pool_files(wildcards.corpus)
    here = shards.index(_nll_shard(wildcards))
    pools = f"results/sft/pools/{wildcards.corpus}"
    return {
        "shard": f"{pools}/{_nll_shard(wildcards)}",
        "earlier": [f"{pools}/{s}" for s in shards[:here]],
        "model": local_model_files(NLL["model"]),
    }


def nll_gpus():
    """One GPU for vllm, and for local unless the config pins it to the CPU."""
    return int(NLL["backend"] == "vllm" or NLL["device"] != "cpu")


def nll_score_options():
    vllm = NLL["vllm"]
    options = [
        f"--model {shlex.quote(NLL['model'])}",
        f"--backend {NLL['backend']}",
        f"--max_length {NLL['max_length']}",
        f"--batch_size {NLL['batch_size']}",
        f"--batch_tokens {NLL['batch_tokens']}",
        f"--batching {NLL['batching']}",
        f"--dtype {NLL['dtype']}",
        f"--logits_chunk {NLL['logits_chunk']}",
        f"--group_size {NLL['group_size']}",
        f"--cache_root {shlex.quote(NLL['cache_root'])}",
        f"--gpu_memory_utilization {vllm['gpu_memory_utilization']}",
        f"--start_offset {vllm['start_offset']}",
        f"--engine_kwargs {shlex.quote(json.dumps(vllm['engine_kwargs']))}",
    ]
    for key in (
        "tokenizer",
        "loss_mode",
        "device",
        "attn_implementation",
        "max_records",
    ):
        if NLL[key] is not None:
            options.append(f"--{key} {shlex.quote(str(NLL[key]))}")
    if vllm["max_model_len"]:
        options.append(f"--max_model_len {vllm['max_model_len']}")
    for flag in ("include_headers", "ifd"):
        if NLL[flag]:
            options.append(f"--{flag}")
    return " ".join(options)


def nll_modal_options():
    m = NLL_MODAL
    options = [
        f"--model {shlex.quote(NLL['model'])}",
        f"--max_length {NLL['max_length']}",
        f"--batch_size {NLL['batch_size']}",
        f"--batch_tokens {NLL['batch_tokens']}",
        f"--max_records {NLL['max_records'] or 0}",
        f"--gpu {shlex.quote(m['gpu'])}",
        f"--volume {shlex.quote(m['volume'])}",
        f"--source {m['source']}",
        f"--max_containers {m['max_containers']}",
        f"--timeout_hours {m['timeout_hours']}",
    ]
    if NLL["loss_mode"]:
        options.append(f"--loss_mode {NLL['loss_mode']}")
    for key in ("dataset_id", "hf_secret"):
        if m[key]:
            options.append(f"--{key} {shlex.quote(m[key])}")
    for flag in ("include_headers", "ifd"):
        if NLL[flag]:
            options.append(f"--{flag}")
    return " ".join(options)


def nll_rank_inputs(wildcards):
    """Local: every score shard of the corpus (known once its pools exist); Modal: the folder
    the Modal rule downloads them to."""
    if NLL_MODAL["enabled"]:
        return [f"results/nll/modal_scores/{wildcards.corpus}"]
    return [
        f"results/nll/scores/{wildcards.corpus}/{shard}"
        for shard in nll_pool_files(wildcards.corpus)
    ]


def nll_scored_files():
    return [f"results/nll/scored/{corpus}.parquet" for corpus in nll_corpora()]


def nll_pool_dirs():
    return [f"results/sft/pools/{corpus}" for corpus in nll_corpora()]


def nll_subset_options(wildcards):
    spec, policy = NLL_SUBSETS[wildcards.subset], NLL["subsets"]
    options = [
        f"--min_percentile {spec['min_percentile']}",
        f"--max_percentile {spec['max_percentile']}",
        f"--correctness {spec['correctness']}",
        f"--high_correctness {policy['high_correctness']}",
        f"--low_correctness {policy['low_correctness']}",
        f"--null_correctness {policy['null_correctness']}",
        f"--rows_per_file {policy['rows_per_file']}",
        f"--corpora {' '.join(nll_corpora())}",
    ]
    if spec["max_ifd"] is not None:
        options.append(f"--max_ifd {spec['max_ifd']}")
    if not policy["exclude_truncated"]:
        options.append("--keep_truncated")
    return " ".join(options)


def nll_subset_dirs():
    return [f"results/nll/subsets/{name}" for name in sorted(NLL_SUBSETS)]


def nll_report_options():
    page = NLL["report"]
    return (
        f"--corpora {' '.join(nll_corpora())} --examples {page['examples']} "
        f"--bins {page['bins']}"
    )


def nll_targets():
    if not NLL["enabled"] or not nll_corpora():
        return []
    return [
        *nll_scored_files(),
        *nll_subset_dirs(),
        "results/nll/report/nll_report.md",
    ]

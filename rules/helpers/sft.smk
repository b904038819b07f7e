# The sft pipeline's helpers: config tables, wildcard constraints, input functions, option
# builders and targets of the rules in rules/sft.smk (which includes this file first).
import functools

SFT = config["sft"]
SFT_ENTRY_DEFAULTS = {
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
for _corpus, _entry in SFT["datasets"].items():
    SFT["datasets"][_corpus] = {**SFT_ENTRY_DEFAULTS, **_entry}
SFT_CROSS = "results/sft/dedup_cross_corpus"


@functools.cache
def sft_shards(corpus):
    """{split: [shard paths]} of one dataset, resolved on first use by an input function (never
    at parse time): a missing file fails only the targets that need this dataset."""
    from distilldata.core.dataset_files import resolve_splits
    from distilldata.core.errors import InputError

    entry = SFT["datasets"][corpus]
    try:
        return resolve_splits(
            hub_id=entry["dataset"] if entry["from_hub"] else None,
            splits=entry["splits"],
        )
    except InputError as exc:
        raise InputError(f"sft dataset {corpus!r}: {exc}") from None


def sft_parts(corpus):
    """(split, part) of every input shard of a dataset; part is the 5-digit shard number."""
    return [
        (split, f"{i:05d}")
        for split, files in sorted(sft_shards(corpus).items())
        for i in range(len(files))
    ]


def sft_shard(wildcards):
    shards = sft_shards(wildcards.corpus)[wildcards.split]
    return str(shards[int(wildcards.part)])


def _sft_per_part(pattern, corpus):
    return [
        pattern.format(corpus=corpus, split=s, part=p) for s, p in sft_parts(corpus)
    ]


def sft_normalize_options(wildcards):
    entry = SFT["datasets"][wildcards.corpus]
    system, quality = SFT["system"], SFT["quality"]
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
    options += [f"--drop {reason}" for reason in SFT["drop"]]
    if entry["kind"]:
        options.append(f"--kind {entry['kind']}")
    if system["date"]:
        options.append(f"--date {shlex.quote(system['date'])}")
    if SFT["max_records"]:
        options.append(f"--max_records {SFT['max_records']}")
    for flag in ("effort_from_split", "strict_content", "uuid_is_problem_id"):
        if entry[flag]:
            options.append(f"--{flag}")
    return " ".join(options)


def sft_minhash_options(wildcards):
    dedup = SFT["dedup"]
    entry = SFT["datasets"][wildcards.corpus]
    order = 0
    if dedup["cross_corpus"]:
        order = list(SFT["datasets"]).index(wildcards.corpus)
    return (
        f"--key {entry['dedup_key']} --near_duplicates {dedup['near_duplicates']} "
        f"--ngram {dedup['ngram']} --bands {dedup['bands']} --rows {dedup['rows']} "
        f"--seed {dedup['seed']} --corpus {wildcards.corpus} --corpus_order {order}"
    )


def sft_buckets():
    return [
        f"{b:03d}"
        for b in range(min(SFT["dedup"]["bucket_jobs"], SFT["dedup"]["bands"]))
    ]


def sft_signatures(wildcards):
    return _sft_per_part(
        "results/sft/dedup/{corpus}/signatures/{split}/part-{part}.parquet",
        wildcards.corpus,
    )


def sft_all_signatures(wildcards):
    """The signatures of every dataset (cross-corpus dedup), in config order."""
    return [
        path
        for corpus in SFT["datasets"]
        for path in _sft_per_part(
            "results/sft/dedup/{corpus}/signatures/{split}/part-{part}.parquet",
            corpus,
        )
    ]


def sft_bucket_files(wildcards):
    return expand(
        "results/sft/dedup/{corpus}/buckets/bucket-{bucket}.parquet",
        corpus=wildcards.corpus,
        bucket=sft_buckets(),
    )


def sft_cross_bucket_files(wildcards):
    return expand(
        f"{SFT_CROSS}/buckets/bucket-{{bucket}}.parquet", bucket=sft_buckets()
    )


def sft_clusters(wildcards):
    """The cluster table a dataset is filtered with: its own, or the cross-corpus one."""
    if SFT["dedup"]["cross_corpus"]:
        return f"{SFT_CROSS}/clusters.parquet"
    return f"results/sft/dedup/{wildcards.corpus}/clusters.parquet"


def sft_deduped(wildcards):
    return _sft_per_part(
        "results/sft/deduped/{corpus}/{split}/part-{part}.parquet",
        wildcards.corpus,
    )


def sft_tool_parts(wildcards):
    return _sft_per_part(
        "results/sft/normalized/{corpus}/{split}/part-{part}.tools.jsonl",
        wildcards.corpus,
    )


def sft_pool_options():
    pools = SFT["pools"]
    return " ".join(f"--{key} {value}" for key, value in sorted(pools.items()))


def _sft_sources():
    """(dataset, split, shard) of every configured shard, sorted."""
    return [
        (corpus, split, str(f))
        for corpus in sorted(SFT["datasets"])
        for split, files in sorted(sft_shards(corpus).items())
        for f in files
    ]


def sft_inventory_inputs(wildcards):
    return sorted({f for _, _, f in _sft_sources()})


def sft_inventory_sources(wildcards):
    return " ".join(
        f"--source {shlex.quote(f'{corpus}:{split}:{f}')}"
        for corpus, split, f in _sft_sources()
    )


def sft_publish_options(wildcards):
    publish = SFT["publish"]
    dry = "--dry-run" if publish["dry_run"] else "--no-dry-run"
    return f"--repo_id {shlex.quote(publish['repo_id'])} --path_in_repo {wildcards.corpus} {dry}"


def _sft_target_files(wildcards):
    targets = [
        "results/sft/inventory.json",
        "results/sft/metadata_coverage.md",
    ]
    for corpus in SFT["datasets"]:
        targets.append(f"results/sft/pools/{corpus}")
        targets.append(f"results/sft/normalized/{corpus}/tools_catalog.json")
        targets += _sft_per_part(
            "results/sft/deduped/{corpus}/{split}/part-{part}.stats.json", corpus
        )
        if SFT["publish"]["repo_id"]:
            targets.append(f"results/sft/publish/{corpus}.json")
    return targets


def sft_targets():
    """The sft targets, as an input function: shard lists are resolved only when a
    sft target is built, so other pipelines run while an input file is missing.
    """
    return [_sft_target_files] if SFT["datasets"] else []


wildcard_constraints:
    corpus=one_of(SFT["datasets"]),

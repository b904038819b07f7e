# Distilled-SFT curation, CPU stage: inventory -> normalize (Harmony + quality) per shard ->
# dedup (signatures -> buckets -> clusters -> filter) -> candidate pools -> publish (dry run).


include: "helpers/sft.smk"


# Seconds-long jobs run where Snakemake runs, never as cluster jobs.
localrules:
    sft_tools_catalog,
    sft_publish,


rule sft_inventory:
    input:
        sft_inventory_inputs,
    output:
        json="results/sft/inventory.json",
        markdown=report(
            "results/sft/metadata_coverage.md",
            category="Distilled SFT (Nemotron)",
            subcategory="Inventory",
        ),
    log:
        "logs/sft/inventory.log",
    benchmark:
        "benchmarks/sft/inventory.tsv"
    conda:
        "../envs/distilldata.yaml"
    threads: 2
    resources:
        mem_mb=4000,
    params:
        script=script("sft/build_inventory.py"),
        code=code_version("sft/build_inventory.py"),
        sources=sft_inventory_sources,
    shell:
        "python {params.script} {params.sources} --json {output.json} "
        "--markdown {output.markdown} --threads {threads} > {log} 2>&1"


rule sft_normalize:
    input:
        shard=sft_shard,
    output:
        parquet="results/sft/normalized/{corpus}/{split}/part-{part}.parquet",
        stats="results/sft/normalized/{corpus}/{split}/part-{part}.stats.json",
        quarantine="results/sft/normalized/{corpus}/{split}/part-{part}.quarantine.jsonl",
        tools="results/sft/normalized/{corpus}/{split}/part-{part}.tools.jsonl",
    log:
        "logs/sft/normalize/{corpus}/{split}/part-{part}.log",
    benchmark:
        "benchmarks/sft/normalize/{corpus}/{split}/part-{part}.tsv"
    conda:
        "../envs/distilldata.yaml"
    resources:
        mem_mb=2000,
    params:
        script=script("sft/normalize_dataset.py"),
        code=code_version("sft/normalize_dataset.py"),
        options=sft_normalize_options,
    shell:
        "python {params.script} {params.options} --input {input.shard} "
        "--split {wildcards.split} --output {output.parquet} --stats_output {output.stats} "
        "--quarantine_output {output.quarantine} --tools_output {output.tools} > {log} 2>&1"


rule sft_tools_catalog:
    input:
        sft_tool_parts,
    output:
        "results/sft/normalized/{corpus}/tools_catalog.json",
    log:
        "logs/sft/tools_catalog/{corpus}.log",
    conda:
        "../envs/distilldata.yaml"
    params:
        script=script("sft/merge_tools_catalog.py"),
        code=code_version("sft/merge_tools_catalog.py"),
    shell:
        "python {params.script} {input} --output {output} > {log} 2>&1"


rule sft_dedup_signatures:
    input:
        "results/sft/normalized/{corpus}/{split}/part-{part}.parquet",
    output:
        temp("results/sft/dedup/{corpus}/signatures/{split}/part-{part}.parquet"),
    log:
        "logs/sft/dedup_signatures/{corpus}/{split}/part-{part}.log",
    benchmark:
        "benchmarks/sft/dedup_signatures/{corpus}/{split}/part-{part}.tsv"
    conda:
        "../envs/distilldata.yaml"
    resources:
        mem_mb=2000,
    params:
        script=script("sft/dedup_signatures.py"),
        code=code_version("sft/dedup_signatures.py"),
        options=sft_minhash_options,
    shell:
        "python {params.script} --input {input} --output {output} {params.options} > {log} 2>&1"


rule sft_dedup_buckets:
    input:
        sft_signatures,
    output:
        temp("results/sft/dedup/{corpus}/buckets/bucket-{bucket}.parquet"),
    log:
        "logs/sft/dedup_buckets/{corpus}/bucket-{bucket}.log",
    benchmark:
        "benchmarks/sft/dedup_buckets/{corpus}/bucket-{bucket}.tsv"
    conda:
        "../envs/distilldata.yaml"
    resources:
        mem_mb=4000,
    params:
        script=script("sft/dedup_buckets.py"),
        code=code_version("sft/dedup_buckets.py"),
        buckets=len(sft_buckets()),
        bands=SFT["dedup"]["bands"],
    shell:
        "python {params.script} {input} --output {output} --bucket {wildcards.bucket} "
        "--buckets {params.buckets} --bands {params.bands} > {log} 2>&1"


rule sft_dedup_cross_buckets:
    input:
        sft_all_signatures,
    output:
        temp("results/sft/dedup_cross_corpus/buckets/bucket-{bucket}.parquet"),
    log:
        "logs/sft/dedup_cross_buckets/bucket-{bucket}.log",
    benchmark:
        "benchmarks/sft/dedup_cross_buckets/bucket-{bucket}.tsv"
    conda:
        "../envs/distilldata.yaml"
    resources:
        mem_mb=8000,
    params:
        script=script("sft/dedup_buckets.py"),
        code=code_version("sft/dedup_buckets.py"),
        buckets=len(sft_buckets()),
        bands=SFT["dedup"]["bands"],
    shell:
        "python {params.script} {input} --output {output} --bucket {wildcards.bucket} "
        "--buckets {params.buckets} --bands {params.bands} > {log} 2>&1"


rule sft_dedup_clusters:
    input:
        sft_bucket_files,
    output:
        clusters="results/sft/dedup/{corpus}/clusters.parquet",
        stats="results/sft/dedup/{corpus}/clusters.json",
    log:
        "logs/sft/dedup_clusters/{corpus}.log",
    benchmark:
        "benchmarks/sft/dedup_clusters/{corpus}.tsv"
    conda:
        "../envs/distilldata.yaml"
    resources:
        mem_mb=8000,
    params:
        script=script("sft/dedup_clusters.py"),
        code=code_version("sft/dedup_clusters.py"),
    shell:
        "python {params.script} {input} --output {output.clusters} "
        "--stats {output.stats} > {log} 2>&1"


rule sft_dedup_cross_clusters:
    input:
        sft_cross_bucket_files,
    output:
        clusters="results/sft/dedup_cross_corpus/clusters.parquet",
        stats="results/sft/dedup_cross_corpus/clusters.json",
    log:
        "logs/sft/dedup_cross_clusters.log",
    benchmark:
        "benchmarks/sft/dedup_cross_clusters.tsv"
    conda:
        "../envs/distilldata.yaml"
    resources:
        mem_mb=16000,
    params:
        script=script("sft/dedup_clusters.py"),
        code=code_version("sft/dedup_clusters.py"),
    shell:
        "python {params.script} {input} --output {output.clusters} "
        "--stats {output.stats} > {log} 2>&1"


rule sft_dedup_filter:
    input:
        shard="results/sft/normalized/{corpus}/{split}/part-{part}.parquet",
        clusters=sft_clusters,
    output:
        parquet="results/sft/deduped/{corpus}/{split}/part-{part}.parquet",
        stats="results/sft/deduped/{corpus}/{split}/part-{part}.stats.json",
    log:
        "logs/sft/dedup_filter/{corpus}/{split}/part-{part}.log",
    benchmark:
        "benchmarks/sft/dedup_filter/{corpus}/{split}/part-{part}.tsv"
    conda:
        "../envs/distilldata.yaml"
    resources:
        mem_mb=4000,
    params:
        script=script("sft/dedup_filter.py"),
        code=code_version("sft/dedup_filter.py"),
        near=SFT["dedup"]["near_duplicates"],
    shell:
        "python {params.script} --input {input.shard} --clusters {input.clusters} "
        "--output {output.parquet} --stats {output.stats} --corpus {wildcards.corpus} "
        "--near_duplicates {params.near} > {log} 2>&1"


checkpoint sft_pools:
    input:
        sft_deduped,
    output:
        directory("results/sft/pools/{corpus}"),
    log:
        "logs/sft/pools/{corpus}.log",
    benchmark:
        "benchmarks/sft/pools/{corpus}.tsv"
    conda:
        "../envs/distilldata.yaml"
    resources:
        mem_mb=4000,
    params:
        script=script("sft/build_candidate_pools.py"),
        code=code_version("sft/build_candidate_pools.py"),
        options=sft_pool_options(),
    shell:
        "python {params.script} --shards {input} --out_dir {output} {params.options} "
        "> {log} 2>&1"


rule sft_publish:
    input:
        "results/sft/pools/{corpus}",
    output:
        "results/sft/publish/{corpus}.json",
    log:
        "logs/sft/publish/{corpus}.log",
    conda:
        "../envs/distilldata.yaml"
    params:
        script=script("sft/publish_to_hub.py"),
        code=code_version("sft/publish_to_hub.py"),
        options=sft_publish_options,
    shell:
        "python {params.script} --folder {input} --plan {output} {params.options} > {log} 2>&1"

# Distilled-SFT curation, CPU stage: inventory -> normalize (Harmony + quality) per shard ->
# dedup (signatures -> buckets -> clusters -> filter) -> candidate pools -> publish (dry run).


# Seconds-long jobs run where Snakemake runs, never as cluster jobs.
localrules:
    nemotron_tools_catalog,
    nemotron_publish,


rule nemotron_inventory:
    input:
        nemotron_inventory_inputs,
    output:
        json="results/nemotron/inventory.json",
        markdown=report(
            "results/nemotron/metadata_coverage.md",
            category="Distilled SFT (Nemotron)",
            subcategory="Inventory",
        ),
    log:
        "logs/nemotron/inventory.log",
    benchmark:
        "benchmarks/nemotron/inventory.tsv"
    conda:
        "../envs/distilldata.yaml"
    threads: 2
    resources:
        mem_mb=4000,
    params:
        script=script("build_inventory.py"),
        code=code_version("build_inventory.py"),
        sources=nemotron_inventory_sources,
    shell:
        "python {params.script} {params.sources} --json {output.json} "
        "--markdown {output.markdown} --threads {threads} > {log} 2>&1"


rule nemotron_normalize:
    input:
        shard=nemotron_shard,
    output:
        parquet="results/nemotron/normalized/{corpus}/{split}/part-{part}.parquet",
        stats="results/nemotron/normalized/{corpus}/{split}/part-{part}.stats.json",
        quarantine="results/nemotron/normalized/{corpus}/{split}/part-{part}.quarantine.jsonl",
        tools="results/nemotron/normalized/{corpus}/{split}/part-{part}.tools.jsonl",
    log:
        "logs/nemotron/normalize/{corpus}/{split}/part-{part}.log",
    benchmark:
        "benchmarks/nemotron/normalize/{corpus}/{split}/part-{part}.tsv"
    conda:
        "../envs/distilldata.yaml"
    resources:
        mem_mb=2000,
    params:
        script=script("normalize_dataset.py"),
        code=code_version("normalize_dataset.py"),
        options=nemotron_normalize_options,
    shell:
        "python {params.script} {params.options} --input {input.shard} "
        "--split {wildcards.split} --output {output.parquet} --stats_output {output.stats} "
        "--quarantine_output {output.quarantine} --tools_output {output.tools} > {log} 2>&1"


rule nemotron_tools_catalog:
    input:
        nemotron_tool_parts,
    output:
        "results/nemotron/normalized/{corpus}/tools_catalog.json",
    log:
        "logs/nemotron/tools_catalog/{corpus}.log",
    conda:
        "../envs/distilldata.yaml"
    params:
        script=script("merge_tools_catalog.py"),
        code=code_version("merge_tools_catalog.py"),
    shell:
        "python {params.script} {input} --output {output} > {log} 2>&1"


rule nemotron_dedup_signatures:
    input:
        "results/nemotron/normalized/{corpus}/{split}/part-{part}.parquet",
    output:
        temp("results/nemotron/dedup/{corpus}/signatures/{split}/part-{part}.parquet"),
    log:
        "logs/nemotron/dedup_signatures/{corpus}/{split}/part-{part}.log",
    benchmark:
        "benchmarks/nemotron/dedup_signatures/{corpus}/{split}/part-{part}.tsv"
    conda:
        "../envs/distilldata.yaml"
    resources:
        mem_mb=2000,
    params:
        script=script("dedup_signatures.py"),
        code=code_version("dedup_signatures.py"),
        options=nemotron_minhash_options,
    shell:
        "python {params.script} --input {input} --output {output} {params.options} > {log} 2>&1"


rule nemotron_dedup_buckets:
    input:
        nemotron_signatures,
    output:
        temp("results/nemotron/dedup/{corpus}/buckets/bucket-{bucket}.parquet"),
    log:
        "logs/nemotron/dedup_buckets/{corpus}/bucket-{bucket}.log",
    benchmark:
        "benchmarks/nemotron/dedup_buckets/{corpus}/bucket-{bucket}.tsv"
    conda:
        "../envs/distilldata.yaml"
    resources:
        mem_mb=4000,
    params:
        script=script("dedup_buckets.py"),
        code=code_version("dedup_buckets.py"),
        buckets=len(nemotron_buckets()),
        bands=NEMOTRON["dedup"]["bands"],
    shell:
        "python {params.script} {input} --output {output} --bucket {wildcards.bucket} "
        "--buckets {params.buckets} --bands {params.bands} > {log} 2>&1"


rule nemotron_dedup_cross_buckets:
    input:
        nemotron_all_signatures,
    output:
        temp("results/nemotron/dedup_cross_corpus/buckets/bucket-{bucket}.parquet"),
    log:
        "logs/nemotron/dedup_cross_buckets/bucket-{bucket}.log",
    benchmark:
        "benchmarks/nemotron/dedup_cross_buckets/bucket-{bucket}.tsv"
    conda:
        "../envs/distilldata.yaml"
    resources:
        mem_mb=8000,
    params:
        script=script("dedup_buckets.py"),
        code=code_version("dedup_buckets.py"),
        buckets=len(nemotron_buckets()),
        bands=NEMOTRON["dedup"]["bands"],
    shell:
        "python {params.script} {input} --output {output} --bucket {wildcards.bucket} "
        "--buckets {params.buckets} --bands {params.bands} > {log} 2>&1"


rule nemotron_dedup_clusters:
    input:
        nemotron_bucket_files,
    output:
        clusters="results/nemotron/dedup/{corpus}/clusters.parquet",
        stats="results/nemotron/dedup/{corpus}/clusters.json",
    log:
        "logs/nemotron/dedup_clusters/{corpus}.log",
    benchmark:
        "benchmarks/nemotron/dedup_clusters/{corpus}.tsv"
    conda:
        "../envs/distilldata.yaml"
    resources:
        mem_mb=8000,
    params:
        script=script("dedup_clusters.py"),
        code=code_version("dedup_clusters.py"),
    shell:
        "python {params.script} {input} --output {output.clusters} "
        "--stats {output.stats} > {log} 2>&1"


rule nemotron_dedup_cross_clusters:
    input:
        nemotron_cross_bucket_files,
    output:
        clusters="results/nemotron/dedup_cross_corpus/clusters.parquet",
        stats="results/nemotron/dedup_cross_corpus/clusters.json",
    log:
        "logs/nemotron/dedup_cross_clusters.log",
    benchmark:
        "benchmarks/nemotron/dedup_cross_clusters.tsv"
    conda:
        "../envs/distilldata.yaml"
    resources:
        mem_mb=16000,
    params:
        script=script("dedup_clusters.py"),
        code=code_version("dedup_clusters.py"),
    shell:
        "python {params.script} {input} --output {output.clusters} "
        "--stats {output.stats} > {log} 2>&1"


rule nemotron_dedup_filter:
    input:
        shard="results/nemotron/normalized/{corpus}/{split}/part-{part}.parquet",
        clusters=nemotron_clusters,
    output:
        parquet="results/nemotron/deduped/{corpus}/{split}/part-{part}.parquet",
        stats="results/nemotron/deduped/{corpus}/{split}/part-{part}.stats.json",
    log:
        "logs/nemotron/dedup_filter/{corpus}/{split}/part-{part}.log",
    benchmark:
        "benchmarks/nemotron/dedup_filter/{corpus}/{split}/part-{part}.tsv"
    conda:
        "../envs/distilldata.yaml"
    resources:
        mem_mb=4000,
    params:
        script=script("dedup_filter.py"),
        code=code_version("dedup_filter.py"),
        near=NEMOTRON["dedup"]["near_duplicates"],
    shell:
        "python {params.script} --input {input.shard} --clusters {input.clusters} "
        "--output {output.parquet} --stats {output.stats} --corpus {wildcards.corpus} "
        "--near_duplicates {params.near} > {log} 2>&1"


rule nemotron_pools:
    input:
        nemotron_deduped,
    output:
        directory("results/nemotron/pools/{corpus}"),
    log:
        "logs/nemotron/pools/{corpus}.log",
    benchmark:
        "benchmarks/nemotron/pools/{corpus}.tsv"
    conda:
        "../envs/distilldata.yaml"
    resources:
        mem_mb=4000,
    params:
        script=script("build_candidate_pools.py"),
        code=code_version("build_candidate_pools.py"),
        options=nemotron_pool_options(),
    shell:
        "python {params.script} --shards {input} --out_dir {output} {params.options} "
        "> {log} 2>&1"


rule nemotron_publish:
    input:
        "results/nemotron/pools/{corpus}",
    output:
        "results/nemotron/publish/{corpus}.json",
    log:
        "logs/nemotron/publish/{corpus}.log",
    conda:
        "../envs/distilldata.yaml"
    params:
        script=script("publish_to_hub.py"),
        code=code_version("publish_to_hub.py"),
        options=nemotron_publish_options,
    shell:
        "python {params.script} --folder {input} --plan {output} {params.options} > {log} 2>&1"

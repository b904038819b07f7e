# Context-relevance datasets (Open Provence): QA files -> triplets -> base -> freq{N} -> reports.


include: "helpers/provence.smk"


# Seconds-long jobs run where Snakemake runs, never as cluster jobs.
localrules:
    punkt_tables,
    dataset_report,
    merge_relevance,
    merge_teacher_scores,
    upload_to_hub,
    upload,


rule punkt_tables:
    output:
        directory("resources/nltk_data"),
    log:
        "logs/provence/punkt_tables.log",
    conda:
        "../envs/distilldata.yaml"
    params:
        script=script("provence/export_punkt.py"),
        code=code_version("provence/export_punkt.py"),
    shell:
        "python {params.script} --output-root {output} > {log} 2>&1"


rule qa_triplets:
    input:
        qa_source_file,
    output:
        directory("resources/provence/triplets/{source}"),
    log:
        "logs/provence/qa_triplets/{source}.log",
    conda:
        "../envs/distilldata.yaml"
    params:
        script=script("provence/build_qa_triplets.py"),
        code=code_version("provence/build_qa_triplets.py"),
        options=qa_source_options,
    shell:
        "python {params.script} --input {input} --output {output} "
        "{params.options} > {log} 2>&1"


rule convert_triplets:
    input:
        unpack(convert_inputs),
    output:
        directory("results/provence/base/{slug}"),
    log:
        "logs/provence/convert_triplets/{slug}.log",
    benchmark:
        "benchmarks/provence/convert_triplets/{slug}.tsv"
    conda:
        "../envs/distilldata.yaml"
    threads: 2
    resources:
        mem_mb=4000,
    params:
        script=script("provence/convert_triplets.py"),
        code=code_version("provence/convert_triplets.py"),
        options=convert_options,
    shell:
        "NLTK_DATA={input.punkt} python {params.script} {params.options} "
        "--output {output} --num-proc {threads} --overwrite > {log} 2>&1"


rule frequency_filter:
    input:
        "results/provence/base/{slug}",
    output:
        variants=directory(
            expand("results/provence/freq/{{slug}}/freq{n}", n=THRESHOLDS)
        ),
        stats=report(
            "results/provence/freq/{slug}/stats.json",
            caption="../report/frequency_filter.rst",
            category="Context relevance",
            subcategory="Frequency filter",
        ),
    log:
        "logs/provence/frequency_filter/{slug}.log",
    benchmark:
        "benchmarks/provence/frequency_filter/{slug}.tsv"
    conda:
        "../envs/distilldata.yaml"
    resources:
        mem_mb=4000,
    params:
        script=script("provence/frequency_filter.py"),
        code=code_version("provence/frequency_filter.py"),
        thresholds=threshold_flags(),
    shell:
        "python {params.script} --dataset {input} {params.thresholds} "
        "--output {output.variants:q} --stats {output.stats} --overwrite > {log} 2>&1"


rule dataset_report:
    input:
        "results/provence/{artifact}",
    output:
        markdown=report(
            "results/provence/reports/{artifact}.md",
            caption="../report/dataset_report.rst",
            category="Context relevance",
            subcategory="Dataset reports",
            labels={"artifact": "{artifact}"},
        ),
        json="results/provence/reports/{artifact}.json",
    log:
        "logs/provence/dataset_report/{artifact}.log",
    wildcard_constraints:
        artifact=r"(base|freq/[^/]+)/[^/]+",
    conda:
        "../envs/distilldata.yaml"
    params:
        script=script("provence/dataset_report.py"),
        code=code_version("provence/dataset_report.py"),
    shell:
        "python {params.script} --dataset {input} --markdown {output.markdown} "
        "--json {output.json} --threads {threads} > {log} 2>&1"


# ---- labels: span relevance (LLM pruner or gold) and teacher scores ------------------------
# results/provence/{rel_input} -> relevance/{rel_input}/shard{k}-of-{N}.parquet (one job per
# shard, cached per group) -> {rel_input}_with_relevance -> teacher_scores/{rel_input}/{teacher}
# .parquet (one job per teacher) -> {rel_input}_with_relevance_with_teacher_scores.
# The vllm backend runs in the env of envs/vllm.yaml on GPU boxes (vLLM pins its own torch and
# transformers); conda: stays provence.yaml because the directive is static.


rule span_relevance:
    input:
        "results/provence/{rel_input}",
    output:
        "results/provence/relevance/{rel_input}/shard{shard}-of-{shards}.parquet",
    log:
        "logs/provence/span_relevance/{rel_input}/shard{shard}-of-{shards}.log",
    benchmark:
        "benchmarks/provence/span_relevance/{rel_input}/shard{shard}-of-{shards}.tsv"
    conda:
        "../envs/distilldata.yaml"
    threads: 2
    resources:
        gpu=relevance_gpus(),
    params:
        script=script("provence/add_span_relevance.py"),
        code=code_version("provence/add_span_relevance.py"),
        name=relevance_cache_name,
        options=relevance_options(),
    shell:
        "python {params.script} --dataset-path {input} --dataset-name {params.name} "
        "--shard {wildcards.shard}/{wildcards.shards} --shard-output {output} "
        "{params.options} > {log} 2>&1"


rule merge_relevance:
    input:
        dataset="results/provence/{rel_input}",
        shards=relevance_shard_files,
    output:
        directory("results/provence/{rel_input}_with_relevance"),
    log:
        "logs/provence/merge_relevance/{rel_input}.log",
    conda:
        "../envs/distilldata.yaml"
    resources:
        mem_mb=4000,
    params:
        script=script("provence/merge_relevance.py"),
        code=code_version("provence/merge_relevance.py"),
        options=merge_relevance_options(),
    shell:
        "python {params.script} --dataset-path {input.dataset} --shards {input.shards} "
        "--output-path {output} --overwrite {params.options} > {log} 2>&1"


rule label_quality:
    input:
        "results/provence/{rel_input}_with_relevance",
    output:
        markdown=report(
            "results/provence/label_quality/{rel_input}.md",
            caption="../report/label_quality.rst",
            category="Context relevance",
            subcategory="Label quality",
            labels={"dataset": "{rel_input}"},
        ),
        json="results/provence/label_quality/{rel_input}.json",
    log:
        "logs/provence/label_quality/{rel_input}.log",
    conda:
        "../envs/distilldata.yaml"
    resources:
        mem_mb=4000,
    params:
        script=script("provence/label_quality.py"),
        code=code_version("provence/label_quality.py"),
    shell:
        "python {params.script} --dataset {input} --markdown {output.markdown} "
        "--json {output.json} > {log} 2>&1"


rule teacher_scores:
    input:
        unpack(teacher_inputs),
    output:
        "results/provence/teacher_scores/{rel_input}/{teacher}.parquet",
    log:
        "logs/provence/teacher_scores/{rel_input}/{teacher}.log",
    benchmark:
        "benchmarks/provence/teacher_scores/{rel_input}/{teacher}.tsv"
    conda:
        "../envs/distilldata.yaml"
    threads: 2
    resources:
        gpu=1,
    params:
        script=script("provence/add_teacher_scores.py"),
        code=code_version("provence/add_teacher_scores.py"),
        options=teacher_options,
    shell:
        "python {params.script} --dataset-path {input.dataset} --scores-path {output} "
        "{params.options} > {log} 2>&1"


rule merge_teacher_scores:
    input:
        dataset="results/provence/{rel_input}_with_relevance",
        scores=teacher_score_files,
    output:
        directory("results/provence/{rel_input}_with_relevance_with_teacher_scores"),
    log:
        "logs/provence/merge_teacher_scores/{rel_input}.log",
    conda:
        "../envs/distilldata.yaml"
    resources:
        mem_mb=4000,
    params:
        script=script("provence/merge_teacher_scores.py"),
        code=code_version("provence/merge_teacher_scores.py"),
    shell:
        "python {params.script} --dataset-path {input.dataset} --scores {input.scores} "
        "--output-path {output} --overwrite > {log} 2>&1"


rule upload_to_hub:
    input:
        upload_input,
    output:
        "results/provence/upload/{upload}.json",
    log:
        "logs/provence/upload_to_hub/{upload}.log",
    conda:
        "../envs/distilldata.yaml"
    params:
        script=script("provence/upload_to_hub.py"),
        code=code_version("provence/upload_to_hub.py"),
        options=upload_options,
    shell:
        "python {params.script} --dataset-path {input} {params.options} "
        "--summary-json {output} > {log} 2>&1"


# Optional target (`snakemake upload`), never part of `all`; dry runs unless the config says so.
rule upload:
    input:
        upload_targets(),

# Context-relevance datasets (Open Provence): QA files -> triplets -> base -> freq{N} -> reports.


rule punkt_tables:
    output:
        directory("resources/nltk_data"),
    log:
        "logs/provence/punkt_tables.log",
    conda:
        "../envs/provence.yaml"
    params:
        script=script("export_punkt.py"),
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
        "../envs/provence.yaml"
    params:
        script=script("build_qa_triplets.py"),
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
        "../envs/provence.yaml"
    threads: 2
    resources:
        mem_mb=4000,
    params:
        script=script("convert_triplets.py"),
        options=convert_options,
    shell:
        "NLTK_DATA={input.punkt} python {params.script} {params.options} "
        "--output-root results/provence/base --slug {wildcards.slug} "
        "--num-proc {threads} --overwrite > {log} 2>&1"


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
        "../envs/provence.yaml"
    resources:
        mem_mb=4000,
    params:
        script=script("frequency_filter.py"),
        thresholds=threshold_flags(),
    shell:
        "python {params.script} --dataset {input} {params.thresholds} "
        "--output-dir results/provence/freq/{wildcards.slug} --overwrite > {log} 2>&1"


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
        "../envs/provence.yaml"
    params:
        script=script("dataset_report.py"),
    shell:
        "python {params.script} --dataset {input} --markdown {output.markdown} "
        "--json {output.json} > {log} 2>&1"

# RAG-compression training data (OSCAR / ScaleDown): queries + corpus chunks -> retrieval ->
# rerank -> teacher answers -> results/rag/<name>/train_data.json.
#
#   resources/rag/kilt/{kilt_source}.jsonl              KILT-shaped lines (rag_kilt_lines)
#   results/rag/queries/{queries}.parquet               query sets (rag_queries)
#   results/rag/corpus/{corpus}/part-{part}.parquet     chunks, one job per input shard
#   results/rag/index/{corpus}/{retriever}/...          part-{part}.npz|npy, or bm25s/ (corpus)
#   results/rag/search/{dataset}/{retriever}/...        query batch x part (temp)
#   results/rag/hits/{dataset}/{retriever}.parquet      merged top-k (or RRF-fused) hits
#   results/rag/{dataset}/...                           documents, answers/, train_data.*, report


include: "helpers/rag.smk"


# Seconds-long jobs run where Snakemake runs, never as cluster jobs.
localrules:
    rag_kilt_lines,
    rag_corpus_manifest,
    rag_merge_hits,
    rag_fuse_hits,
    rag_assemble,


rule rag_kilt_lines:
    input:
        unpack(kilt_source_inputs),
    output:
        "resources/rag/kilt/{kilt_source}.jsonl",
    log:
        "logs/rag/kilt_lines/{kilt_source}.log",
    conda:
        "../envs/distilldata.yaml"
    params:
        script=script("rag/build_kilt_lines.py"),
        code=code_version("rag/build_kilt_lines.py"),
        kind=kilt_source_kind,
        titles=kilt_titles_option,
    shell:
        "python {params.script} --kind {params.kind} --input {input.text} {params.titles} "
        "--output {output} > {log} 2>&1"


rule rag_queries:
    input:
        unpack(queries_inputs),
    output:
        queries="results/rag/queries/{queries}.parquet",
        stats="results/rag/queries/{queries}.stats.json",
    log:
        "logs/rag/queries/{queries}.log",
    benchmark:
        "benchmarks/rag/queries/{queries}.tsv"
    conda:
        "../envs/distilldata.yaml"
    params:
        script=script("rag/build_queries.py"),
        code=code_version("rag/build_queries.py"),
        options=queries_options,
    shell:
        "python {params.script} {params.options} --output {output.queries} "
        "--stats {output.stats} > {log} 2>&1"


rule rag_corpus_part:
    input:
        source=corpus_part_inputs,
        tokenizer=corpus_tokenizer_files,
    output:
        chunks="results/rag/corpus/{corpus}/part-{part}.parquet",
        stats="results/rag/corpus/{corpus}/part-{part}.stats.json",
    log:
        "logs/rag/corpus/{corpus}/part-{part}.log",
    benchmark:
        "benchmarks/rag/corpus/{corpus}/part-{part}.tsv"
    conda:
        "../envs/distilldata.yaml"
    resources:
        mem_mb=4000,
    params:
        script=script("rag/build_corpus_part.py"),
        code=code_version("rag/build_corpus_part.py"),
        options=corpus_part_options,
    shell:
        "python {params.script} --input {input.source} {params.options} "
        "--output {output.chunks} --stats {output.stats} > {log} 2>&1"


rule rag_corpus_manifest:
    input:
        unpack(corpus_manifest_inputs),
    output:
        "results/rag/corpus/{corpus}/manifest.json",
    log:
        "logs/rag/corpus/{corpus}/manifest.log",
    conda:
        "../envs/distilldata.yaml"
    params:
        script=script("rag/corpus_manifest.py"),
        code=code_version("rag/corpus_manifest.py"),
    shell:
        "python {params.script} --parts {input.parts} --stats {input.stats} "
        "--output {output} > {log} 2>&1"


# ---- indexes: one per corpus part (SPLADE, dense), one per corpus (BM25) -------------------
# Encoder jobs take one thread here (their per-text work is small; several jobs run side by side
# instead); on SLURM the profile gives each GPU job 8 (set-threads).


rule rag_splade_index:
    input:
        chunks="results/rag/corpus/{corpus}/part-{part}.parquet",
        manifest="results/rag/corpus/{corpus}/manifest.json",
        model=index_model_files,
    output:
        "results/rag/index/{corpus}/{retriever}/part-{part}.npz",
    log:
        "logs/rag/index/{corpus}/{retriever}/part-{part}.log",
    benchmark:
        "benchmarks/rag/index/{corpus}/{retriever}/part-{part}.tsv"
    wildcard_constraints:
        retriever=SPLADE_RETRIEVERS,
    conda:
        "../envs/distilldata.yaml"
    threads: 1
    resources:
        gpu=1,
        mem_mb=8000,
    params:
        script=script("rag/build_index.py"),
        code=code_version("rag/build_index.py"),
        options=index_options,
    shell:
        "python {params.script} {params.options} --threads {threads} "
        "--corpus {input.chunks} --output {output} > {log} 2>&1"


rule rag_dense_index:
    input:
        chunks="results/rag/corpus/{corpus}/part-{part}.parquet",
        manifest="results/rag/corpus/{corpus}/manifest.json",
        model=index_model_files,
    output:
        "results/rag/index/{corpus}/{retriever}/part-{part}.npy",
    log:
        "logs/rag/index/{corpus}/{retriever}/part-{part}.log",
    benchmark:
        "benchmarks/rag/index/{corpus}/{retriever}/part-{part}.tsv"
    wildcard_constraints:
        retriever=DENSE_RETRIEVERS,
    conda:
        "../envs/distilldata.yaml"
    threads: 1
    resources:
        gpu=1,
        mem_mb=8000,
    params:
        script=script("rag/build_index.py"),
        code=code_version("rag/build_index.py"),
        options=index_options,
    shell:
        "python {params.script} {params.options} --threads {threads} "
        "--corpus {input.chunks} --output {output} > {log} 2>&1"


rule rag_bm25_index:
    input:
        chunks=corpus_part_inputs_all,
        manifest="results/rag/corpus/{corpus}/manifest.json",
    output:
        directory("results/rag/index/{corpus}/{retriever}/bm25s"),
    log:
        "logs/rag/index/{corpus}/{retriever}/bm25s.log",
    benchmark:
        "benchmarks/rag/index/{corpus}/{retriever}/bm25s.tsv"
    wildcard_constraints:
        retriever=BM25_RETRIEVERS,
    conda:
        "../envs/distilldata.yaml"
    resources:
        mem_mb=16000,
    params:
        script=script("rag/build_index.py"),
        code=code_version("rag/build_index.py"),
        options=index_options,
    shell:
        "python {params.script} {params.options} --corpus {input.chunks} "
        "--output {output} > {log} 2>&1"


# ---- search: query batch x corpus part, merged per (dataset, retriever) ----------------------


rule rag_search_part:
    input:
        unpack(search_part_inputs),
    output:
        temp(
            "results/rag/search/{dataset}/{retriever}/batch{batch}-part-{part}.parquet"
        ),
    log:
        "logs/rag/search/{dataset}/{retriever}/batch{batch}-part-{part}.log",
    benchmark:
        "benchmarks/rag/search/{dataset}/{retriever}/batch{batch}-part-{part}.tsv"
    wildcard_constraints:
        retriever=PART_RETRIEVERS,
    conda:
        "../envs/distilldata.yaml"
    threads: 1
    resources:
        mem_mb=4000,
    params:
        script=script("rag/search.py"),
        code=code_version("rag/search.py"),
        options=search_options,
        part=part_number,
    shell:
        "python {params.script} {params.options} --threads {threads} --index {input.index} "
        "--corpus {input.corpus} --part_numbers {params.part} --queries {input.queries} "
        "--output {output} > {log} 2>&1"


rule rag_search_corpus:
    input:
        unpack(search_corpus_inputs),
    output:
        temp("results/rag/search/{dataset}/{retriever}/batch{batch}.parquet"),
    log:
        "logs/rag/search/{dataset}/{retriever}/batch{batch}.log",
    benchmark:
        "benchmarks/rag/search/{dataset}/{retriever}/batch{batch}.tsv"
    wildcard_constraints:
        retriever=BM25_RETRIEVERS,
    conda:
        "../envs/distilldata.yaml"
    resources:
        mem_mb=16000,
    params:
        script=script("rag/search.py"),
        code=code_version("rag/search.py"),
        options=search_options,
        parts=corpus_part_numbers,
    shell:
        "python {params.script} {params.options} --index {input.index} "
        "--corpus {input.corpus} --part_numbers {params.parts} --queries {input.queries} "
        "--output {output} > {log} 2>&1"


rule rag_merge_hits:
    input:
        unpack(merge_inputs),
    output:
        "results/rag/hits/{dataset}/{retriever}.parquet",
    log:
        "logs/rag/hits/{dataset}/{retriever}.log",
    wildcard_constraints:
        retriever=PLAIN_RETRIEVERS,
    conda:
        "../envs/distilldata.yaml"
    params:
        script=script("rag/merge_hits.py"),
        code=code_version("rag/merge_hits.py"),
        options=merge_options,
    shell:
        "python {params.script} --shards {input.shards} --queries {input.queries} "
        "{params.options} --output {output} > {log} 2>&1"


rule rag_fuse_hits:
    input:
        unpack(fuse_inputs),
    output:
        "results/rag/hits/{dataset}/{retriever}.parquet",
    log:
        "logs/rag/hits/{dataset}/{retriever}.log",
    wildcard_constraints:
        retriever=HYBRID_RETRIEVERS,
    conda:
        "../envs/distilldata.yaml"
    params:
        script=script("rag/fuse_hits.py"),
        code=code_version("rag/fuse_hits.py"),
        options=fuse_options,
    shell:
        "python {params.script} --hits {input.hits} --corpus {input.corpus} "
        "{params.options} --output {output} > {log} 2>&1"


# ---- documents, teacher answers, train data, report ------------------------------------------


rule rag_documents:
    input:
        unpack(documents_inputs),
    output:
        "results/rag/{dataset}/documents.parquet",
    log:
        "logs/rag/{dataset}/documents.log",
    benchmark:
        "benchmarks/rag/{dataset}/documents.tsv"
    conda:
        "../envs/distilldata.yaml"
    threads: 2
    resources:
        gpu=documents_gpus,
        mem_mb=8000,
    params:
        script=script("rag/rerank.py"),
        code=code_version("rag/rerank.py"),
        options=documents_options,
    shell:
        "OMP_NUM_THREADS={threads} python {params.script} --queries {input.queries} "
        "--hits {input.hits} --corpus {input.corpus} {params.options} "
        "--output {output} > {log} 2>&1"


rule rag_answers:
    input:
        unpack(answer_inputs),
    output:
        "results/rag/{dataset}/answers/shard{shard}-of-{shards}.parquet",
    log:
        "logs/rag/{dataset}/answers/shard{shard}-of-{shards}.log",
    benchmark:
        "benchmarks/rag/{dataset}/answers/shard{shard}-of-{shards}.tsv"
    conda:
        "../envs/distilldata.yaml"
    threads: 1
    resources:
        gpu=answer_gpus,
        mem_mb=8000,
    params:
        script=script("rag/answer.py"),
        code=code_version("rag/answer.py"),
        options=answer_options,
    shell:
        "OMP_NUM_THREADS={threads} python {params.script} --documents {input.documents} "
        "--shard {wildcards.shard}/{wildcards.shards} {params.options} "
        "--output {output} > {log} 2>&1"


rule rag_assemble:
    input:
        documents="results/rag/{dataset}/documents.parquet",
        answers=answer_shard_files,
    output:
        train_data="results/rag/{dataset}/train_data.json",
        provenance="results/rag/{dataset}/train_data.parquet",
        stats="results/rag/{dataset}/stats.json",
    log:
        "logs/rag/{dataset}/assemble.log",
    conda:
        "../envs/distilldata.yaml"
    params:
        script=script("rag/assemble.py"),
        code=code_version("rag/assemble.py"),
    shell:
        "python {params.script} --documents {input.documents} --answers {input.answers} "
        "--output_file {output.train_data} --provenance {output.provenance} "
        "--stats {output.stats} > {log} 2>&1"


rule rag_report:
    input:
        unpack(report_inputs),
    output:
        markdown=report(
            "results/rag/{dataset}/report.md",
            category="RAG-compression data",
            subcategory="Quality reports",
            labels={"dataset": "{dataset}"},
        ),
        json="results/rag/{dataset}/report.json",
        plot=report(
            "results/rag/{dataset}/report.png",
            category="RAG-compression data",
            subcategory="Retrieval accuracy",
            labels={"dataset": "{dataset}"},
        ),
    log:
        "logs/rag/{dataset}/report.log",
    conda:
        "../envs/distilldata.yaml"
    params:
        script=script("rag/report.py"),
        code=code_version("rag/report.py"),
        hits=report_hits,
    shell:
        "python {params.script} --queries {input.queries} --corpus {input.corpus} "
        "--hits {params.hits} --documents {input.documents} "
        "--provenance {input.provenance} --output_markdown {output.markdown} "
        "--output_json {output.json} --output_plot {output.plot} > {log} 2>&1"

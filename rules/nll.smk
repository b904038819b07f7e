# Completion-only NLL scoring of the distilled-SFT candidate pools by a student model, and the
# Anchor / Restoration / Learning / Challenge selection subsets built from the scores:
# pools (checkpoint sft_pools) -> scores per pool shard (local/vllm, or Modal per corpus) ->
# one scored table per corpus with percentiles -> subsets -> report.


include: "helpers/nll.smk"


# Seconds-long jobs (merges, selections, plots) and the Modal client run where Snakemake runs.
localrules:
    nll_modal_scores,
    nll_rank,
    nll_subset,
    nll_report,


# One job per pool shard. OMP_WAIT_POLICY=PASSIVE: on shared cores spinning OpenMP threads made
# SmolLM2 scoring 4x slower (115 vs 511 tokens/s measured); idle threads now sleep instead.
rule nll_score:
    input:
        unpack(nll_score_inputs),
    output:
        scores="results/nll/scores/{corpus}/{pool}/part-{part}.parquet",
        stats="results/nll/scores/{corpus}/{pool}/part-{part}.stats.json",
    log:
        "logs/nll/score/{corpus}/{pool}/part-{part}.log",
    benchmark:
        "benchmarks/nll/score/{corpus}/{pool}/part-{part}.tsv"
    conda:
        "../envs/distilldata.yaml"
    threads: 2
    resources:
        gpu=nll_gpus(),
        mem_mb=8000,
    params:
        script=script("nll/score_nll.py"),
        code=code_version("nll/score_nll.py"),
        options=nll_score_options(),
    shell:
        "OMP_NUM_THREADS={threads} OMP_WAIT_POLICY=PASSIVE python {params.script} "
        "--input {input.shard} "
        "--earlier_shards {input.earlier} --output {output.scores} "
        "--stats_output {output.stats} --pool {wildcards.pool} "
        "--cache_name {wildcards.corpus}/{wildcards.pool}/part-{wildcards.part} "
        "{params.options} > {log} 2>&1"


rule nll_modal_scores:
    input:
        pools="results/sft/pools/{corpus}",
    output:
        directory("results/nll/modal_scores/{corpus}"),
    log:
        "logs/nll/modal_scores/{corpus}.log",
    conda:
        "../envs/distilldata.yaml"
    params:
        script=script("nll/modal_scores.py"),
        code=code_version("nll/modal_scores.py"),
        options=nll_modal_options(),
    shell:
        "python {params.script} --pools {input.pools} --output {output} "
        "--corpus {wildcards.corpus} {params.options} > {log} 2>&1"


rule nll_rank:
    input:
        scores=nll_rank_inputs,
    output:
        scored="results/nll/scored/{corpus}.parquet",
        stats="results/nll/scored/{corpus}.json",
    log:
        "logs/nll/rank/{corpus}.log",
    conda:
        "../envs/distilldata.yaml"
    params:
        script=script("nll/rank_scores.py"),
        code=code_version("nll/rank_scores.py"),
    shell:
        "python {params.script} --scores {input.scores} --output {output.scored} "
        "--stats_output {output.stats} > {log} 2>&1"


rule nll_subset:
    input:
        scored=nll_scored_files(),
        pools=nll_pool_dirs(),
    output:
        directory("results/nll/subsets/{subset}"),
    log:
        "logs/nll/subset/{subset}.log",
    conda:
        "../envs/distilldata.yaml"
    params:
        script=script("nll/build_subsets.py"),
        code=code_version("nll/build_subsets.py"),
        options=nll_subset_options,
    shell:
        "python {params.script} --subset {wildcards.subset} {params.options} "
        "--scored {input.scored} --pools {input.pools} --output {output} > {log} 2>&1"


rule nll_report:
    input:
        scored=nll_scored_files(),
        subsets=nll_subset_dirs(),
    output:
        markdown=report(
            "results/nll/report/nll_report.md",
            category="NLL scoring",
            subcategory="Scores and subsets",
        ),
        nll_plot=report(
            "results/nll/report/nll_mean.png",
            category="NLL scoring",
            subcategory="Scores and subsets",
        ),
        percentile_plot=report(
            "results/nll/report/percentiles.png",
            category="NLL scoring",
            subcategory="Scores and subsets",
        ),
    log:
        "logs/nll/report.log",
    conda:
        "../envs/distilldata.yaml"
    params:
        script=script("nll/nll_report.py"),
        code=code_version("nll/nll_report.py"),
        options=nll_report_options(),
    shell:
        "python {params.script} --scored {input.scored} --subsets {input.subsets} "
        "--markdown {output.markdown} --nll_plot {output.nll_plot} "
        "--percentile_plot {output.percentile_plot} {params.options} > {log} 2>&1"

# Reranker-pruner training and evaluation: training YAML -> checkpoints + final_model -> tables.


include: "helpers/pruner.smk"


# The run folder (checkpoint-*, run_fingerprint.json) is the one above final_model/ and is not
# an output: Snakemake would delete it before a rerun. --auto-resume continues a preempted run
# from its latest complete checkpoint, and starts clean when the recipe or inputs changed.
rule train_pruner:
    input:
        unpack(training_inputs),
    output:
        config="results/pruner/models/{run}/final_model/config.json",
        weights="results/pruner/models/{run}/final_model/model.safetensors",
        log_history="results/pruner/models/{run}/final_model/training_log.json",
    log:
        "logs/pruner/train_pruner/{run}.log",
    benchmark:
        "benchmarks/pruner/train_pruner/{run}.tsv"
    conda:
        "../envs/distilldata.yaml"
    threads: 2
    resources:
        gpu=1,
        mem_mb=8000,
    params:
        script=script("pruner/train_pruner.py"),
        code=code_version("pruner/train_pruner.py"),
    shell:
        "OMP_NUM_THREADS={threads} python {params.script} {input.recipe} "
        "--final-model {output.config} --skip-eval --auto-resume > {log} 2>&1"


rule eval_pruner:
    input:
        unpack(eval_inputs),
        model=rules.train_pruner.output.weights,
    output:
        markdown=report(
            "results/pruner/models/{run}/final_model/eval_datasets/results.md",
            caption="../report/pruner_eval.rst",
            category="Pruner training",
            subcategory="Evaluation tables",
            labels={"run": "{run}", "artifact": "results.md"},
        ),
        json="results/pruner/models/{run}/final_model/eval_datasets/results.json",
        plot=report(
            "results/pruner/models/{run}/threshold_sweep.png",
            caption="../report/pruner_sweep.rst",
            category="Pruner training",
            subcategory="Threshold sweep",
            labels={"run": "{run}", "artifact": "threshold_sweep.png"},
        ),
    log:
        "logs/pruner/eval_pruner/{run}.log",
    benchmark:
        "benchmarks/pruner/eval_pruner/{run}.tsv"
    conda:
        "../envs/distilldata.yaml"
    threads: 2
    resources:
        gpu=1,
        mem_mb=4000,
    params:
        script=script("pruner/eval_datasets.py"),
        code=code_version("pruner/eval_datasets.py"),
        options=eval_options,
    shell:
        "OMP_NUM_THREADS={threads} python {params.script} --model {input.model} "
        "{params.options} --output-file {output.markdown} --output-json {output.json} "
        "--output-plot {output.plot} > {log} 2>&1"

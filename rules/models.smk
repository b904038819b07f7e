# Models built from what pip packages ship, shared by the pipelines: a GGUF checkpoint converted
# once into a plain model folder (SmolLM2-135M-Instruct: the RAG teacher and the NLL student of
# the demo), and the tiny random models of the CI config.


include: "helpers/models.smk"


rule gguf_model:
    output:
        config="resources/models/{gguf_model}/config.json",
        weights="resources/models/{gguf_model}/model.safetensors",
        tokenizer="resources/models/{gguf_model}/tokenizer.json",
    log:
        "logs/models/gguf_model/{gguf_model}.log",
    benchmark:
        "benchmarks/models/gguf_model/{gguf_model}.tsv"
    conda:
        "../envs/distilldata.yaml"
    threads: 2
    resources:
        mem_mb=4000,
    params:
        script=script("models/convert_gguf.py"),
        code=code_version("models/convert_gguf.py"),
        gguf=gguf_source,
    shell:
        "OMP_NUM_THREADS={threads} python {params.script} --gguf {params.gguf} "
        "--output {output.config} > {log} 2>&1"


rule tiny_encoder:
    output:
        config="resources/models/tiny-bert/config.json",
        weights="resources/models/tiny-bert/model.safetensors",
    log:
        "logs/models/tiny_encoder.log",
    conda:
        "../envs/distilldata.yaml"
    params:
        script=script("models/build_tiny_encoder.py"),
        code=code_version("models/build_tiny_encoder.py"),
    shell:
        "python {params.script} --output {output.config} > {log} 2>&1"


rule tiny_causal_lm:
    output:
        config="resources/models/tiny-causal-lm/config.json",
        weights="resources/models/tiny-causal-lm/model.safetensors",
        tokenizer="resources/models/tiny-causal-lm/tokenizer.json",
    log:
        "logs/models/tiny_causal_lm.log",
    conda:
        "../envs/distilldata.yaml"
    params:
        script=script("models/build_tiny_causal_lm.py"),
        code=code_version("models/build_tiny_causal_lm.py"),
    shell:
        "python {params.script} --output {output.config} > {log} 2>&1"

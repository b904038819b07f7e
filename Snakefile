# distilldata: raw public datasets -> teacher-distilled training data, one DAG of five pipelines.
# Each has its rules (and their helpers) in rules/<pipeline>.smk, its scripts in
# scripts/<pipeline>/, its library in distilldata/<pipeline>/ and its outputs in
# results/<pipeline>/ (logs/<pipeline>/, benchmarks/<pipeline>/).
#
# 1. provence  context-relevance datasets (Open Provence)                 rules/provence.smk
#    resources/provence/triplets/{source}/  triplets from vendored QA files (qa_triplets)
#    results/provence/base/{slug}/          Provence-format DatasetDict (convert_triplets)
#    results/provence/freq/{slug}/freq{N}/  frequency-filtered variants (frequency_filter)
#    results/provence/reports/...           DuckDB dataset reports (dataset_report)
#    results/provence/{input}_with_relevance[_with_teacher_scores]/  span labels, teacher scores
# 2. pruner    reranker-pruner training and evaluation                     rules/pruner.smk
#    results/pruner/models/{run}/final_model/  trained model + eval_datasets/results.{md,json}
# 3. rag       RAG-compression data (OSCAR / ScaleDown)                    planned
# 4. sft       distilled-SFT curation (Nemotron and chat/tool corpora)     rules/sft.smk
#    results/sft/inventory.json             DuckDB inventory + metadata_coverage.md
#    results/sft/{normalized,deduped}/{corpus}/{split}/part-NNNNN.parquet  Harmony rows
#    results/sft/pools/{corpus}/            candidate pools + pools_manifest.json
# 5. nll       completion-only NLL scoring and selection subsets           planned


from snakemake.utils import min_version

min_version("9.20")


# The demo config unless the user gives --configfile (which replaces it rather than merging);
# `--config key=value` alone applies on top of the demo config.
if not workflow.overwrite_configfiles:

    configfile: f"{workflow.basedir}/config/config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/provence.smk"
include: "rules/pruner.smk"
include: "rules/sft.smk"


localrules:
    all,
    provence,
    pruner,
    sft,


rule all:
    default_target: True
    input:
        provence_targets(),
        pruner_targets(),
        sft_targets(),


rule provence:
    input:
        provence_targets(),


rule pruner:
    input:
        pruner_targets(),


rule sft:
    input:
        sft_targets(),

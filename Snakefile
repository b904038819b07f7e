# distilldata: raw public datasets -> teacher-distilled training data, one DAG of five pipelines.
# Each has its rules (and their helpers) in rules/<pipeline>.smk, its scripts in
# scripts/<pipeline>/, its library in distilldata/<pipeline>/ and its outputs in
# results/<pipeline>/ (logs/<pipeline>/, benchmarks/<pipeline>/).
#
#    models    model folders the demo and CI build (rules/models.smk): SmolLM2 from its GGUF,
#    tiny random encoders and causal LMs    resources/models/{name}/
#
# 1. provence  context-relevance datasets (Open Provence)                 rules/provence.smk
#    resources/provence/triplets/{source}/  triplets from vendored QA files (qa_triplets)
#    results/provence/base/{slug}/          Provence-format DatasetDict (convert_triplets)
#    results/provence/freq/{slug}/freq{N}/  frequency-filtered variants (frequency_filter)
#    results/provence/reports/...           DuckDB dataset reports (dataset_report)
#    results/provence/{input}_with_relevance[_with_teacher_scores]/  span labels, teacher scores
# 2. pruner    reranker-pruner training and evaluation                     rules/pruner.smk
#    results/pruner/models/{run}/final_model/  trained model + eval_datasets/results.{md,json}
# 3. rag       RAG-compression data (OSCAR / ScaleDown)                    rules/rag.smk
#    results/rag/queries/{name}.parquet     qid, query (+ gold answers) from text/TSV/SQuAD/synthetic
#    results/rag/corpus/{corpus}/           chunks with provenance, part-NNNNN.parquet + manifest.json
#    results/rag/index/, search/, hits/     per-shard SPLADE/BM25/dense indexes, top-k, merged/fused hits
#    results/rag/{dataset}/train_data.json  the seed's {query, documents, answer, reranking_scores}
#    results/rag/{dataset}/report.md        accuracy@k per retriever, teacher-answer F1/EM
# 4. sft       distilled-SFT curation (Nemotron and chat/tool corpora)     rules/sft.smk
#    results/sft/inventory.json             DuckDB inventory + metadata_coverage.md
#    results/sft/{normalized,deduped}/{corpus}/{split}/part-NNNNN.parquet  Harmony rows
#    results/sft/pools/{corpus}/            candidate pools + pools_manifest.json
# 5. nll       completion-only NLL scoring and selection subsets           rules/nll.smk
#    results/nll/scores/{corpus}/{pool}/part-NNNNN.parquet  nll_mean, ppl, ifd per pool shard
#    results/nll/scored/{corpus}.parquet    all scores of a corpus + percentile_within_split
#    results/nll/subsets/{subset}/          anchor, restoration, learning, challenge + manifest
#    results/nll/report/nll_report.md       histograms, subset sizes, example rows


from snakemake.utils import min_version

min_version("9.20")


# The demo config unless the user gives --configfile (which replaces it rather than merging);
# `--config key=value` alone applies on top of the demo config.
if not workflow.overwrite_configfiles:

    configfile: f"{workflow.basedir}/config/config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/models.smk"
include: "rules/provence.smk"
include: "rules/pruner.smk"
include: "rules/rag.smk"
include: "rules/sft.smk"
include: "rules/nll.smk"


localrules:
    all,
    provence,
    pruner,
    rag,
    sft,
    nll,


rule all:
    default_target: True
    input:
        provence_targets(),
        pruner_targets(),
        rag_targets(),
        sft_targets(),
        nll_targets(),


rule provence:
    input:
        provence_targets(),


rule pruner:
    input:
        pruner_targets(),


rule rag:
    input:
        rag_targets(),


rule sft:
    input:
        sft_targets(),


rule nll:
    input:
        nll_targets(),

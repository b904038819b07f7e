# distilldata: raw public datasets -> teacher-distilled training data, one DAG.
#
# results/provence/base/{slug}/          Provence-format DatasetDict (convert_triplets)
# results/provence/freq/{slug}/freq{N}/  frequency-filtered variants (frequency_filter)
# results/provence/reports/...           DuckDB dataset reports (dataset_report)
# resources/provence/triplets/{source}/  triplets built from vendored QA files (qa_triplets)
# resources/nltk_data/                   offline NLTK Punkt tables (punkt_tables)
# results/nemotron/inventory.json        DuckDB inventory + metadata_coverage.md (nemotron_*)
# results/nemotron/{normalized,deduped}/{corpus}/{split}/part-NNNNN.parquet  Harmony rows
# results/nemotron/pools/{corpus}/       candidate pools + pools_manifest.json


from snakemake.utils import min_version

min_version("9.20")


# The demo config unless the user gives --configfile (which replaces it rather than merging);
# `--config key=value` alone applies on top of the demo config.
if not workflow.overwrite_configfiles:

    configfile: f"{workflow.basedir}/config/config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/provence.smk"
include: "rules/nemotron.smk"
include: "rules/training.smk"


localrules:
    all,
    provence,
    nemotron,
    training,


rule all:
    default_target: True
    input:
        provence_targets(),
        nemotron_targets(),
        training_targets(),


rule provence:
    input:
        provence_targets(),


rule nemotron:
    input:
        nemotron_targets(),


rule training:
    input:
        training_targets(),

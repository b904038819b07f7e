# The rag pipeline's helpers: config tables (defaults filled from config/schema.yaml), wildcard
# constraints, input functions, option builders and targets of the rules in rules/rag.smk
# (which includes this file first).
import yaml

RAG = config["rag"]
RAG_RESERVED = {"queries", "corpus", "index", "search", "hits", "cache"}


def _rag_entry_schemas():
    """The schema of one entry of each rag.<table> (for the defaults of nested entries, which
    Snakemake's validate() does not fill in below additionalProperties)."""
    with open(Path(workflow.basedir) / "config" / "schema.yaml") as fh:
        tables = yaml.safe_load(fh)["properties"]["rag"]["properties"]
    return {
        name: table["additionalProperties"]
        for name, table in tables.items()
        if isinstance(table.get("additionalProperties"), dict)
    }


def _with_defaults(value, schema):
    """`value` with every missing key of `schema` (recursively) set to its default."""
    if schema.get("type") != "object" or "properties" not in schema:
        return value
    value = dict(value or {})
    for key, sub in schema["properties"].items():
        if key not in value and "default" in sub:
            value[key] = sub["default"]
        if key in value:
            value[key] = _with_defaults(value[key], sub)
    return value


_RAG_SCHEMAS = _rag_entry_schemas()
for _table, _schema in _RAG_SCHEMAS.items():
    RAG[_table] = {k: _with_defaults(v, _schema) for k, v in RAG[_table].items()}
KILT_SOURCES = RAG["kilt_sources"]
RAG_QUERIES = RAG["queries"]
CORPORA = RAG["corpora"]
RETRIEVERS = RAG["retrievers"]
RAG_DATASETS = RAG["datasets"]


def corpus_files(corpus):
    entry = CORPORA[corpus]
    return ([entry["path"]] if entry["path"] else []) + list(entry["paths"])


def _check_rag_config():
    """Names that point nowhere fail before any job runs, with the key to fix."""
    errors = []
    for name, entry in CORPORA.items():
        if not corpus_files(name):
            errors.append(f"rag.corpora.{name}: give path or paths")
    for name, q in RAG_QUERIES.items():
        if q["kind"] in ("text", "squad", "jsonl") and not q["path"]:
            errors.append(f"rag.queries.{name}: kind {q['kind']} needs a path")
        if q["kind"] == "synthetic" and q["corpus"] not in CORPORA:
            errors.append(
                f"rag.queries.{name}.corpus: {q['corpus']!r} is not in rag.corpora"
            )
        if q["kind"] == "hub" and not q["dataset"]:
            errors.append(f"rag.queries.{name}: kind hub needs a dataset")
    for name, r in RETRIEVERS.items():
        if r["kind"] in ("splade", "dense") and not r["model"]:
            errors.append(f"rag.retrievers.{name}: kind {r['kind']} needs a model")
        if r["kind"] == "hybrid":
            bad = [
                f
                for f in r["fuse"]
                if RETRIEVERS.get(f, {}).get("kind") in (None, "hybrid")
            ]
            if not r["fuse"] or bad:
                errors.append(
                    f"rag.retrievers.{name}.fuse: needs non-hybrid retriever names, got "
                    f"{r['fuse']}"
                )
    for name, d in RAG_DATASETS.items():
        if name in RAG_RESERVED:
            errors.append(
                f"rag.datasets.{name}: the name is reserved ({sorted(RAG_RESERVED)})"
            )
        if d["queries"] not in RAG_QUERIES:
            errors.append(
                f"rag.datasets.{name}.queries: {d['queries']!r} not in rag.queries"
            )
        if d["corpus"] not in CORPORA:
            errors.append(
                f"rag.datasets.{name}.corpus: {d['corpus']!r} not in rag.corpora"
            )
        for r in [d["retriever"], *d["compare"]]:
            if r not in RETRIEVERS:
                errors.append(
                    f"rag.datasets.{name}: retriever {r!r} not in rag.retrievers"
                )
    if errors:
        raise ValueError("rag config:\n  " + "\n  ".join(errors))


_check_rag_config()


def retrievers_of_kind(*kinds):
    return [name for name, r in RETRIEVERS.items() if r["kind"] in kinds]


wildcard_constraints:
    kilt_source=one_of(KILT_SOURCES),
    queries=one_of(RAG_QUERIES),
    corpus=one_of(CORPORA),
    dataset=one_of(RAG_DATASETS),
    retriever=one_of(RETRIEVERS),
    batch=r"\d+",


# Constraints of the retriever wildcard, one per kind of job in rules/rag.smk.
SPLADE_RETRIEVERS = one_of(retrievers_of_kind("splade"))
DENSE_RETRIEVERS = one_of(retrievers_of_kind("dense"))
BM25_RETRIEVERS = one_of(retrievers_of_kind("bm25"))
PART_RETRIEVERS = one_of(retrievers_of_kind("splade", "dense"))
PLAIN_RETRIEVERS = one_of(retrievers_of_kind("splade", "dense", "bm25"))
HYBRID_RETRIEVERS = one_of(retrievers_of_kind("hybrid"))


# ---- KILT lines, queries, corpus ---------------------------------------------------------------


def kilt_source_inputs(wildcards):
    source = KILT_SOURCES[wildcards.kilt_source]
    inputs = {"text": source["path"]}
    if source["titles"]:
        inputs["titles"] = source["titles"]
    return inputs


def kilt_source_kind(wildcards):
    return KILT_SOURCES[wildcards.kilt_source]["kind"]


def kilt_titles_option(wildcards, input):
    return f"--titles {input.titles}" if "titles" in input.keys() else ""


def corpus_parts(corpus):
    """Part numbers of a corpus: every file cut into `shards` ranges (file-major); a corpus
    capped by max_corpus_size is one part reading its files in order."""
    entry = CORPORA[corpus]
    n = 1 if entry["max_corpus_size"] else len(corpus_files(corpus)) * entry["shards"]
    return [f"{k:05d}" for k in range(n)]


def corpus_part_files(corpus, ext="parquet"):
    return [f"results/rag/corpus/{corpus}/part-{p}.{ext}" for p in corpus_parts(corpus)]


def corpus_part_inputs_all(wildcards):
    """Every part of a corpus (the BM25 index covers them all)."""
    return corpus_part_files(wildcards.corpus)


def part_number(wildcards):
    return int(wildcards.part)


def corpus_part_inputs(wildcards):
    """The input file(s) of one corpus part."""
    entry, files = CORPORA[wildcards.corpus], corpus_files(wildcards.corpus)
    if entry["max_corpus_size"]:
        return files
    return files[int(wildcards.part) // entry["shards"]]


def corpus_part_options(wildcards):
    entry = CORPORA[wildcards.corpus]
    shards = 1 if entry["max_corpus_size"] else entry["shards"]
    shard = int(wildcards.part) % shards
    options = [
        f"--format {entry['format']}",
        f"--shard {shard}/{shards}",
        f"--chunking {entry['chunking']}",
        f"--lang {shlex.quote(entry['lang'])}",
        f"--max_tokens {entry['max_tokens']}",
        f"--tokenizer {shlex.quote(entry['tokenizer'])}",
        f"--max_corpus_size {entry['max_corpus_size']}",
    ]
    return " ".join(options)


def corpus_tokenizer_files(wildcards):
    return local_model_files(CORPORA[wildcards.corpus]["tokenizer"])


def corpus_manifest_inputs(wildcards):
    return {
        "parts": corpus_part_files(wildcards.corpus),
        "stats": corpus_part_files(wildcards.corpus, "stats.json"),
    }


def queries_inputs(wildcards):
    q = RAG_QUERIES[wildcards.queries]
    inputs = {}
    if q["path"]:
        inputs["source"] = q["path"]
    if q["kind"] == "synthetic":
        inputs["corpus"] = corpus_part_files(q["corpus"])
    return inputs


def queries_options(wildcards, input):
    q = RAG_QUERIES[wildcards.queries]
    options = [
        f"--kind {q['kind']}",
        f"--lang {shlex.quote(q['lang'])}",
        f"--max_queries {q['max_queries']}",
        f"--sample {q['sample']}",
        f"--seed {q['seed']}",
    ]
    if "source" in input.keys():
        options.append(f"--input {input.source}")
    if q["kind"] == "msmarco":
        options.append(f"--url {shlex.quote(q['url'])}")
        if RAG["network"]:
            options.append("--network")
    if q["kind"] == "synthetic":
        options.append(f"--num_queries {q['num_queries']} --corpus {input.corpus}")
    if q["kind"] == "hub":
        options.append(f"--dataset {shlex.quote(q['dataset'])} --split {q['split']}")
        options.append(f"--column {shlex.quote(q['column'])}")
        for key in ("subset", "id_column", "answers_column"):
            if q[key]:
                options.append(f"--{key} {shlex.quote(q[key])}")
    return " ".join(options)


# ---- indexes and search ------------------------------------------------------------------------


def retriever_options(name, corpus):
    """The flags of build_index.py / search.py for a retriever on a corpus."""
    r = RETRIEVERS[name]
    options = [f"--kind {r['kind']}"]
    if r["kind"] == "bm25":
        options += [
            f"--lang {shlex.quote(CORPORA[corpus]['lang'])}",
            f"--stemmer {r['stemmer']}",
            f"--ja {r['ja']}",
            f"--k1 {r['k1']} --b {r['b']} --method {r['method']}",
        ]
        if not r["stopwords"]:
            options.append("--no_stopwords")
        return " ".join(options)
    options += [
        f"--model {shlex.quote(r['model'])}",
        f"--batch_size {r['batch_size']}",
        f"--max_length {r['max_length']}",
    ]
    if r["kind"] == "splade":
        options.append(f"--screen {r['screen']}")
    if r["kind"] == "dense":
        options.append(f"--faiss_min_chunks {r['faiss_min_chunks']}")
    return " ".join(options)


def index_options(wildcards):
    return retriever_options(wildcards.retriever, wildcards.corpus)


def index_model_files(wildcards):
    return local_model_files(RETRIEVERS[wildcards.retriever]["model"] or "")


def index_file(corpus, retriever, part):
    suffix = {"splade": "npz", "dense": "npy"}[RETRIEVERS[retriever]["kind"]]
    return f"results/rag/index/{corpus}/{retriever}/part-{part}.{suffix}"


def search_part_inputs(wildcards):
    corpus = RAG_DATASETS[wildcards.dataset]["corpus"]
    return {
        "queries": f"results/rag/queries/{RAG_DATASETS[wildcards.dataset]['queries']}.parquet",
        "index": index_file(corpus, wildcards.retriever, wildcards.part),
        "corpus": f"results/rag/corpus/{corpus}/part-{wildcards.part}.parquet",
        "model": index_model_files(wildcards),
    }


def search_corpus_inputs(wildcards):
    d = RAG_DATASETS[wildcards.dataset]
    return {
        "queries": f"results/rag/queries/{d['queries']}.parquet",
        "index": f"results/rag/index/{d['corpus']}/{wildcards.retriever}/bm25s",
        "corpus": corpus_part_files(d["corpus"]),
    }


def search_options(wildcards):
    d = RAG_DATASETS[wildcards.dataset]
    return (
        f"{retriever_options(wildcards.retriever, d['corpus'])} "
        f"--batch {wildcards.batch}/{d['query_batches']} "
        f"--top_k_retrieval {d['top_k_retrieval']}"
    )


def corpus_part_numbers(wildcards):
    return " ".join(
        str(int(p)) for p in corpus_parts(RAG_DATASETS[wildcards.dataset]["corpus"])
    )


def search_shard_files(wildcards):
    """The search shards of a (dataset, retriever), batch-major (merge_hits.py's order)."""
    d = RAG_DATASETS[wildcards.dataset]
    base = f"results/rag/search/{wildcards.dataset}/{wildcards.retriever}"
    batches = range(d["query_batches"])
    if RETRIEVERS[wildcards.retriever]["kind"] == "bm25":
        return [f"{base}/batch{b}.parquet" for b in batches]
    return [
        f"{base}/batch{b}-part-{p}.parquet"
        for b in batches
        for p in corpus_parts(d["corpus"])
    ]


def merge_inputs(wildcards):
    d = RAG_DATASETS[wildcards.dataset]
    return {
        "queries": f"results/rag/queries/{d['queries']}.parquet",
        "shards": search_shard_files(wildcards),
    }


def merge_options(wildcards):
    d = RAG_DATASETS[wildcards.dataset]
    return (
        f"--query_batches {d['query_batches']} --top_k_retrieval {d['top_k_retrieval']}"
    )


def fuse_inputs(wildcards):
    d = RAG_DATASETS[wildcards.dataset]
    fused = RETRIEVERS[wildcards.retriever]["fuse"]
    return {
        "hits": [
            f"results/rag/hits/{wildcards.dataset}/{name}.parquet" for name in fused
        ],
        "corpus": corpus_part_files(d["corpus"]),
    }


def fuse_options(wildcards):
    d = RAG_DATASETS[wildcards.dataset]
    r = RETRIEVERS[wildcards.retriever]
    return f"--top_k_retrieval {d['top_k_retrieval']} --rrf_k {r['rrf_k']}"


# ---- documents, answers, train data, report (scripts by the teacher side) ---------------------


def dataset_hits(dataset, retriever=None):
    return f"results/rag/hits/{dataset}/{retriever or RAG_DATASETS[dataset]['retriever']}.parquet"


def documents_inputs(wildcards):
    d = RAG_DATASETS[wildcards.dataset]
    return {
        "queries": f"results/rag/queries/{d['queries']}.parquet",
        "hits": dataset_hits(wildcards.dataset),
        "corpus": corpus_part_files(d["corpus"]),
        "model": (
            local_model_files(d["rerank"]["model"]) if d["rerank"]["enabled"] else []
        ),
    }


def documents_options(wildcards):
    r = RAG_DATASETS[wildcards.dataset]["rerank"]
    options = [
        f"--reranker_model {shlex.quote(r['model'])}",
        f"--reranker_kind {r['kind']}",
        f"--top_k_reranking {r['top_k']}",
        f"--activation {r['activation']}",
        f"--batch_size {r['batch_size']}",
        f"--max_length {r['max_length']}",
        "--with_title" if r["with_title"] else "--no-with_title",
    ]
    if r["enabled"]:
        options.append("--enable_reranking")
    return " ".join(options)


def documents_gpus(wildcards):
    return 1 if RAG_DATASETS[wildcards.dataset]["rerank"]["enabled"] else 0


def answer_shard_files(wildcards):
    shards = RAG_DATASETS[wildcards.dataset]["teacher"]["shards"]
    return [
        f"results/rag/{wildcards.dataset}/answers/shard{k}-of-{shards}.parquet"
        for k in range(shards)
    ]


def answer_inputs(wildcards):
    t = RAG_DATASETS[wildcards.dataset]["teacher"]
    return {
        "documents": f"results/rag/{wildcards.dataset}/documents.parquet",
        "model": local_model_files(t["model"]) if t["backend"] != "none" else [],
    }


def answer_options(wildcards):
    t = RAG_DATASETS[wildcards.dataset]["teacher"]
    options = [
        f"--teacher_backend {t['backend']}",
        f"--teacher_model {shlex.quote(t['model'])}",
        f"--prompt {t['prompt']}",
        f"--decoding {t['decoding']}",
        f"--temperature {t['temperature']}",
        f"--top_p {t['top_p']}",
        f"--max_new_tokens {t['max_new_tokens']}",
        f"--max_prompt_tokens {t['max_prompt_tokens']}",
        f"--num_documents {t['num_documents']}",
        f"--max_queries {t['max_queries']}",
        f"--seed {t['seed']}",
        f"--batch_size {t['batch_size']}",
        f"--group_size {t['group_size']}",
        f"--cache_root {shlex.quote(RAG['cache_root'])}",
    ]
    if t["teacher_8bit"]:
        options.append("--teacher_8bit")
    if t["engine_kwargs"]:
        options.append(f"--engine_kwargs {shlex.quote(json.dumps(t['engine_kwargs']))}")
    if t["backend"] == "openai":
        if t["openai"]["base_url"]:
            options.append(f"--base_url {shlex.quote(t['openai']['base_url'])}")
        options.append(f"--api_key_env {t['openai']['api_key_env']}")
    return " ".join(options)


def answer_gpus(wildcards):
    return (
        0
        if RAG_DATASETS[wildcards.dataset]["teacher"]["backend"] in ("none", "openai")
        else 1
    )


def report_inputs(wildcards):
    d = RAG_DATASETS[wildcards.dataset]
    names = list(dict.fromkeys([d["retriever"], *d["compare"]]))
    return {
        "queries": f"results/rag/queries/{d['queries']}.parquet",
        "corpus": corpus_part_files(d["corpus"]),
        "hits": [dataset_hits(wildcards.dataset, name) for name in names],
        "documents": f"results/rag/{wildcards.dataset}/documents.parquet",
        "provenance": f"results/rag/{wildcards.dataset}/train_data.parquet",
    }


def report_hits(wildcards, input):
    """`--hits NAME=PATH ...`: each compared retriever's merged hits, named."""
    d = RAG_DATASETS[wildcards.dataset]
    names = list(dict.fromkeys([d["retriever"], *d["compare"]]))
    return " ".join(f"{n}={p}" for n, p in zip(names, input.hits))


# ---- targets -----------------------------------------------------------------------------------


def rag_targets():
    targets = []
    for name in RAG_DATASETS:
        base = f"results/rag/{name}"
        targets += [
            f"{base}/train_data.json",
            f"{base}/train_data.parquet",
            f"{base}/stats.json",
            f"{base}/report.md",
            f"{base}/report.json",
            f"{base}/report.png",
        ]
        targets += [f"results/rag/corpus/{RAG_DATASETS[name]['corpus']}/manifest.json"]
    return list(dict.fromkeys(targets))

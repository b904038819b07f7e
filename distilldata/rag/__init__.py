"""RAG-compression training data (OSCAR / ScaleDown): queries + corpus chunks -> retrieval ->
rerank -> teacher answers -> `train_data.json`.

Queries and corpus:
- `squad`: SQuAD-format files as articles with gold provenance (shared by kilt and queries);
- `kilt`: KILT-shaped knowledge-source lines from vendored Wikipedia text;
- `queries`: query sources (text, msmarco, squad, jsonl, hub, synthetic), cleaned, with ids;
- `corpus`: corpus readers (KILT, {id, title, text}, FlashRAG) and byte-range input shards;
- `chunking`: paper / first_paragraph / none chunks with provenance offsets;
- `corpus_parts`: the corpus step (one part per input shard) and the corpus manifest.

Retrieval:
- `ranking`: the top-k rule (ties by corpus order), merging, the `Retriever` interface;
- `splade`, `bm25` (+ `analyzers`), `dense`, `hybrid` (RRF): the retrievers;
- `retrieval`: `make_retriever`, the seed's Python API, index / search shard / merge / fuse.

Documents, answers, output (the teacher side):
- `chunk_lookup`: chunks by id from corpus parts; `rerank`: the documents step;
- `prompts`, `teacher`: teacher prompts and answers; `output`: train_data.json + provenance;
- `metrics`, `report`: the quality report; `prepare_dataset`, `cli_flags`: ScaleDown's CLI.
"""

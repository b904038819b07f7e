"""The corpus step: one input shard -> `part-NNNNN.parquet` of chunks + `part-NNNNN.stats.json`,
streamed (record batches of `BATCH_ROWS` chunks), and the manifest over all parts of a corpus.

Chunk columns (the contract with the teacher side): `chunk_id` (`<doc_id>#<k>`, unique, stable),
`doc_id, title, text, start_paragraph, start_character, end_paragraph, end_character, n_tokens`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa

from distilldata.core.errors import InputError
from distilldata.core.progress import Progress
from distilldata.core.store import atomic_path, write_json
from distilldata.rag.chunking import Chunk, Chunker
from distilldata.rag.corpus import ReadStats, read_documents, shard_size

log = logging.getLogger(__name__)

BATCH_ROWS = 4096
CHUNK_SCHEMA = pa.schema(
    [
        ("chunk_id", pa.string()),
        ("doc_id", pa.string()),
        ("title", pa.string()),
        ("text", pa.string()),
        ("start_paragraph", pa.int32()),
        ("start_character", pa.int32()),
        ("end_paragraph", pa.int32()),
        ("end_character", pa.int32()),
        ("n_tokens", pa.int32()),
    ]
)


class FastTokenizer:
    """A model folder's `tokenizer.json` through the `tokenizers` library, called like a
    transformers tokenizer for what chunking needs (input_ids, offset_mapping): the same
    tokens, without importing torch and transformers into every corpus job."""

    def __init__(self, path: Path):
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(path))
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()

    def __call__(self, texts, add_special_tokens: bool = True, return_offsets_mapping=False):
        single = isinstance(texts, str)
        encoded = self.tokenizer.encode_batch(
            [texts] if single else list(texts), add_special_tokens=add_special_tokens
        )
        out = {"input_ids": [e.ids for e in encoded]}
        if return_offsets_mapping:
            out["offset_mapping"] = [e.offsets for e in encoded]
        return {k: v[0] for k, v in out.items()} if single else out


def load_tokenizer(ref: str):
    """The retriever's tokenizer (a Hub id, a folder or a package: reference): its
    tokenizer.json when the folder has one, else transformers' AutoTokenizer."""
    from distilldata.core.models import resolve_model

    path = Path(resolve_model(ref))
    if (path / "tokenizer.json").is_file():
        return FastTokenizer(path / "tokenizer.json")
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(path))
    # Chunking counts the tokens of whole sentences; the model's input limit is not ours here.
    tokenizer.model_max_length = 1 << 62
    return tokenizer


def _batch(chunks: list[Chunk]) -> pa.RecordBatch:
    columns = {name: [getattr(c, name) for c in chunks] for name in CHUNK_SCHEMA.names}
    return pa.RecordBatch.from_pydict(columns, schema=CHUNK_SCHEMA)


def write_corpus_part(
    inputs: Sequence[str | Path],
    output: str | Path,
    stats_output: str | Path,
    chunker: Chunker,
    fmt: str = "auto",
    shard: int = 0,
    shards: int = 1,
    max_documents: int = 0,
) -> dict:
    """Chunk the documents of one input shard into a Parquet part; returns its stats."""
    import pyarrow.parquet as pq

    stats = ReadStats()
    n_chunks, n_tokens, buffer = 0, 0, []
    total = sum(shard_size(p, shard, shards) for p in inputs)
    progress = Progress(total, "bytes" if Path(inputs[0]).suffix != ".parquet" else "rows", log)
    with atomic_path(output) as tmp, pq.ParquetWriter(tmp, CHUNK_SCHEMA) as writer:
        for doc in read_documents(list(inputs), fmt, shard, shards, max_documents, stats):
            chunks = chunker.chunks(doc)
            buffer += chunks
            n_chunks += len(chunks)
            n_tokens += sum(c.n_tokens for c in chunks)
            progress.update(stats.consumed - progress.done)
            if len(buffer) >= BATCH_ROWS:
                writer.write_batch(_batch(buffer))
                buffer = []
        if buffer:
            writer.write_batch(_batch(buffer))
    dropped = stats.dropped
    result = {
        "inputs": [str(p) for p in inputs],
        "shard": f"{shard}/{shards}",
        "records_in": stats.records_in,
        "documents": stats.documents,
        "dropped": dropped,
        "capped_at_max_corpus_size": stats.capped,
        "chunks": n_chunks,
        "chunk_tokens": n_tokens,
        "chunking": chunker.mode,
        "max_tokens": chunker.max_tokens,
    }
    write_json(stats_output, result)
    log.info(
        "%s: %d records -> %d documents -> %d chunks; dropped %s",
        output,
        stats.records_in,
        stats.documents,
        n_chunks,
        dropped,
    )
    return result


def corpus_manifest(parts: Sequence[str | Path], stats: Sequence[str | Path], output: str | Path):
    """Totals over a corpus's parts, and the check a part job cannot make: no document id in two
    parts (an error naming both parts). Reads only the doc_id columns."""
    import json

    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    first_part: dict[str, str] = {}
    per_part, totals = [], {"records_in": 0, "documents": 0, "chunks": 0, "chunk_tokens": 0}
    dropped: dict[str, int] = {}
    for part, stats_path in zip(parts, stats, strict=True):
        ids = pc.unique(pq.read_table(part, columns=["doc_id"])["doc_id"]).to_pylist()
        for doc_id in ids:
            other = first_part.setdefault(doc_id, str(part))
            if other != str(part):
                raise InputError(
                    f"document id {doc_id!r} is in {other} and in {part}: the corpus inputs "
                    "hold one id twice; de-duplicate them (ids name documents in provenance)"
                )
        part_stats = json.loads(Path(stats_path).read_text("utf-8"))
        for key in totals:
            totals[key] += part_stats[key]
        for reason, n in part_stats["dropped"].items():
            dropped[reason] = dropped.get(reason, 0) + n
        per_part.append({"part": Path(part).name, "chunks": part_stats["chunks"]})
    if totals["chunks"] == 0:
        raise InputError(
            f"the corpus of {parts[0]} ... has no chunks ({totals['records_in']} records read, "
            f"dropped {dropped}); check its files and `format`"
        )
    manifest = {**totals, "dropped": dropped, "parts": per_part}
    write_json(output, manifest)
    return manifest

"""Corpus readers: documents streamed from KILT lines, `{id, title, text}` records or FlashRAG /
DPR passages, one input shard (a byte range of a JSONL file, or row groups of a Parquet file)
at a time, so one 35 GB `kilt_knowledgesource.json` becomes N bounded-memory jobs.

A document is its *paragraph list* as stored, which chunk provenance indexes into:
- `kilt`: `{wikipedia_id, wikipedia_title, text: [...]}`: the `text` list; paragraph 0 is KILT's
  title line and is skipped (the title is kept as a field);
- `flashrag`: `{id, contents: "\\"Title\\"\\ntext"}`: `contents.split("\\n")`; line 0 is the quoted
  title line and is skipped;
- `records`: `{id, title, text}`: `text.split("\\n")` (every line is a body paragraph; a
  `text` list is taken as the paragraph list);
- `auto`: per record, `kilt` if it has `wikipedia_id`, `flashrag` if it has `contents`, else
  `records`.

Bad input, decided per case: a line that is not valid UTF-8 or not valid JSON stops the job with
the file and line (a corrupt or truncated download must not silently lose documents; fix or
remove the line); a record that is not a JSON object likewise. Records without an id, without
any body text, or with an id seen before in the same shard are dropped and counted by reason
(duplicates across shards are caught by the corpus manifest, `manifest.py`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from distilldata.core.errors import InputError

CORPUS_FORMATS = ("auto", "kilt", "records", "flashrag")
DROP_REASONS = ("no_id", "no_text", "duplicate_id")


@dataclass(frozen=True)
class Document:
    doc_id: str
    title: str
    paragraphs: list[str]  # as stored: chunk offsets index this list
    first_body: int  # paragraphs before this index are title lines, never chunked
    where: str

    def has_text(self) -> bool:
        return any(p.strip() for p in self.paragraphs[self.first_body :])


# ---- input shards ------------------------------------------------------------------------------


def byte_range(size: int, shard: int, shards: int) -> tuple[int, int]:
    """Shard k of N of a file of `size` bytes: [k*size//N, (k+1)*size//N)."""
    if not 0 <= shard < shards:
        raise InputError(f"shard {shard} is not in 0..{shards - 1}")
    return shard * size // shards, (shard + 1) * size // shards


def jsonl_lines(path: Path, shard: int = 0, shards: int = 1) -> Iterator[tuple[int, bytes]]:
    """(byte offset, raw line) of every line that *starts* inside the shard's byte range.

    A shard seeks to its start and, unless the byte before it ends a line, skips the rest of the
    line in progress (it belongs to the shard it started in); it reads on past its end to finish
    its last line. So every line is read by exactly one shard, whatever N is."""
    start, end = byte_range(path.stat().st_size, shard, shards)
    with path.open("rb") as fh:
        if start > 0:
            fh.seek(start - 1)
            fh.readline()  # just "\n" when a line starts exactly at `start`
        offset = fh.tell()
        while offset < end:
            line = fh.readline()
            if not line:
                break
            yield offset, line
            offset += len(line)


def line_number(path: Path, offset: int) -> int:
    """The 1-based line number of the line starting at byte `offset` (for error messages only:
    it reads the file up to there)."""
    count = 0
    with path.open("rb") as fh:
        remaining = offset
        while remaining > 0:
            block = fh.read(min(remaining, 1 << 24))
            if not block:
                break
            count += block.count(b"\n")
            remaining -= len(block)
    return count + 1


def parse_json_line(path: Path, offset: int, raw: bytes) -> dict | None:
    """A JSONL line as a dict (None for a blank line); bad UTF-8 / JSON names file and line."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        where = f"{path}:{line_number(path, offset)}"
        raise InputError(
            f"{where}: invalid UTF-8 ({exc}); re-encode the file or remove the line"
        ) from exc
    if not text.strip():
        return None
    try:
        record = json.loads(text)
    except ValueError as exc:
        where = f"{path}:{line_number(path, offset)}"
        raise InputError(f"{where}: invalid JSON ({exc}); fix or remove the line") from exc
    if not isinstance(record, dict):
        where = f"{path}:{line_number(path, offset)}"
        raise InputError(f"{where}: expected a JSON object, got {type(record).__name__}")
    return record


def parquet_records(path: Path, shard: int = 0, shards: int = 1) -> Iterator[tuple[str, dict, int]]:
    """(where, record, 1) of the row groups [k*G//N, (k+1)*G//N) of a Parquet file."""
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    lo, hi = byte_range(pf.num_row_groups, shard, shards)
    row = sum(pf.metadata.row_group(g).num_rows for g in range(lo))
    for group in range(lo, hi):
        for record in pf.read_row_group(group).to_pylist():
            yield f"{path} row {row}", record, 1
            row += 1


def raw_records(
    path: str | Path, shard: int = 0, shards: int = 1
) -> Iterator[tuple[str, dict, int]]:
    """(where, record, size) of one input shard: `where` names the file and line (or row),
    `size` is what the record consumed of `shard_size` (bytes of a line, or one row)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: corpus file not found")
    if path.suffix == ".parquet":
        yield from parquet_records(path, shard, shards)
        return
    for offset, raw in jsonl_lines(path, shard, shards):
        record = parse_json_line(path, offset, raw)
        if record is not None:
            yield f"{path} byte {offset}", record, len(raw)


def shard_size(path: str | Path, shard: int, shards: int) -> int:
    """The bytes (or Parquet rows) a shard covers, for progress lines."""
    path = Path(path)
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        meta = pq.ParquetFile(path).metadata
        lo, hi = byte_range(meta.num_row_groups, shard, shards)
        return sum(meta.row_group(g).num_rows for g in range(lo, hi))
    lo, hi = byte_range(os.path.getsize(path), shard, shards)
    return hi - lo


# ---- records -> documents ----------------------------------------------------------------------


def detect_format(record: dict) -> str:
    if "wikipedia_id" in record:
        return "kilt"
    if "contents" in record:
        return "flashrag"
    return "records"


def _flashrag_title(line: str) -> str:
    line = line.strip()
    if len(line) >= 2 and line[0] == line[-1] == '"':
        return line[1:-1]
    return line


def to_document(record: dict, fmt: str, where: str) -> Document | None:
    """A record as a Document; None when it has no id (the caller counts the drop)."""
    if fmt == "auto":
        fmt = detect_format(record)
    if fmt == "kilt":
        doc_id, title = record.get("wikipedia_id"), record.get("wikipedia_title") or ""
        paragraphs, first_body = [str(p) for p in record.get("text") or []], 1
    elif fmt == "flashrag":
        doc_id = record.get("id")
        paragraphs = str(record.get("contents") or "").split("\n")
        title, first_body = _flashrag_title(paragraphs[0]), 1
    elif fmt == "records":
        doc_id, title = record.get("id"), record.get("title") or ""
        text = record.get("text")
        if isinstance(text, list):
            paragraphs = [str(p) for p in text]
        else:
            paragraphs = str(text or "").split("\n")
        first_body = 0
    else:
        raise InputError(f"unknown corpus format {fmt!r}; choose from {CORPUS_FORMATS}")
    if doc_id in (None, ""):
        return None
    return Document(str(doc_id), str(title), paragraphs, first_body, where)


@dataclass
class ReadStats:
    records_in: int = 0
    documents: int = 0
    capped: bool = False
    consumed: int = 0  # of shard_size(): bytes (JSONL) or rows (Parquet) read so far
    dropped: dict[str, int] = field(default_factory=lambda: dict.fromkeys(DROP_REASONS, 0))


def read_documents(
    inputs: list[str | Path],
    fmt: str = "auto",
    shard: int = 0,
    shards: int = 1,
    max_documents: int = 0,
    stats: ReadStats | None = None,
) -> Iterator[Document]:
    """The documents of one corpus part: shard k/N of a single input, or several inputs read
    whole in order (a capped corpus); at most `max_documents` (> 0) documents are kept.

    Drops (no id, no text, an id seen before in this part) are counted in `stats`."""
    if shards > 1 and len(inputs) != 1:
        raise InputError("--shard k/N cuts one input file; give exactly one --input")
    stats = stats if stats is not None else ReadStats()
    seen: set[str] = set()
    for path in inputs:
        for where, record, size in raw_records(path, shard, shards):
            if max_documents and stats.documents >= max_documents:
                stats.capped = True
                return
            stats.records_in += 1
            stats.consumed += size
            doc = to_document(record, fmt, where)
            if doc is None:
                stats.dropped["no_id"] += 1
            elif not doc.has_text():
                stats.dropped["no_text"] += 1
            elif doc.doc_id in seen:
                stats.dropped["duplicate_id"] += 1
            else:
                seen.add(doc.doc_id)
                stats.documents += 1
                yield doc

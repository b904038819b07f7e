"""Nemotron-style chat rows -> canonical text-first Parquet rows (Harmony `text` + meta/quality).

One call normalizes one input shard (JSONL, JSON array or Parquet) into one Parquet file,
streaming in bounded memory (`batch_rows` rows at a time), and writes next to it:
`<part>.stats.json` (rows in = rows out + dropped by reason + quarantined by reason),
`<part>.quarantine.jsonl` (rows that could not be parsed at all, with the error) and
`<part>.tools.jsonl` (tools catalog: `source_tools_id` -> tool schemas, first sighting only).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from distilldata.core.errors import InputError
from distilldata.core.progress import Progress
from distilldata.core.store import atomic_path, write_json
from distilldata.sft.chat_adapters import RowError, stable_json, to_messages
from distilldata.sft.quality import DEFAULT_DROP, QualityConfig, check, drop_reasons, soft_tags
from distilldata.text.harmony import (
    TEMPLATE_VERSION,
    Conversation,
    FunctionTool,
    Message,
    SystemConfig,
)

log = logging.getLogger(__name__)

KINDS = ("math_v2", "math_proofs", "science", "agentic", "if_chat", "chat")
DOMAINS = {
    "math_v2": "math",
    "math_proofs": "proof",
    "science": "science",
    "agentic": "agentic",
    "if_chat": "chat_if",
    "chat": "chat",
}
# Hub ids of the known datasets -> kind (a config can always say `kind:` explicitly).
KNOWN_KINDS = {
    "nvidia/Nemotron-Math-v2": "math_v2",
    "nvidia/Nemotron-Math-Proofs-v1": "math_proofs",
    "nvidia/Nemotron-Science-v1": "science",
    "nvidia/Nemotron-Agentic-v1": "agentic",
    "nvidia/Nemotron-Instruction-Following-Chat-v1": "if_chat",
}
EFFORTS = ("low", "medium", "high")
EVAL_SETTINGS = tuple(f"reason_{e}_{t}" for e in EFFORTS for t in ("with_tool", "no_tool"))

SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("dataset", pa.string()),
        ("subset", pa.string()),
        ("split", pa.string()),
        ("text", pa.string()),
        ("loss_mode", pa.string()),
        ("harmony_template_version", pa.string()),
        ("source_file", pa.string()),
        ("source_row", pa.int64()),
        ("source_uuid", pa.string()),
        ("source_tools_id", pa.string()),
        ("source_tools_count", pa.int32()),
        ("meta_domain", pa.string()),
        ("meta_correctness", pa.float64()),
        ("meta_correctness_high", pa.float64()),
        ("meta_correctness_same_setting", pa.float64()),
        ("meta_pass_k", pa.int32()),
        ("meta_correct_count", pa.int32()),
        ("meta_eval_best_setting", pa.string()),
        ("meta_eval_json", pa.string()),
        ("meta_difficulty_bin", pa.string()),
        ("meta_expected_answer", pa.string()),
        ("meta_data_source", pa.string()),
        ("meta_capability_target", pa.string()),
        ("meta_reasoning", pa.string()),
        ("meta_license", pa.string()),
        ("meta_used_in", pa.list_(pa.string())),
        ("meta_tags", pa.list_(pa.string())),
        ("meta_has_tool_calls", pa.bool_()),
        ("meta_tool_call_count", pa.int32()),
        ("meta_num_turns", pa.int32()),
        ("quality_valid_harmony", pa.bool_()),
        ("quality_completion_nonempty", pa.bool_()),
        ("quality_valid_tool_schema", pa.bool_()),
        ("quality_has_final", pa.bool_()),
        ("quality_final_truncated", pa.bool_()),
        ("quality_special_token_literal", pa.bool_()),
        ("quality_backspace_corruption", pa.bool_()),
        ("quality_unmatched_tool_result", pa.bool_()),
        ("quality_repeated_lines", pa.bool_()),
        ("quality_too_short", pa.bool_()),
        ("quality_too_long", pa.bool_()),
        ("quality_is_duplicate", pa.bool_()),
        ("quality_tags", pa.list_(pa.string())),
        ("stats_char_len", pa.int64()),
        ("stats_approx_tokens", pa.int64()),
        ("stats_completion_chars", pa.int64()),
        ("stats_num_messages", pa.int32()),
        ("stats_unmatched_tool_results", pa.int32()),
    ]
)


@dataclass(frozen=True)
class DatasetSpec:
    """How to normalize one dataset (one config entry)."""

    dataset: str
    kind: str = "chat"
    subset: str = "default"
    loss_mode: str = "assistant_all"
    system: SystemConfig = field(default_factory=SystemConfig)
    effort_from_split: bool = False
    builtin_python_tools: tuple[str, ...] = ("stateful_python_code_exec", "python")
    stringify_content: bool = True  # False: strict, quarantine rows with non-string content
    uuid_is_problem_id: bool = False
    drop: tuple[str, ...] = DEFAULT_DROP
    quality: QualityConfig = field(default_factory=QualityConfig)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise InputError(f"unknown dataset kind {self.kind!r}; expected one of {KINDS}")


def kind_for(dataset: str) -> str:
    return KNOWN_KINDS.get(dataset, "chat")


# ---- reading ----------------------------------------------------------------------------------


def iter_source_rows(path: str | Path) -> Iterator[tuple[int, dict | None, str | None, str]]:
    """(row number, row or None, error reason or None, raw text for quarantine), streaming."""
    path = Path(path)
    name = path.name
    if name.endswith(".parquet"):
        pf = pq.ParquetFile(path)
        n = 0
        for batch in pf.iter_batches(batch_size=1000):
            for row in batch.to_pylist():
                yield n, row, None, ""
                n += 1
        return
    if name.endswith(".json"):
        # A JSON array (ShareGPT demo files): small by nature, read whole.
        try:
            rows = json.loads(path.read_bytes())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"{path}: not a JSON array file ({exc})") from None
        if not isinstance(rows, list):
            raise InputError(f"{path}: expected a JSON array of rows")
        for n, row in enumerate(rows):
            if isinstance(row, dict):
                yield n, row, None, ""
            else:
                yield n, None, "not_an_object", stable_json(row)[:2000]
        return
    opener = gzip.open if name.endswith(".gz") else open
    with opener(path, "rb") as fh:
        for n, raw in enumerate(fh):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                yield n, None, "invalid_utf8", raw.decode("utf-8", "replace")[:2000]
                continue
            if not line.strip():
                yield n, None, "empty_line", ""
                continue
            try:
                row = json.loads(line)
            except (json.JSONDecodeError, RecursionError):
                yield n, None, "invalid_json", line[:2000]
                continue
            if not isinstance(row, dict):
                yield n, None, "not_an_object", line[:2000]
                continue
            yield n, row, None, ""


class _RowRate:
    """Progress for inputs of unknown length (JSONL): rows done and rate, every `every` s."""

    def __init__(self, logger: logging.Logger, every: float):
        self.logger, self.every, self.done = logger, every, 0
        self.start = self._last = time.monotonic()

    def update(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if now - self._last >= self.every:
            self._last = now
            rate = self.done / max(now - self.start, 1e-9)
            self.logger.info("%s rows (%s rows/s)", f"{self.done:,}", f"{rate:,.0f}")


def known_rows(path: Path) -> int | None:
    """Row count when the file says it (Parquet footer); None for JSON/JSONL."""
    if path.name.endswith(".parquet"):
        return pq.ParquetFile(path).metadata.num_rows
    return None


# ---- metadata per dataset kind ----------------------------------------------------------------


def split_effort(split: str) -> str | None:
    head = split.split("_")[0].lower()
    return head if head in EFFORTS else None


def math_v2_meta(row: dict, split: str, uses_tools: bool) -> dict:
    """Correctness policy: best accuracy over the eval settings present (best-case solvability),
    plus the high-effort best and the row's own setting (effort from split, tool from `tools`)."""
    meta = row.get("metadata")
    if isinstance(meta, str):
        try:
            meta = json.loads(meta)
        except json.JSONDecodeError:
            meta = None
    out: dict[str, Any] = {
        "meta_expected_answer": _str_or_none(row.get("expected_answer")),
        "meta_data_source": _str_or_none(row.get("data_source")),
        "meta_difficulty_bin": split_effort(split),
    }
    if not isinstance(meta, dict):
        return out
    accuracy: dict[str, tuple[float, int | None, int | None]] = {}
    for key, block in meta.items():
        if not (key.startswith("reason_") and isinstance(block, dict)):
            continue
        count, passed, acc = block.get("count"), block.get("pass"), block.get("accuracy")
        if not isinstance(acc, int | float) and isinstance(count, int) and count > 0:
            acc = passed / count if isinstance(passed, int) else None
        if isinstance(acc, int | float):
            accuracy[key] = (float(acc), _int_or_none(count), _int_or_none(passed))
    out["meta_eval_json"] = stable_json(meta)
    if not accuracy:
        return out
    best = max(sorted(accuracy), key=lambda k: accuracy[k][0])
    out.update(
        meta_correctness=accuracy[best][0],
        meta_eval_best_setting=best,
        meta_pass_k=accuracy[best][1],
        meta_correct_count=accuracy[best][2],
    )
    high = [
        accuracy[k][0] for k in ("reason_high_with_tool", "reason_high_no_tool") if k in accuracy
    ]
    out["meta_correctness_high"] = max(high) if high else None
    effort = split_effort(split)
    if effort:
        own = f"reason_{effort}_{'with_tool' if uses_tools else 'no_tool'}"
        out["meta_correctness_same_setting"] = accuracy.get(own, (None,))[0]
    return out


def proofs_messages(row: dict) -> list[dict] | None:
    """Proofs rows with empty `messages`: prompt = problem + Lean header, completion = the
    formal statement (Lean 4)."""
    problem, statement = row.get("problem"), row.get("formal_statement")
    if not isinstance(problem, str) or not isinstance(statement, str):
        return None
    header = row.get("lean_header") or ""
    prompt = problem
    if header:
        prompt += f"\n\nUse this Lean 4 header:\n```lean4\n{header}\n```"
    prompt += "\n\nState the problem as a Lean 4 theorem."
    return [
        {"role": "user", "content": prompt},
        {"role": "assistant", "content": f"```lean4\n{statement}\n```"},
    ]


def _str_or_none(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else stable_json(value)


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str_list(value: Any) -> list[str] | None:
    if not isinstance(value, list):
        return None
    return [v if isinstance(v, str) else stable_json(v) for v in value]


# ---- building the Harmony conversation --------------------------------------------------------


@dataclass
class Built:
    conversation: Conversation
    contents: list[str]
    tool_calls: int = 0
    malformed_calls: int = 0
    uses_python: bool = False
    unmatched_results: int = 0


@dataclass
class PendingCalls:
    """Tool calls still waiting for their result. A result is paired by `tool_call_id`, then by
    name, then (a result with neither) by order; a result that pairs with no call is counted in
    `unmatched` and rendered under its own name (`functions.unknown` without one), never under
    another call's."""

    builtin: set[str]
    calls: list[dict] = field(default_factory=list)
    unmatched: int = 0

    def add(self, call: dict) -> None:
        self.calls.append(call)

    def _same_tool(self, call: dict, name: str) -> bool:
        if call["name"] in self.builtin:
            return name in self.builtin or name == "python"
        return call["name"] == name

    def _find(self, result: dict) -> dict | None:
        call_id, name = result.get("tool_call_id"), result.get("name")
        if call_id:
            for call in self.calls:
                if call.get("id") == call_id:
                    return call
        if name:
            return next((c for c in self.calls if self._same_tool(c, name)), None)
        with_ids = call_id and any(c.get("id") for c in self.calls)
        return self.calls[0] if self.calls and not with_ids else None

    def pair(self, result: dict) -> str | None:
        """The tool name to render `result` under (None: unknown)."""
        call = self._find(result)
        if call is None:
            self.unmatched += 1
            return result.get("name")
        self.calls.remove(call)
        return call["name"]


def build_conversation(
    messages: list[dict], tools: list[dict], spec: DatasetSpec, effort: str | None
) -> Built:
    """Canonical messages -> Harmony Conversation (see README: role/channel mapping)."""
    builtin = set(spec.builtin_python_tools)
    uses_python = any(t["name"] in builtin for t in tools) or any(
        c["name"] in builtin for m in messages for c in m["tool_calls"]
    )
    functions = tuple(
        FunctionTool(t["name"], t["description"], t["parameters"])
        for t in tools
        if t["name"] not in builtin
    )
    instructions = [m["content"] for m in messages if m["role"] in ("system", "developer")]
    instructions = [s for s in instructions if s.strip()]
    out: list[Message] = []
    contents: list[str] = list(instructions)
    pending = PendingCalls(builtin)
    calls = malformed = 0
    for m in messages:
        role = m["role"]
        if role in ("system", "developer"):
            continue
        if role == "user":
            out.append(Message("user", m["content"]))
            contents.append(m["content"])
        elif role == "assistant":
            if m["reasoning_content"]:
                out.append(Message("assistant", m["reasoning_content"], "analysis"))
                contents.append(m["reasoning_content"])
            if m["content"]:
                channel = "commentary" if m["tool_calls"] else "final"
                out.append(Message("assistant", m["content"], channel))
                contents.append(m["content"])
            for call in m["tool_calls"]:
                calls += 1
                contents.append(call["arguments"])
                pending.add(call)
                if call["name"] in builtin:
                    code, ok = _python_code(call["arguments"])
                    malformed += not ok
                    out.append(Message("assistant", code, "analysis", "python"))
                else:
                    out.append(
                        Message(
                            "assistant",
                            call["arguments"],
                            "commentary",
                            f"functions.{call['name']}",
                            "<|constrain|>json",
                        )
                    )
        elif role == "tool":
            name = pending.pair(m)
            contents.append(m["content"])
            if name in builtin or name == "python":
                out.append(Message("python", m["content"], "analysis", "assistant"))
            else:
                out.append(
                    Message(
                        f"functions.{name or 'unknown'}", m["content"], "commentary", "assistant"
                    )
                )
    system = SystemConfig(
        identity=spec.system.identity,
        knowledge_cutoff=spec.system.knowledge_cutoff,
        date=spec.system.date,
        reasoning_effort=effort or spec.system.reasoning_effort,
        channels=spec.system.channels,
        python_tool=uses_python,
    )
    convo = Conversation(
        tuple(out), system, "\n\n".join(instructions) if instructions else None, functions
    )
    return Built(convo, contents, calls, malformed, uses_python, pending.unmatched)


def _python_code(arguments: str) -> tuple[str, bool]:
    try:
        parsed = json.loads(arguments)
    except (json.JSONDecodeError, RecursionError):
        return arguments, False
    if isinstance(parsed, dict) and isinstance(parsed.get("code"), str):
        return parsed["code"], True
    return arguments, isinstance(parsed, dict)


# ---- one row ----------------------------------------------------------------------------------


def tools_id(tools: list[dict]) -> str:
    return hashlib.sha1(stable_json(tools).encode("utf-8")).hexdigest()


def row_id(row: dict, spec: DatasetSpec) -> tuple[str, str | None]:
    """(id, source uuid). uuid when present; else (or with `uuid_is_problem_id`, suffixed) a
    sha256 of the canonical row (all fields, sorted keys)."""
    uuid = row.get("uuid")
    uuid = uuid if isinstance(uuid, str) and uuid else None
    if uuid and not spec.uuid_is_problem_id:
        return uuid, uuid
    canonical = {k: v for k, v in row.items() if k != "uuid"}
    digest = hashlib.sha256(stable_json(canonical).encode("utf-8")).hexdigest()
    return (f"{uuid}:{digest[:12]}" if uuid else f"h:{digest[:32]}"), uuid


def normalize_row(row: dict, spec: DatasetSpec, split: str) -> tuple[dict, list[dict], dict]:
    """(record, tools, notes) for one source row; raises RowError when it cannot be parsed."""
    if spec.kind == "math_proofs" and not row.get("messages"):
        built_from = proofs_messages(row)
        if built_from is None:
            raise RowError("missing_messages", "proof row without messages or problem/statement")
        row = {**row, "messages": built_from}
    messages, tools, stringified = to_messages(row, stringify=spec.stringify_content)
    if not any(m["role"] == "assistant" for m in messages):
        raise RowError("no_assistant", "conversation has no assistant message")
    effort = split_effort(split) if spec.effort_from_split else None
    built = build_conversation(messages, tools, spec, effort)
    text = built.conversation.render()
    rendered = built.conversation.all_messages()
    declared = {t.name for t in built.conversation.tools} if tools else None
    flags = check(
        text,
        rendered,
        built.contents,
        declared,
        built.malformed_calls,
        spec.quality,
        built.unmatched_results,
    )
    rid, uuid = row_id(row, spec)
    record: dict[str, Any] = {
        "id": rid,
        "dataset": spec.dataset,
        "subset": spec.subset,
        "split": split,
        "text": text,
        "loss_mode": spec.loss_mode,
        "harmony_template_version": TEMPLATE_VERSION,
        "source_uuid": uuid,
        "source_tools_id": tools_id(tools) if tools else None,
        "source_tools_count": len(tools),
        "meta_domain": DOMAINS[spec.kind],
        "meta_license": _str_or_none(row.get("license")),
        "meta_used_in": _str_list(row.get("used_in")),
        "meta_has_tool_calls": built.tool_calls > 0,
        "meta_tool_call_count": built.tool_calls,
        "meta_num_turns": sum(m["role"] == "user" for m in messages),
        "quality_is_duplicate": False,
        **flags,
    }
    if spec.kind == "math_v2":
        record.update(math_v2_meta(row, split, bool(tools) or built.uses_python))
    elif spec.kind == "math_proofs":
        record["meta_data_source"] = _str_or_none(row.get("source"))
    elif spec.kind == "if_chat":
        record["meta_capability_target"] = _str_or_none(row.get("capability_target"))
    if row.get("reasoning") is not None:
        record["meta_reasoning"] = _str_or_none(row.get("reasoning"))
    tags = [split]
    if built.tool_calls:
        tags.append("tool_use")
    if record.get("meta_data_source"):
        tags.append(str(record["meta_data_source"]))
    record["meta_tags"] = tags
    notes = {"missing_uuid": uuid is None, "stringified_content": stringified > 0}
    return record, tools, notes


# ---- one shard --------------------------------------------------------------------------------


@dataclass
class ShardPaths:
    parquet: Path
    stats: Path
    quarantine: Path
    tools: Path

    @classmethod
    def for_part(
        cls,
        parquet: str | Path,
        stats: str | Path | None = None,
        quarantine: str | Path | None = None,
        tools: str | Path | None = None,
    ) -> ShardPaths:
        """The files of one output shard; sidecars default to `<part>.stats.json` etc."""
        parquet = Path(parquet)
        stem = parquet.with_suffix("")
        return cls(
            parquet,
            Path(stats or f"{stem}.stats.json"),
            Path(quarantine or f"{stem}.quarantine.jsonl"),
            Path(tools or f"{stem}.tools.jsonl"),
        )


@dataclass
class ShardCounts:
    """What one shard's rows became: every row in is out, dropped or quarantined."""

    rows_in: int = 0
    rows_out: int = 0
    dropped: Counter = field(default_factory=lambda: Counter())
    quarantined: Counter = field(default_factory=lambda: Counter())
    tags: Counter = field(default_factory=lambda: Counter())
    notes: Counter = field(default_factory=lambda: Counter())

    def check(self, source: Path) -> None:
        """A real error (not an assert, which `python -O` removes) when rows went missing."""
        removed = sum(self.dropped.values()) + sum(self.quarantined.values())
        if self.rows_in != self.rows_out + removed:
            raise RuntimeError(
                f"{source}: rows in ({self.rows_in}) != rows out ({self.rows_out}) + dropped "
                f"{dict(self.dropped)} + quarantined {dict(self.quarantined)}; nothing written"
            )


def _quarantine_entry(source: Path, n: int, reason: str, detail: str | None, raw: str) -> str:
    entry = {"source_file": source.name, "source_row": n, "reason": reason, "error": detail}
    return json.dumps({**entry, "raw": raw}, ensure_ascii=False) + "\n"


def _outcome(row: dict | None, error: str | None, raw: str, spec: DatasetSpec, split: str):
    """("quarantined", (reason, detail, raw)) or ("normalized", (record, tools, notes))."""
    if row is None:
        return "quarantined", (error, error, raw)
    try:
        return "normalized", normalize_row(row, spec, split)
    except RowError as exc:
        return "quarantined", (exc.reason, exc.detail, _raw(row))


def normalize_shard(
    source: str | Path,
    output: str | Path | ShardPaths,
    spec: DatasetSpec,
    split: str,
    max_records: int | None = None,
    batch_rows: int = 1000,
) -> dict:
    """Normalize one input shard into `output` (a Parquet path, its sidecars beside it, or
    explicit `ShardPaths`) + stats/quarantine/tools files, each renamed into place only when
    the whole shard is done. Returns the stats."""
    source = Path(source)
    if not source.exists():
        raise InputError(f"input shard {source} does not exist")
    paths = output if isinstance(output, ShardPaths) else ShardPaths.for_part(output)
    started = time.monotonic()
    counts = ShardCounts()
    seen_tools: set[str] = set()
    batch: list[dict] = []
    total = max_records or known_rows(source)
    progress = Progress(total, "rows", log, every=30.0) if total else _RowRate(log, 30.0)
    with (
        atomic_path(paths.parquet) as parquet_tmp,
        atomic_path(paths.quarantine) as quarantine_tmp,
        atomic_path(paths.tools) as tools_tmp,
        pq.ParquetWriter(parquet_tmp, SCHEMA, compression="zstd") as writer,
        open(quarantine_tmp, "w", encoding="utf-8") as quarantine,
        open(tools_tmp, "w", encoding="utf-8") as catalog,
    ):
        for n, row, error, raw in iter_source_rows(source):
            if max_records is not None and counts.rows_in >= max_records:
                break
            counts.rows_in += 1
            progress.update(1)
            kind, value = _outcome(row, error, raw, spec, split)
            if kind == "quarantined":
                counts.quarantined[value[0]] += 1
                quarantine.write(_quarantine_entry(source, n, *value))
                continue
            record, tools, row_notes = value
            counts.notes.update(k for k, v in row_notes.items() if v)
            record["quality_tags"] = soft_tags(record)
            counts.tags.update(record["quality_tags"])
            reasons = drop_reasons(record, spec.drop)
            if reasons:
                counts.dropped[reasons[0]] += 1
                continue
            if tools and record["source_tools_id"] not in seen_tools:
                seen_tools.add(record["source_tools_id"])
                entry = {"source_tools_id": record["source_tools_id"], "tools": tools}
                catalog.write(json.dumps(entry) + "\n")
            batch.append({**record, "source_file": source.name, "source_row": n})
            counts.rows_out += 1
            if len(batch) >= batch_rows:
                writer.write_table(pa.Table.from_pylist(batch, schema=SCHEMA))
                batch.clear()
        if batch or counts.rows_out == 0:
            writer.write_table(pa.Table.from_pylist(batch, schema=SCHEMA))
        counts.check(source)
    stats = _shard_stats(source, paths, spec, split, counts, time.monotonic() - started)
    write_json(paths.stats, stats)
    log.info(
        "%s: %d rows in, %d out, dropped %s, quarantined %s",
        source.name,
        counts.rows_in,
        counts.rows_out,
        dict(counts.dropped),
        dict(counts.quarantined),
    )
    return stats


def _shard_stats(
    source: Path, paths: ShardPaths, spec: DatasetSpec, split: str, c: ShardCounts, seconds: float
) -> dict:
    return {
        "source": str(source),
        "output": str(paths.parquet),
        "dataset": spec.dataset,
        "split": split,
        "rows_in": c.rows_in,
        "rows_out": c.rows_out,
        "dropped": dict(sorted(c.dropped.items())),
        "quarantined": dict(sorted(c.quarantined.items())),
        "tags": dict(sorted(c.tags.items())),
        "notes": dict(sorted(c.notes.items())),
        "drop_reasons_enabled": list(spec.drop),
        "seconds": round(seconds, 3),
        "rows_per_s": round(c.rows_in / seconds, 1) if seconds > 0 else None,
    }


def _raw(row: dict) -> str:
    try:
        return stable_json(row)[:2000]
    except (TypeError, ValueError):
        return repr(row)[:2000]


def part_path(out_dir: str | Path, split: str, part: int, total: int, hf_layout: bool) -> Path:
    """`<out>/<split>/part-NNNNN.parquet`, or the Hub's `<out>/data/<split>-NNNNN-of-MMMMM`."""
    if hf_layout:
        return Path(out_dir) / "data" / f"{split}-{part:05d}-of-{total:05d}.parquet"
    return Path(out_dir) / split / f"part-{part:05d}.parquet"


def write_readme(
    out_dir: str | Path, spec: DatasetSpec, splits: list[str], hf_layout: bool
) -> Path:
    """A dataset card whose `configs` point the Hub viewer at the Parquet shards."""
    pattern = "data/{split}-*.parquet" if hf_layout else "{split}/part-*.parquet"
    files = "\n".join(
        f"  - split: {s}\n    path: {pattern.format(split=s)}" for s in sorted(splits)
    )
    text = (
        f"---\nconfigs:\n- config_name: {spec.subset}\n  data_files:\n{files}\n---\n\n"
        f"# {spec.dataset} (normalized)\n\n"
        f"Text-first rows rendered to Harmony ({TEMPLATE_VERSION}) by distilldata's "
        "`normalize_dataset.py`, with `id`, `loss_mode`, `meta_*`, `quality_*` and `stats_*` "
        "columns. `source_file`/`source_row`/`source_uuid` trace every row to its source; "
        "`*.tools.jsonl` maps `source_tools_id` to the tool schemas. Licence: the source "
        "dataset's.\n"
    )
    path = Path(out_dir) / "README.md"
    with atomic_path(path) as tmp:
        tmp.write_text(text, "utf-8")
    return path


def normalize_dataset(
    spec: DatasetSpec,
    files_by_split: dict[str, list[Path]],
    out_dir: str | Path,
    hf_layout: bool = False,
    readme: bool = False,
    max_records: int | None = None,
) -> list[dict]:
    """Every shard of a dataset, one after the other (by hand; the workflow runs one per job)."""
    all_stats = []
    for split, files in sorted(files_by_split.items()):
        for part, source in enumerate(files):
            output = part_path(out_dir, split, part, len(files), hf_layout)
            all_stats.append(normalize_shard(source, output, spec, split, max_records))
    if readme:
        write_readme(out_dir, spec, list(files_by_split), hf_layout)
    return all_stats


def merge_tools_catalogs(parts: list[str | Path], output: str | Path) -> dict:
    """The per-dataset tools catalog: `source_tools_id -> tools` from every shard's
    `*.tools.jsonl` (first sighting wins; ids are content hashes, so sightings agree)."""
    catalog: dict[str, list] = {}
    for path in parts:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                entry = json.loads(line)
                catalog.setdefault(entry["source_tools_id"], entry["tools"])
    write_json(output, dict(sorted(catalog.items())))
    return catalog

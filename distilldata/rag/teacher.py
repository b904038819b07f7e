"""Teacher answers: one per query, from its documents, through the shared LLM layer.

Work layout (`distilldata.llm.cache`): the queries of `documents.parquet` are put in a fixed
order, sha1(seed, qid), and the first `max_queries` taken (0 = all), so the sample is
deterministic, the same in every shard, and grows by appending when `max_queries` grows (the
groups of a smaller sample stay valid cache files). That list is cut into groups of `group_size`
queries; shard k of N takes a contiguous run of whole groups (`shard_plan`). Each group is one
cache file keyed by a digest of its rows (query and documents) under a labeler fingerprint of
every setting that decides the answer (`TeacherSettings.fingerprint`), so a killed job redoes at
most the group it was in, and changed rows or settings are never served stale. The model loads on
the first cache miss only.

Generation follows ScaleDown's `TeacherLLM` (`scaledown/data/teacher.py`) by default: sampling
with temperature 0.7, top-p 0.9, 128 new tokens; `decoding="greedy"` is the deterministic option.
Sampling is reseeded per group from (seed, group start), so a redone group gets the same answers.
ScaleDown generates one query at a time; here a group's prompts go to the completer together
(transformers: batches sorted by token length). The answer is the new text cut at the model's
end of turn, stripped (ScaleDown decodes with `skip_special_tokens=True` and strips).
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from distilldata.core.errors import InputError
from distilldata.core.progress import Progress
from distilldata.core.store import write_parquet
from distilldata.llm.cache import GroupCache, digest_rows, labeler_name, shard_plan
from distilldata.llm.completion import Completer, GenerationSettings, make_completer
from distilldata.rag.chunk_lookup import check_columns
from distilldata.rag.cli_flags import SCALEDOWN_TEACHER as DEFAULT_TEACHER
from distilldata.rag.prompts import PROMPT_KINDS, PROMPT_VERSION, Document, PromptBuilder

log = logging.getLogger(__name__)

BACKENDS = ("transformers", "vllm", "openai", "none")
DECODINGS = ("greedy", "sample")
# End-of-turn markers of common chat formats (ChatML, Llama 3, plain EOS); the answer ends there.
END_OF_TURN = ["<|im_end|>", "<|eot_id|>", "<|endoftext|>", "</s>"]
ROW_KEYS = ("qid", "query", "chunk_ids", "titles", "texts")  # what a group's answers depend on
SPLIT = "queries"  # the one "split" of the shard plan
ANSWERS_SCHEMA = pa.schema(
    [
        ("qid", pa.string()),
        ("answer", pa.string()),
        ("prompt_kind", pa.string()),
        ("prompt_tokens", pa.int32()),
        ("documents_in_prompt", pa.int32()),
        ("teacher_model", pa.string()),
        ("generation", pa.string()),
    ]
)
INFO_KEY = b"distilldata.answers"
ANSWER_ENGINE_KWARGS = ("dtype", "quantization", "kv_cache_dtype")


@dataclass
class TeacherSettings:
    """Everything that decides a teacher answer, plus engine knobs (batch size, device, URL)."""

    backend: str = "transformers"
    model: str = DEFAULT_TEACHER
    prompt: str = "scaledown"
    decoding: str = "sample"
    temperature: float = 0.7
    top_p: float = 0.9
    max_new_tokens: int = 128
    max_prompt_tokens: int = 2048
    num_documents: int = 0
    seed: int = 42
    load_in_8bit: bool = False
    batch_size: int = 8
    device: str | None = None
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    engine_kwargs: dict = field(default_factory=dict)

    def check(self) -> None:
        if self.backend not in BACKENDS:
            raise InputError(f"--teacher_backend {self.backend!r}: use one of {BACKENDS}")
        if self.prompt not in PROMPT_KINDS:
            raise InputError(f"--prompt {self.prompt!r}: use one of {PROMPT_KINDS}")
        if self.decoding not in DECODINGS:
            raise InputError(f"--decoding {self.decoding!r}: use one of {DECODINGS}")
        if self.decoding == "sample" and self.temperature <= 0:
            raise InputError("--decoding sample needs --temperature > 0 (or use --decoding greedy)")
        if self.load_in_8bit and self.backend != "transformers":
            raise InputError(
                f"--teacher_8bit is for the transformers backend (bitsandbytes); with "
                f"{self.backend} quantise in the engine or serve a quantised model instead"
            )
        for name in ("max_new_tokens", "batch_size"):
            if getattr(self, name) <= 0:
                raise InputError(f"--{name} must be positive")

    def generation(self) -> dict:
        """The settings that decide the answer (stored with every answer, and hashed)."""
        sampled = self.decoding == "sample"
        return {
            "backend": self.backend,
            "model": self.model,
            "prompt": self.prompt,
            "prompt_version": PROMPT_VERSION,
            "decoding": self.decoding,
            "temperature": self.temperature if sampled else 0.0,
            "top_p": self.top_p if sampled else 1.0,
            "seed": self.seed if sampled else None,
            "max_new_tokens": self.max_new_tokens,
            "max_prompt_tokens": self.max_prompt_tokens,
            "num_documents": self.num_documents,
            "load_in_8bit": self.load_in_8bit,
            # of vLLM's engine arguments, those that change the numbers (not e.g. parallelism)
            **{k: self.engine_kwargs[k] for k in ANSWER_ENGINE_KWARGS if k in self.engine_kwargs},
        }

    def fingerprint(self) -> str:
        return labeler_name(
            self.backend, self.model, self.generation(), digits=10, tags=[self.prompt]
        )

    def completer_settings(self) -> GenerationSettings:
        sampled = self.decoding == "sample"
        return GenerationSettings(
            model=self.model,
            max_tokens=self.max_new_tokens,
            temperature=self.temperature if sampled else 0.0,
            top_p=self.top_p if sampled else 1.0,
            stop_tokens=list(END_OF_TURN),
            seed=self.seed,
            generate_batch_size=self.batch_size,
            device=self.device,
            base_url=self.base_url,
            api_key_env=self.api_key_env,
            max_model_len=self.max_prompt_tokens + self.max_new_tokens,
            load_in_8bit=self.load_in_8bit,
            engine_kwargs=self.engine_kwargs,
        )


def sample_order(qids: list[str], seed: int, max_queries: int = 0) -> list[int]:
    """Row positions ordered by sha1(seed, qid), the first `max_queries` (0 = all): the sample of
    N is a prefix of the sample of N + 1."""
    if max_queries < 0:
        raise InputError(f"--max_queries {max_queries}: use 0 (all) or a positive N")
    keys = [hashlib.sha1(f"{seed}\0{q}".encode()).hexdigest() for q in qids]
    order = sorted(range(len(qids)), key=lambda i: (keys[i], i))
    return order[:max_queries] if max_queries else order


def group_seed(seed: int, start: int) -> int:
    """The sampling seed of the group that starts at `start` (stable across runs and shards)."""
    return int(hashlib.sha1(f"{seed}:{start}".encode()).hexdigest()[:8], 16)


class Teacher:
    """Answers rows `{qid, query, titles, texts}` with one completer, loaded on first use."""

    def __init__(self, settings: TeacherSettings, completer: Completer | None = None):
        settings.check()
        self.settings = settings
        self.completer = completer
        self.owns_completer = completer is None  # close only what this teacher started
        self.builder: PromptBuilder | None = None
        self.cut_prompts = 0

    def load(self) -> PromptBuilder:
        """Load the completer and its tokenizer (once); the prompt builder that uses it."""
        if self.builder is None:
            s = self.settings
            self.completer = self.completer or make_completer(s.backend, s.completer_settings())
            self.completer.load()
            self.builder = PromptBuilder(
                self.completer.tokenizer, s.prompt, s.max_prompt_tokens, s.num_documents
            )
        return self.builder

    def answer(self, rows: list[dict], seed: int) -> dict[str, dict]:
        """`{qid: {answer, prompt_tokens, documents_in_prompt}}` for the rows."""
        if self.settings.backend == "none":
            n = self.settings.num_documents
            return {
                r["qid"]: {
                    "answer": None,
                    "prompt_tokens": None,
                    "documents_in_prompt": min(n, len(r["texts"])) if n else len(r["texts"]),
                }
                for r in rows
            }
        builder = self.load()
        prompts = [
            builder.build(
                r["query"],
                [Document(t or "", x) for t, x in zip(r["titles"], r["texts"], strict=True)],
            )
            for r in rows
        ]
        self.cut_prompts += sum(p.cut for p in prompts)
        texts = self.completer.complete([p.text for p in prompts], seed=seed)
        if len(texts) != len(prompts):
            raise RuntimeError(f"{self.completer.name}: {len(texts)} answers for {len(prompts)}")
        return {
            r["qid"]: {
                "answer": text.strip(),
                "prompt_tokens": p.tokens,
                "documents_in_prompt": p.documents,
            }
            for r, p, text in zip(rows, prompts, texts, strict=True)
        }

    def close(self) -> None:
        if self.owns_completer and self.completer is not None:
            self.completer.close()

    def stats(self) -> dict:
        return {
            "model_loaded": self.builder is not None,
            "prompts_cut_to_budget": self.cut_prompts,
            "system_turn_folded": bool(self.builder and self.builder.fold),
        }


def read_documents(path: str | Path) -> pa.Table:
    check_columns(path, ROW_KEYS, "documents")
    return pq.read_table(path, columns=list(ROW_KEYS))


def cached_groups(
    table: pa.Table, order: list[int], plan: list, cache: GroupCache | None
) -> tuple[dict[int, dict], dict[int, str]]:
    """The answers of the plan's groups found in the cache, and every group's row digest (both
    by group start)."""
    cached, digests = {}, {}
    for _, start, end in plan:
        digests[start] = digest = digest_rows(table.take(order[start:end]).to_pylist(), ROW_KEYS)
        hit = cache.load(SPLIT, start, end, digest) if cache else None
        if hit is not None:
            cached[start] = hit
    return cached, digests


def answer_shard(
    documents_path: str | Path,
    output_path: str | Path,
    settings: TeacherSettings,
    shard: int = 0,
    shards: int = 1,
    max_queries: int = 0,
    group_size: int = 64,
    cache_root: str | Path = "resources/rag/cache",
    completer: Completer | None = None,
) -> dict:
    """Answer shard `shard` of `shards` of the sampled queries and write its Parquet file."""
    teacher = Teacher(settings, completer)
    table = read_documents(documents_path)
    order = sample_order(table.column("qid").to_pylist(), settings.seed, max_queries)
    plan = shard_plan({SPLIT: len(order)}, group_size, shard, shards)
    cache = GroupCache(cache_root, Path(documents_path).parent.name, settings.fingerprint())
    use_cache = settings.backend != "none"  # nothing to save: answers are null
    cached, digests = cached_groups(table, order, plan, cache if use_cache else None)
    to_do = sum(e - s for _, s, e in plan if s not in cached)
    log.info(
        "shard %d/%d: %d of %d sampled queries in %d group(s), %d cached, %d to answer",
        shard, shards, sum(e - s for _, s, e in plan), len(order), len(plan), len(cached), to_do,
    )  # fmt: skip
    progress = Progress(to_do, "answers", log)
    started = time.monotonic()
    out: list[dict] = []
    generation = json.dumps(settings.generation(), sort_keys=True)
    try:
        for _, start, end in plan:
            rows = table.take(order[start:end]).to_pylist()
            result = cached.get(start)
            if result is None:
                result = teacher.answer(rows, group_seed(settings.seed, start))
                if use_cache:
                    cache.save(SPLIT, start, end, digests[start], result)
                progress.update(end - start)
            for row in rows:
                answer = result[row["qid"]]
                out.append(
                    {
                        "qid": row["qid"],
                        **answer,
                        "prompt_kind": settings.prompt,
                        "teacher_model": settings.model,
                        "generation": generation,
                    }
                )
    finally:
        teacher.close()
    seconds = time.monotonic() - started
    stats = {
        "shard": shard,
        "shards": shards,
        "group_size": group_size,
        "max_queries": max_queries,
        "seed": settings.seed,
        "documents_rows": table.num_rows,
        "sampled": len(order),
        "rows": len(out),
        "groups": len(plan),
        "groups_cached": len(cached),
        "answers_computed": to_do,
        "seconds": round(seconds, 3),
        "answers_per_second": round(to_do / seconds, 3) if to_do and seconds > 0 else None,
        "fingerprint": settings.fingerprint(),
        "generation": settings.generation(),
        **teacher.stats(),
    }
    result_table = pa.Table.from_pylist(out, schema=ANSWERS_SCHEMA)
    metadata = {INFO_KEY: json.dumps(stats, ensure_ascii=False).encode()}
    write_parquet(result_table.replace_schema_metadata(metadata), output_path)
    log.info("wrote %s: %d answers (%d computed)", output_path, len(out), to_do)
    return stats


def answers_info(schema: pa.Schema) -> dict:
    """The run summary an answers shard carries ({} for a file without one)."""
    raw = (schema.metadata or {}).get(INFO_KEY)
    return json.loads(raw) if raw else {}


# ---- the seed's Python API ----------------------------------------------------------------------


def generate_teacher_answers(
    queries_with_docs: list[dict],
    teacher_model_name: str = DEFAULT_TEACHER,
    max_new_tokens: int = 128,
    load_in_8bit: bool = False,
    completer: Completer | None = None,
    **settings,
) -> list[dict]:
    """Copies of `[{"query", "documents": [{"title", "text"}, ...], ...}]` with `answer` added,
    as ScaleDown's `generate_teacher_answers` returns them. Other keyword arguments are
    `TeacherSettings` fields (backend, prompt, decoding, temperature, top_p, seed, ...)."""
    known = set(TeacherSettings.__dataclass_fields__)
    unknown = sorted(set(settings) - known)
    if unknown:
        raise TypeError(f"unknown teacher setting(s) {unknown}; use {sorted(known)}")
    config = TeacherSettings(
        model=teacher_model_name,
        max_new_tokens=max_new_tokens,
        load_in_8bit=load_in_8bit,
        **settings,
    )
    teacher = Teacher(config, completer)
    rows = [
        {
            "qid": str(i),
            "query": item["query"],
            "titles": [d.get("title") or "" for d in item["documents"]],
            "texts": [d["text"] for d in item["documents"]],
        }
        for i, item in enumerate(queries_with_docs)
    ]
    answers = {}
    progress = Progress(len(rows), "answers", log)
    step = max(1, config.batch_size) * 8  # completer calls of a few batches each
    try:
        for start in range(0, len(rows), step):
            answers |= teacher.answer(rows[start : start + step], group_seed(config.seed, start))
            progress.update(min(step, len(rows) - start))
    finally:
        teacher.close()
    results = []
    for i, item in enumerate(queries_with_docs):
        record = copy.deepcopy(item)
        record["answer"] = answers[str(i)]["answer"]
        results.append(record)
    return results

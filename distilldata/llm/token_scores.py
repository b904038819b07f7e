"""The negative log-likelihood of chosen tokens of a text under a causal LM, behind one small
interface chosen by name: `local` (transformers) or `vllm` (prompt logprobs).

A `TokenSequence` is token ids plus a boolean `scored` mask (token t is a target, predicted
from position t - 1); a scorer returns each sequence's summed NLL over its targets and their
count. Knows no text format: callers build the masks (`distilldata.llm.token_masks`).

- `local`: `AutoModelForCausalLM` on CPU (float32) or GPU (bfloat16). The model body runs once
  per token; the output head and the cross-entropy run only at the positions before scored
  tokens, in chunks of `logits_chunk` positions, so the full-vocabulary logits of a sequence
  never exist at once. Callers cut sequences after their last scored token. Three batchings:
  `prefix` (CPU default: sequences in token order, one at a time, each reusing the KV cache
  and hidden states of the prefix it shares with the previous one when that prefix is long
  enough to pay, e.g. a shared tool catalog), `packed` (GPU default: length-sorted sequences
  concatenated into one row per batch with restarting position ids, no padding; transformers
  builds the block-diagonal mask for the sdpa/eager/flex/flash attention implementations) and
  `padded` (right padding with an attention mask; the fallback for other attention
  implementations).
- `vllm`: `LLM.generate` on token-id prompts with `SamplingParams(max_tokens=1, ...)`: where the
  installed vLLM has `prompt_logprob_start` (0.33+, V2 model runner) only the positions from
  the first scored token on are scored, with each target's own id
  (`prompt_logprob_token_ids`); otherwise `prompt_logprobs=0` (the prompt token's own logprob
  at every position). Imported lazily; needs `envs/vllm.yaml`.
"""

from __future__ import annotations

import inspect
import logging
from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from distilldata.core.errors import InputError
from distilldata.llm.engine import LazyEngine
from distilldata.llm.vllm_engine import load_vllm, shutdown_vllm

log = logging.getLogger(__name__)

BATCHINGS = ("auto", "prefix", "packed", "padded")
DTYPES = ("auto", "float32", "bfloat16", "float16")
# Attention implementations whose masks transformers derives from restarting position ids
# (`find_packed_sequence_indices` for sdpa/eager/flex, varlen kernels for flash attention).
PACKED_ATTENTION = {"sdpa", "eager", "flex_attention", "flash_attention_2", "flash_attention_3"}
# Prefix batching reuses a shared prefix only when it is at least this share of the row: a
# forward after a KV cache needs an explicit mask, which sends CPU sdpa from its causal kernel
# to the general one; measured with SmolLM2 (1,800 tokens), reusing 11% cost 7% more time and
# reusing 33% saved 23%.
PREFIX_MIN_SHARE = 0.25


@dataclass(frozen=True)
class TokenSequence:
    """Token ids and which of them are scored (`scored[0]` is never: nothing predicts it)."""

    ids: np.ndarray
    scored: np.ndarray


@dataclass(frozen=True)
class TokenScore:
    nll_sum: float
    count: int


@dataclass
class TokenScoreSettings:
    """The model and the knobs of the backends. `fingerprint_fields` name those that change
    the scores (beyond float rounding); the others only change speed and memory."""

    model: str = ""
    tokenizer: str | None = None
    device: str | None = None
    dtype: str = "auto"
    batching: str = "auto"
    batch_size: int = 8
    batch_tokens: int = 16384
    logits_chunk: int = 1024
    attn_implementation: str | None = None
    max_model_len: int | None = None
    gpu_memory_utilization: float = 0.9
    start_offset: str = "auto"
    seed: int = 0
    engine_kwargs: dict = field(default_factory=dict)

    fingerprint_fields = ("model", "tokenizer", "dtype")


def common_prefix(a: np.ndarray | None, b: np.ndarray) -> int:
    """Length of the common prefix of two id arrays."""
    if a is None:
        return 0
    n = min(len(a), len(b))
    differs = np.flatnonzero(a[:n] != b[:n])
    return int(differs[0]) if len(differs) else n


def length_batches(lengths: Sequence[int], batch_size: int, batch_tokens: int, padded: bool):
    """Indices of sequences, longest first, cut into batches of at most `batch_size` rows and
    `batch_tokens` tokens (padded: rows x the batch's longest); a longer row is a batch alone."""
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    batch: list[int] = []
    tokens = 0
    for i in order:
        # Padded, every row costs the batch's longest: its first, as the longest come first.
        cost = lengths[batch[0]] if padded and batch else lengths[i]
        if batch and (len(batch) >= batch_size or tokens + cost > batch_tokens):
            yield batch
            batch, tokens, cost = [], 0, lengths[i]
        batch.append(i)
        tokens += cost
    if batch:
        yield batch


class TokenScorer(LazyEngine):
    """Loads a model once, then scores batches of token sequences."""

    def __init__(self, settings: TokenScoreSettings):
        super().__init__(settings)
        self.counts = {"sequences": 0, "targets": 0, "forward_tokens": 0, "reused_tokens": 0}

    def score(self, sequences: Sequence[TokenSequence]) -> list[TokenScore]:
        """The summed NLL (nats) of each sequence's scored tokens and their count, in order."""
        self.load()
        if not sequences:
            return []
        scores = self._score(sequences)
        self.counts["sequences"] += len(sequences)
        self.counts["targets"] += sum(s.count for s in scores)
        return scores

    @abstractmethod
    def _score(self, sequences: Sequence[TokenSequence]) -> list[TokenScore]: ...

    def describe(self) -> dict:
        """What ran (backend, batching, dtype), for a shard's stats."""
        return {"backend": self.name}


class TransformersTokenScorer(TokenScorer):
    name = "local"

    def _load(self) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        s = self.settings
        if s.dtype not in DTYPES:
            raise InputError(f"dtype {s.dtype!r}: use one of {DTYPES}")
        if s.batching not in BATCHINGS:
            raise InputError(f"batching {s.batching!r}: use one of {BATCHINGS}")
        device = s.device or ("cuda" if torch.cuda.is_available() else "cpu")
        dtype = s.dtype
        if dtype == "auto":
            dtype = "bfloat16" if device.startswith("cuda") else "float32"
        kwargs = {"dtype": getattr(torch, dtype)}
        if device.startswith("cuda"):  # straight to the GPU, never staged whole in host memory
            kwargs["device_map"] = device
        if s.attn_implementation:
            kwargs["attn_implementation"] = s.attn_implementation
        self.tokenizer = AutoTokenizer.from_pretrained(s.tokenizer or s.model)
        model = AutoModelForCausalLM.from_pretrained(s.model, **kwargs)
        self.model = model.to(device).eval()
        self.decoder = self.model.get_decoder()
        self.head = self.model.get_output_embeddings()
        self.softcap = getattr(self.model.config, "final_logit_softcapping", None)
        self.device, self.dtype = device, dtype
        self.cache_kwarg = (
            "cache"
            if "cache" in inspect.signature(self.decoder.forward).parameters
            else "past_key_values"
        )
        attention = getattr(self.model.config, "_attn_implementation", None)
        batching = s.batching
        if batching == "auto":
            batching = "packed" if device.startswith("cuda") else "prefix"
        if batching == "packed" and attention not in PACKED_ATTENTION:
            log.warning("attention %r cannot separate packed rows; padding instead", attention)
            batching = "padded"
        self.batching, self.attention = batching, attention
        self._cached_ids = None
        self._cached_hidden = None
        self._cache = None
        self._check_head()

    def describe(self) -> dict:
        return {
            "backend": self.name,
            "device": self.device,
            "dtype": self.dtype,
            "batching": self.batching,
            "attention": self.attention,
        }

    # ---- the output head, only where needed -------------------------------------------------

    def _logits(self, hidden):
        logits = self.head(hidden)
        if self.softcap:
            import torch

            logits = torch.tanh(logits / self.softcap) * self.softcap
        return logits.float()

    def _check_head(self) -> None:
        """Our logits (head of the decoder's last hidden state) must be the model's own: a
        model that post-processes its logits otherwise would be scored wrongly, silently."""
        import torch

        n = min(8, self.model.config.vocab_size)
        ids = torch.arange(n, device=self.device)[None]
        with torch.inference_mode():
            theirs = self.model(input_ids=ids, use_cache=False).logits.float()
            ours = self._logits(self.decoder(input_ids=ids, use_cache=False).last_hidden_state)
        tolerance = 1e-3 if self.dtype == "float32" else 5e-2
        scale = max(1.0, float(theirs.abs().max()))
        if float((theirs - ours).abs().max()) > tolerance * scale:
            raise InputError(
                f"{self.settings.model}: the model's logits are not its output head applied to "
                "the last hidden state (custom scaling?); the local backend cannot score it"
            )

    def _head_nll(self, hidden, targets, rows, sums) -> None:
        """Add the NLL of `targets` given `hidden` (one position per target) into sums[rows],
        `logits_chunk` positions at a time."""
        import torch
        import torch.nn.functional as F

        step = max(1, self.settings.logits_chunk)
        for start in range(0, len(targets), step):
            logits = self._logits(hidden[start : start + step])
            losses = F.cross_entropy(logits, targets[start : start + step], reduction="none")
            sums.index_add_(0, rows[start : start + step], losses.double())
            del logits
        if len(targets) and not torch.isfinite(sums).all():
            log.warning("non-finite NLL in a batch (model overflow?)")

    # ---- batchings ----------------------------------------------------------------------------

    def _score(self, sequences: Sequence[TokenSequence]) -> list[TokenScore]:
        import torch

        sums = torch.zeros(len(sequences), dtype=torch.float64, device=self.device)
        with torch.inference_mode():
            if self.batching == "prefix":
                self._score_prefix(sequences, sums)
            else:
                lengths = [len(s.ids) for s in sequences]
                padded = self.batching == "padded"
                s = self.settings
                for batch in length_batches(lengths, s.batch_size, s.batch_tokens, padded):
                    if padded:
                        self._score_padded(sequences, batch, sums)
                    else:
                        self._score_packed(sequences, batch, sums)
        values = sums.cpu().tolist()
        return [TokenScore(values[i], int(seq.scored.sum())) for i, seq in enumerate(sequences)]

    def _targets(self, sequences, batch, row_offsets):
        """(positions in the flattened hidden states, target ids, sequence index) of a batch."""
        import torch

        hidden_at, targets, rows = [], [], []
        for i, offset in zip(batch, row_offsets, strict=True):
            positions = np.flatnonzero(sequences[i].scored)
            hidden_at.append(offset + positions - 1)
            targets.append(sequences[i].ids[positions])
            rows.append(np.full(len(positions), i))
        as_tensor = lambda parts: torch.from_numpy(np.concatenate(parts)).to(self.device)  # noqa: E731
        return as_tensor(hidden_at), as_tensor(targets), as_tensor(rows)

    def _score_prefix(self, sequences, sums) -> None:
        """One sequence at a time, in token order; each forwards only the tokens after the
        prefix it shares with the sequence in the KV cache (whose hidden states are kept)."""
        import torch
        from transformers import DynamicCache

        order = sorted(range(len(sequences)), key=lambda i: sequences[i].ids.tolist())
        for i in order:
            ids = sequences[i].ids
            shared = common_prefix(self._cached_ids, ids)
            if shared < PREFIX_MIN_SHARE * len(ids):
                shared = 0
            if shared < len(ids):
                if shared == 0:
                    self._cache = DynamicCache()
                else:
                    surplus = self._cache.get_seq_length() - shared
                    if surplus:
                        self._cache.crop(-surplus)
                new = torch.from_numpy(ids[shared:]).to(self.device)[None]
                out = self.decoder(input_ids=new, use_cache=True, **{self.cache_kwarg: self._cache})
                fresh = out.last_hidden_state[0]
                hidden = fresh if shared == 0 else torch.cat([self._cached_hidden[:shared], fresh])
                self._cached_ids, self._cached_hidden = ids, hidden
                self.counts["forward_tokens"] += len(ids) - shared
            else:
                hidden = self._cached_hidden
            self.counts["reused_tokens"] += shared
            at, targets, rows = self._targets(sequences, [i], [0])
            self._head_nll(hidden[at], targets, rows, sums)

    def _score_packed(self, sequences, batch, sums) -> None:
        import torch

        ids = np.concatenate([sequences[i].ids for i in batch])
        positions = np.concatenate([np.arange(len(sequences[i].ids)) for i in batch])
        offsets = np.cumsum([0] + [len(sequences[i].ids) for i in batch[:-1]])
        out = self.decoder(
            input_ids=torch.from_numpy(ids).to(self.device)[None],
            position_ids=torch.from_numpy(positions).to(self.device)[None],
            use_cache=False,
        )
        self.counts["forward_tokens"] += len(ids)
        at, targets, rows = self._targets(sequences, batch, offsets)
        self._head_nll(out.last_hidden_state[0][at], targets, rows, sums)

    def _score_padded(self, sequences, batch, sums) -> None:
        import torch

        width = max(len(sequences[i].ids) for i in batch)
        ids = np.zeros((len(batch), width), dtype=np.int64)
        mask = np.zeros((len(batch), width), dtype=np.int64)
        for row, i in enumerate(batch):
            ids[row, : len(sequences[i].ids)] = sequences[i].ids
            mask[row, : len(sequences[i].ids)] = 1
        out = self.decoder(
            input_ids=torch.from_numpy(ids).to(self.device),
            attention_mask=torch.from_numpy(mask).to(self.device),
            use_cache=False,
        )
        self.counts["forward_tokens"] += len(batch) * width
        at, targets, rows = self._targets(sequences, batch, [r * width for r in range(len(batch))])
        hidden = out.last_hidden_state.reshape(-1, out.last_hidden_state.shape[-1])
        self._head_nll(hidden[at], targets, rows, sums)


class VLLMTokenScorer(TokenScorer):
    """vLLM's offline engine, prefill only (`max_tokens=1`), prompt logprobs of the targets."""

    name = "vllm"

    def _load(self) -> None:
        s = self.settings
        self.llm, SamplingParams = load_vllm(
            s, max_model_len=s.max_model_len, dtype=None if s.dtype == "auto" else s.dtype
        )
        self.sampling = SamplingParams
        self.tokenizer = self.llm.get_tokenizer()
        self.start_offset = s.start_offset != "off" and self._has_start_offset()
        log.info("vllm: %s", "prompt_logprob_start" if self.start_offset else "prompt_logprobs=0")

    def _has_start_offset(self) -> bool:
        """vLLM 0.33+ scores from an offset (`prompt_logprob_start`, with the target ids as
        `prompt_logprob_token_ids`), on its V2 model runner only."""
        fields = getattr(self.sampling, "__struct_fields__", ())
        if "prompt_logprob_start" not in fields:
            return False
        config = getattr(getattr(self.llm, "llm_engine", None), "vllm_config", None)
        return bool(getattr(config, "use_v2_model_runner", False))

    def describe(self) -> dict:
        offset = "prompt_logprob_start" if self.start_offset else "prompt_logprobs=0"
        return {"backend": self.name, "prompt_logprobs": offset}

    def close(self) -> None:
        if self.loaded:
            shutdown_vllm(self.llm)

    def _params(self, seq: TokenSequence):
        if not self.start_offset:
            return self.sampling(max_tokens=1, prompt_logprobs=0)
        start = int(np.flatnonzero(seq.scored)[0]) - 1
        rows = [[int(t)] for t in seq.ids[start + 1 :]]
        return self.sampling(
            max_tokens=1, prompt_logprob_token_ids=rows, prompt_logprob_start=start
        )

    def _read(self, seq: TokenSequence, output) -> TokenScore:
        positions = np.flatnonzero(seq.scored)
        if self.start_offset:
            start = int(positions[0]) - 1
            table = np.asarray(output.prompt_token_id_logprobs, dtype=np.float64)
            values = table[positions - start - 1, 0]
        else:
            logprobs = output.prompt_logprobs
            values = [logprobs[t][int(seq.ids[t])].logprob for t in positions]
        return TokenScore(-float(np.sum(values, dtype=np.float64)), len(positions))

    def _score(self, sequences: Sequence[TokenSequence]) -> list[TokenScore]:
        prompts = [{"prompt_token_ids": seq.ids.tolist()} for seq in sequences]
        params = [self._params(seq) for seq in sequences]
        outputs = self.llm.generate(prompts, params, use_tqdm=False)
        self.counts["forward_tokens"] += sum(len(seq.ids) for seq in sequences)
        return [self._read(seq, out) for seq, out in zip(sequences, outputs, strict=True)]


TOKEN_SCORERS = {"local": TransformersTokenScorer, "vllm": VLLMTokenScorer}


def make_token_scorer(name: str, settings: TokenScoreSettings) -> TokenScorer:
    if name not in TOKEN_SCORERS:
        raise InputError(f"unknown scoring backend {name!r}; use one of {sorted(TOKEN_SCORERS)}")
    return TOKEN_SCORERS[name](settings)

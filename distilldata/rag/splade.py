"""SPLADE: max-pooled `log1p(relu(MLM logits))` term weights as a sparse inverted index.

Encoding (exactly ScaleDown's vectors, computed another way):
- texts are tokenised in length-sorted batches (`max_length` 256, the model's tokenizer), each
  text padded to the next multiple of 16 tokens and batched only with texts padded alike, with
  eager attention: a text's vector is then bit-for-bit the same whatever it is encoded with,
  so a corpus part indexed alone matches the whole corpus indexed at once;
- the MLM head's decoder (hidden -> vocabulary) runs only on real (non-pad) tokens, one text at
  a time, and the *logits* are max-pooled per text before `log1p(relu(.))` is applied to the
  pooled vector: max_t log1p(relu(x_t)) = log1p(relu(max_t x_t)) because the map is monotonic.
  No batch x length x vocabulary tensor is ever built (ScaleDown builds four);
- `screen` (on CPUs with bf16 matrix units): the decoder first runs in bfloat16 to find, per
  text, the vocabulary entries whose pooled logit can be positive; an entry whose bf16 maximum
  plus a rigorous rounding bound (`SCREEN_BOUND` x |w_v| x max_t |g_t|, from bf16's unit
  round-off 2^-8 on both factors and on the result, plus fp32 accumulation) is still <= 0 has
  weight exactly 0 and is skipped; the rest are recomputed in float32. The weights are the
  float32 ones, not an approximation.

Index: document vectors as `scipy.sparse` CSR, stored transposed (vocabulary x chunks: the
inverted lists) in one `.npz` per corpus part, memory O(non-zeros). Search: sparse query
vectors x inverted CSR per query batch, top-k per query from the sparse result rows
(`ranking.top_k_sparse_row`); never a vocabulary-dense matrix.
"""

from __future__ import annotations

import logging
import zipfile
from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from distilldata.core.progress import Progress
from distilldata.core.store import atomic_path
from distilldata.rag.ranking import Retriever, TopK, top_k_sparse_row

log = logging.getLogger(__name__)

SCALEDOWN_MODEL = "naver/splade-cocondenser-ensembledistil"
# |exact fp32 logit - bf16 screen logit| <= SCREEN_BOUND * |g_t| * |w_v|: 3 bf16 round-offs
# (u = 2^-8: both factors and the rounded result) plus fp32 accumulation (H * 2^-24 per side,
# < 1e-4 for H <= 768) come to < 0.0119; 2^-6 leaves a third more.
SCREEN_BOUND = 2.0**-6
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
PAD_MULTIPLE = 16
INDEX_BATCH = 4096  # chunks encoded per CSR batch of the index builder


def padded_batches(
    lengths: Sequence[int], batch_size: int, max_length: int
) -> list[tuple[np.ndarray, int]]:
    """Length-sorted batches of text indices, each with the padded length all its texts share
    (the next multiple of PAD_MULTIPLE, at most max_length). A text is always padded to the
    same length, whatever else is encoded with it, so its vector does not depend on the batch
    (a reduction over a longer padded length rounds differently): a corpus part encoded alone
    gives the same vectors as the whole corpus."""
    order = np.argsort(np.asarray(lengths, dtype=np.int64), kind="stable")
    padded = [min(max_length, -(-lengths[i] // PAD_MULTIPLE) * PAD_MULTIPLE) for i in order]
    batches, start = [], 0
    while start < len(order):
        end = start + 1
        while end < len(order) and end - start < batch_size and padded[end] == padded[start]:
            end += 1
        batches.append((order[start:end], padded[start]))
        start = end
    return batches


def cpu_has_bf16_units() -> bool:
    """The CPU multiplies bfloat16 in hardware (AVX512-BF16 or AMX), so screening pays off."""
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False
    return any(flag in flags for flag in BF16_CPU_FLAGS)


@contextmanager
def one_thread():
    """Run the per-text head on one CPU thread: its matrices are small (one text), and an OpenMP
    team spends more time synchronising on them than computing, badly so on a busy machine.
    The encoder body, with batch-sized matrices, keeps every thread."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _decoder_input():
    import torch

    class DecoderInput(torch.nn.Identity):
        """Stands in for the MLM decoder: the model then returns the decoder's inputs."""

        bias = None

    return DecoderInput()


class SpladeEncoder:
    """Texts -> SPLADE vectors (CSR, texts x vocabulary, float32)."""

    def __init__(
        self,
        model: str,
        max_length: int = 256,
        batch_size: int = 32,
        device: str | None = None,
        screen: str = "auto",
        threads: int | None = None,
    ):
        import torch
        from transformers import AutoModelForMaskedLM, AutoTokenizer

        from distilldata.core.models import resolve_model

        if threads:
            torch.set_num_threads(threads)
        path = resolve_model(model)
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        # Eager attention always applies the padding mask; SDPA drops an all-ones mask and takes
        # another kernel, so a text's vector would depend on whether its batch has padding.
        mlm = AutoModelForMaskedLM.from_pretrained(
            path, dtype=torch.float32, attn_implementation="eager"
        )
        decoder = mlm.get_output_embeddings()
        # The model up to the decoder's input; the decoder (hidden -> vocabulary) is ours.
        self.weight = decoder.weight.detach().to(self.device, torch.float32).contiguous()
        bias = decoder.bias if decoder.bias is not None else torch.zeros(self.weight.shape[0])
        self.bias = bias.detach().to(self.device, torch.float32)
        mlm.set_output_embeddings(_decoder_input())
        self.body = mlm.to(self.device).eval()
        self.vocab_size = self.weight.shape[0]
        self.max_length, self.batch_size = max_length, batch_size
        if screen not in ("auto", "on", "off"):
            raise ValueError(f"screen must be auto, on or off, got {screen!r}")
        self.screen = screen == "on" or (
            screen == "auto" and self.device == "cpu" and cpu_has_bf16_units()
        )
        if self.screen:
            self.weight_bf16 = self.weight.to(torch.bfloat16)
            # Rounded up a little so the bound never undershoots through its own rounding.
            self.weight_norm = self.weight.norm(dim=1) * (1 + 1e-5)

    def _pooled_logits(self, hidden) -> tuple:
        """(vocabulary ids, max-pooled logits) of one text's real-token decoder inputs.

        Products are taken vocabulary-major (W @ h.T, vocabulary x tokens) and pooled along
        the contiguous token axis: on CPU that is ~3x faster than tokens x vocabulary pooled
        along its rows."""
        import torch

        if not self.screen:
            ids = torch.arange(self.vocab_size, device=hidden.device)
            return ids, (self.weight @ hidden.T).amax(dim=1) + self.bias
        approx = (self.weight_bf16 @ hidden.to(torch.bfloat16).T).amax(dim=1).float()
        slack = SCREEN_BOUND * self.weight_norm * hidden.norm(dim=1).amax()
        ids = torch.nonzero(approx + self.bias + slack > 0).squeeze(1)
        return ids, (self.weight[ids] @ hidden.T).amax(dim=1) + self.bias[ids]

    def _pool_batch(self, hidden, real, batch, cols, vals) -> None:
        """Each text's weights -> cols[i], vals[i] (its nonzero vocabulary ids and weights)."""
        import torch

        for j, i in enumerate(batch):
            ids, pooled = self._pooled_logits(hidden[j, : real[j]])
            weights = torch.log1p(torch.relu(pooled))
            keep = weights > 0
            cols[i] = ids[keep].to(torch.int32).cpu().numpy()
            vals[i] = weights[keep].to(torch.float32).cpu().numpy()

    def encode(self, texts: Sequence[str], progress: Progress | None = None):
        """SPLADE vectors of `texts`, in their order, as a CSR matrix (texts x vocabulary)."""
        import scipy.sparse as sp
        import torch

        n = len(texts)
        lengths = [
            len(ids)
            for ids in self.tokenizer(
                list(texts), truncation=True, max_length=self.max_length, verbose=False
            )["input_ids"]
        ]
        cols: list = [None] * n
        vals: list = [None] * n
        with torch.inference_mode():
            for batch, padded in padded_batches(lengths, self.batch_size, self.max_length):
                enc = self.tokenizer(
                    [texts[i] for i in batch],
                    padding="max_length",
                    truncation=True,
                    max_length=padded,
                    return_tensors="pt",
                ).to(self.device)
                hidden = self.body(**enc).logits  # the decoder's inputs (batch x length x H)
                real = enc["attention_mask"].sum(dim=1).tolist()
                with one_thread():
                    self._pool_batch(hidden, real, batch, cols, vals)
                if progress is not None:
                    progress.update(len(batch))
        indptr = np.zeros(n + 1, dtype=np.int64)
        indptr[1:] = np.cumsum([len(c) for c in cols]) if n else []
        data = np.concatenate(vals) if n else np.zeros(0, np.float32)
        indices = np.concatenate(cols) if n else np.zeros(0, np.int32)
        return sp.csr_matrix((data, indices, indptr), shape=(n, self.vocab_size))


def sorted_csr(matrix):
    """A CSR matrix with sorted column indices in each row."""
    matrix = matrix.tocsr()
    matrix.sort_indices()
    return matrix


def save_npz(path: str | Path, arrays: dict[str, np.ndarray]) -> None:
    """Arrays in one uncompressed .npz whose bytes depend only on the arrays (numpy's savez
    stamps each member with the current time), written atomically."""
    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as zf:
        for name, array in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            with zf.open(info, "w", force_zip64=True) as fh:
                np.lib.format.write_array(fh, np.ascontiguousarray(array), allow_pickle=False)


def inverted_index(batches: Iterable, vocab_size: int | None = None) -> dict[str, np.ndarray]:
    """Row batches of document vectors (CSR, chunks x vocabulary, in corpus order) as the
    arrays of one inverted CSR (vocabulary x chunks): a posting list per term, chunk ids
    ascending. Counting sort: each batch is placed into arrays sized from the term counts, so
    memory is the batches plus the index plus one batch's temporaries, all O(non-zeros)."""
    batches = list(batches)
    vocab = vocab_size or (batches[0].shape[1] if batches else 0)
    counts = np.zeros(vocab, dtype=np.int64)
    for batch in batches:
        counts += np.bincount(batch.indices, minlength=vocab)
    indptr = np.zeros(vocab + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    data = np.empty(indptr[-1], dtype=np.float32)
    indices = np.empty(indptr[-1], dtype=np.int32)
    fill, offset = indptr[:-1].copy(), 0
    for batch in batches:
        rows = np.repeat(np.arange(batch.shape[0], dtype=np.int32) + offset, np.diff(batch.indptr))
        order = np.argsort(batch.indices, kind="stable")  # by term; rows stay ascending
        terms = batch.indices[order]
        rank = np.arange(len(terms)) - np.searchsorted(terms, terms, side="left")
        where = fill[terms] + rank
        data[where] = batch.data[order]
        indices[where] = rows[order]
        fill += np.bincount(terms, minlength=vocab)
        offset += batch.shape[0]
    return {
        "data": data,
        "indices": indices,
        "indptr": indptr,
        "shape": np.array([vocab, offset], dtype=np.int64),
    }


def index_bytes(nnz: int, vocab_size: int) -> int:
    """Bytes of an inverted index with `nnz` stored weights: float32 values, int32 chunk ids,
    int64 row pointers (one per term + 1)."""
    return 8 * nnz + 8 * (vocab_size + 1)


class SPLADERetriever(Retriever):
    """SPLADE retrieval; `retrieve(queries, corpus, top_k)` is the seed's API. ScaleDown's default
    model is `naver/splade-cocondenser-ensembledistil` (SPLADE++); the paper uses
    `naver/splade-v3`; the offline demo `package:cognition/model` (SPLADE-tiny)."""

    kind = "splade"

    def __init__(
        self,
        model_name: str = SCALEDOWN_MODEL,
        batch_size: int = 32,
        max_length: int = 256,
        device: str | None = None,
        screen: str = "auto",
        threads: int | None = None,
        query_batch_size: int = 256,
    ):
        self.encoder = SpladeEncoder(model_name, max_length, batch_size, device, screen, threads)
        self.query_batch_size = query_batch_size

    def build(self, texts: Sequence[str], progress: Progress | None = None):
        import scipy.sparse as sp

        batches = (
            self.encoder.encode(texts[i : i + INDEX_BATCH], progress)
            for i in range(0, len(texts), INDEX_BATCH)
        )
        arrays = inverted_index(batches, self.encoder.vocab_size)
        return sp.csr_matrix(
            (arrays["data"], arrays["indices"], arrays["indptr"]), shape=tuple(arrays["shape"])
        )

    def save(self, index, path) -> None:
        save_npz(
            path,
            {
                "data": index.data,
                "indices": index.indices,
                "indptr": index.indptr.astype(np.int64),
                "shape": np.array(index.shape, dtype=np.int64),
            },
        )

    def load(self, path):
        import scipy.sparse as sp

        with np.load(path, allow_pickle=False) as z:
            return sp.csr_matrix(
                (z["data"], z["indices"], z["indptr"]), shape=tuple(int(x) for x in z["shape"])
            )

    def search(self, index, queries: Sequence[str], top_k: int) -> TopK:
        vocab, n = index.shape
        k = min(top_k, n)
        rows = np.zeros((len(queries), k), dtype=np.int64)
        scores = np.zeros((len(queries), k), dtype=np.float32)
        for start in range(0, len(queries), self.query_batch_size):
            q = self.encoder.encode(queries[start : start + self.query_batch_size])
            result = sorted_csr(q @ index)  # (queries x chunks), only chunks sharing a term
            for j in range(result.shape[0]):
                lo, hi = result.indptr[j], result.indptr[j + 1]
                cols, vals = result.indices[lo:hi], result.data[lo:hi]
                best = top_k_sparse_row(cols, vals, n, k)
                rows[start + j] = best
                at = np.minimum(np.searchsorted(cols, best), max(len(cols) - 1, 0))
                stored = (cols[at] == best) if len(cols) else np.zeros(len(best), bool)
                scores[start + j] = np.where(stored, vals[at] if len(cols) else 0.0, 0.0)
        return TopK(scores, rows)

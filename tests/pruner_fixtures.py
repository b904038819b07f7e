"""Small Provence-format datasets and a tiny pruner backbone for the pruner tests."""

from __future__ import annotations

from pathlib import Path

FACTS = [
    ("Who won the game?", "The Broncos won the game.", "The sky was blue."),
    ("What is the capital of France?", "Paris is the capital of France.", "Dogs like bones."),
    ("Where is Normandy?", "Normandy is in France.", "The fox is quick and brown."),
    ("What is complexity theory?", "It classifies problems by difficulty.", "Rain fell today."),
]


def provence_row(idx: int, split: str, n_texts: int = 3) -> dict:
    query, answer, filler = FACTS[idx % len(FACTS)]
    positive = f"{filler} {answer} {filler}"
    start = len(filler) + 1
    texts = [positive] + [f"{filler} Nothing here {k}." for k in range(n_texts - 1)]
    spans = []
    for text in texts:
        cut = text.index(". ") + 1 if ". " in text else len(text)
        rest = [[cut + 1, len(text)]] if cut < len(text) else []
        if text is positive:
            rest = [[start, start + len(answer)], [start + len(answer) + 1, len(text)]]
        spans.append([[0, cut], *rest])
    return {
        "id": f"toy:{split}:{idx}",
        "query": query,
        "texts": texts,
        "context_spans": spans,
        "labels": [1] + [0] * (n_texts - 1),
        "answer_spans": [[start, start + len(answer)]],
    }


def write_provence_dataset(path: Path, rows: dict[str, int], n_texts: int = 3) -> Path:
    from datasets import Dataset, DatasetDict

    DatasetDict(
        {
            split: Dataset.from_list([provence_row(i, split, n_texts) for i in range(n)])
            for split, n in rows.items()
        }
    ).save_to_disk(str(path))
    return path

"""The converter on real and handcrafted triplets, and its CLI's bad-input messages."""

from __future__ import annotations

import json
import subprocess
import sys

import pyarrow as pa
import pytest
from datasets import load_from_disk

from conftest import DATA, REPO, offline_env
from distilldata.core.store import save_splits
from distilldata.provence.convert import convert, slugify


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return path


def triplet_rows(n):
    return [
        {
            "query": f"question {i}?",
            "positive": f"Answer {i} is here. It has two sentences.",
            **{f"negative_{k}": f"Negative {k} of row {i}. Second sentence." for k in (10, 2, 1)},
            "id": 1000 + i,
        }
        for i in range(n)
    ]


def test_negatives_natural_order_ids_and_carried_columns(tmp_path, nltk_data):
    src = write_jsonl(tmp_path / "trip.jsonl", triplet_rows(30))
    stats = convert(str(src), tmp_path / "out", lang="en", slug="demo")
    ds = load_from_disk(str(tmp_path / "out" / "demo"))
    assert set(ds) == {"train", "validation", "test"}
    assert (len(ds["validation"]), len(ds["test"]), len(ds["train"])) == (1, 1, 28)
    row = ds["train"][0]
    n = row["query"].split()[1].rstrip("?")
    assert row["texts"] == [
        f"Answer {n} is here. It has two sentences.",
        f"Negative 1 of row {n}. Second sentence.",
        f"Negative 2 of row {n}. Second sentence.",
        f"Negative 10 of row {n}. Second sentence.",
    ]
    assert row["labels"] == [1, 0, 0, 0]
    assert row["id"] == "demo:train:0"
    assert row["source_id"] == 1000 + int(n)
    for text, spans in zip(row["texts"], row["context_spans"], strict=True):
        assert [text[s:e] for s, e in spans] == [text.split(". ")[0] + ".", text.split(". ")[1]]
    ids = [r for split in ds.values() for r in list(split["id"])]
    assert len(ids) == len(set(ids)) == 30
    assert stats["splits"]["train"]["rows_out"] == 28


def test_sample_size_matches_datasets_shuffle(tmp_path, nltk_data):
    from datasets import Dataset

    rows = triplet_rows(50)
    src = write_jsonl(tmp_path / "trip.jsonl", rows)
    convert(str(src), tmp_path / "out", slug="s", sample_size=20, seed=7)
    ds = load_from_disk(str(tmp_path / "out" / "s"))
    picked = Dataset.from_list(rows).shuffle(seed=7).select(range(20)).shuffle(seed=7)
    # validation | test | train after the carve-out's own shuffle (1 + 1 + 18).
    got = [*ds["validation"]["query"], *ds["test"]["query"], *ds["train"]["query"]]
    assert got == list(picked["query"])


def test_list_shape_msmarco_keeps_every_negative(tmp_path, nltk_data):
    src = DATA / "msmarco" / "flagembedding" / "msmarco.jsonl"
    convert(str(src), tmp_path, slug="ms")
    ds = load_from_disk(str(tmp_path / "ms"))
    row = ds["train"][0]
    assert row["labels"] == [1] + [0] * 25
    assert len(row["texts"]) == len(row["context_spans"]) == 26
    assert "pos_scores" in ds["train"].column_names


def test_existing_splits_are_kept_and_input_is_not_written(tmp_path, nltk_data):
    tables = {s: pa.Table.from_pylist(triplet_rows(4)) for s in ("train", "validation", "test")}
    save_splits(tables, tmp_path / "src")
    before = sorted(p.relative_to(tmp_path) for p in (tmp_path / "src").rglob("*"))
    convert(str(tmp_path / "src"), tmp_path / "out", slug="kept")
    after = sorted(p.relative_to(tmp_path) for p in (tmp_path / "src").rglob("*"))
    assert before == after
    ds = load_from_disk(str(tmp_path / "out" / "kept"))
    assert {k: len(v) for k, v in ds.items()} == {"train": 4, "validation": 4, "test": 4}


def test_rows_without_query_are_dropped_and_counted(tmp_path, nltk_data):
    rows = triplet_rows(10)
    rows[3]["query"] = ""
    src = write_jsonl(tmp_path / "t.jsonl", rows)
    stats = convert(str(src), tmp_path / "out", slug="d")
    dropped = sum(s["dropped"].get("empty_query", 0) for s in stats["splits"].values())
    out = sum(s["rows_out"] for s in stats["splits"].values())
    assert dropped == 1 and out == 9


def test_slug_is_the_seeds():
    assert slugify("tomaarsen/natural-questions-hard-negatives", "triplet-5") == (
        "tomaarsen_natural-questions-hard-negatives_triplet-5"
    )


def run_cli(*args):
    return subprocess.run(
        [sys.executable, str(REPO / "scripts" / "provence/convert_triplets.py"), *args],
        capture_output=True,
        text=True,
        env=offline_env(),
        timeout=300,
    )


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([{"question_text": "q", "positive": "p"}], "no a query column"),
        ([{"query": "q", "negative": "n"}], "no a positive column"),
        ([], "empty"),
    ],
)
def test_cli_bad_input(tmp_path, nltk_data, rows, message):
    src = write_jsonl(tmp_path / "bad.jsonl", rows)
    proc = run_cli("--dataset", str(src), "--output-root", str(tmp_path / "out"))
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and "bad.jsonl" in proc.stderr
    assert not (tmp_path / "out" / "bad").exists()


def test_cli_refuses_to_overwrite(tmp_path, nltk_data):
    src = write_jsonl(tmp_path / "ok.jsonl", triplet_rows(5))
    (tmp_path / "out" / "ok").mkdir(parents=True)
    proc = run_cli("--dataset", str(src), "--output-root", str(tmp_path / "out"))
    assert proc.returncode == 2
    assert "already exists; pass --overwrite" in proc.stderr
    proc = run_cli("--dataset", str(src), "--output-root", str(tmp_path / "out"), "--overwrite")
    assert proc.returncode == 0, proc.stderr
    assert len(load_from_disk(str(tmp_path / "out" / "ok"))["train"]) == 3


def test_cli_invalid_json_line_is_named(tmp_path, nltk_data):
    src = tmp_path / "broken.jsonl"
    src.write_text('{"query": "q", "positive": "p"}\n{"query": \n', "utf-8")
    proc = run_cli("--dataset", str(src), "--output-root", str(tmp_path / "out"))
    assert proc.returncode == 2
    assert "broken.jsonl:2: invalid JSON" in proc.stderr

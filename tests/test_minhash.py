"""MinHash signatures and LSH on constructed pairs of known Jaccard similarity."""

from __future__ import annotations

import numpy as np
import pytest

from distilldata.text.minhash import (
    MinHashConfig,
    MinHasher,
    candidate_pairs,
    jaccard,
    shingle_hashes,
    shingle_strings,
    words,
)


def pair_with_jaccard(shared: int, total: int, tag: str) -> tuple[str, str]:
    """Two unigram documents of `total` distinct words sharing `shared`: J = s / (2t - s)."""
    common = [f"{tag}c{i}" for i in range(shared)]
    a = common + [f"{tag}a{i}" for i in range(total - shared)]
    b = common + [f"{tag}b{i}" for i in range(total - shared)]
    return " ".join(a), " ".join(b)


def test_words_keep_numbers_and_case_fold():
    assert words("2+3 = 5, Ünïcode_x") == ["2", "3", "5", "ünïcode_x"]
    a, b = shingle_hashes("compute 2 + 3 now", 2), shingle_hashes("compute 7 + 9 now", 2)
    assert jaccard(a, b) == 0.0  # numbers are not normalized away
    assert len(shingle_strings("a b c d", 2)) == 3 and shingle_strings("a b", 5) == [b"a b"]


def test_signature_estimates_known_jaccard():
    hasher = MinHasher(MinHashConfig(ngram=1, bands=32, rows=8, seed=3))
    for shared, expected in [(180, 180 / 220), (100, 100 / 300), (20, 20 / 380)]:
        a, b = pair_with_jaccard(shared, 200, f"j{shared}")
        ha, hb = shingle_hashes(a, 1), shingle_hashes(b, 1)
        assert jaccard(ha, hb) == pytest.approx(expected)
        sig = hasher.signatures([ha, hb])
        estimate = float(np.mean(sig[0] == sig[1]))
        assert estimate == pytest.approx(expected, abs=0.08)


def test_lsh_finds_high_jaccard_pairs_only():
    config = MinHashConfig(ngram=1, bands=14, rows=8, seed=1)  # threshold ~0.72
    assert config.threshold == pytest.approx(0.719, abs=1e-3)
    hasher = MinHasher(config)
    docs, expected = [], set()
    for k, shared in enumerate([190, 185, 180, 60, 40, 10]):  # J = .90 .86 .82 | .18 .11 .03
        a, b = pair_with_jaccard(shared, 200, f"p{k}")
        docs += [a, b]
        if shared >= 180:
            expected.add((2 * k, 2 * k + 1))
    keys = hasher.band_keys(hasher.signatures([shingle_hashes(d, 1) for d in docs]))
    assert candidate_pairs(keys) == expected


def test_deterministic_and_empty_documents():
    hasher = MinHasher(MinHashConfig())
    docs = ["one two three four five six", "", "one two three four five six"]
    sig = hasher.signatures([shingle_hashes(d, 5) for d in docs])
    assert (sig[0] == sig[2]).all() and (sig[1] == np.iinfo(np.uint32).max).all()
    again = MinHasher(MinHashConfig()).signatures([shingle_hashes(docs[0], 5)])
    assert (again[0] == sig[0]).all()


def test_batches_match_single_documents(monkeypatch):
    import distilldata.text.minhash as mh

    hasher = MinHasher(MinHashConfig(bands=4, rows=4))
    docs = [shingle_hashes(" ".join(f"w{i * j}" for i in range(50)), 3) for j in range(1, 9)]
    whole = hasher.signatures(docs)
    monkeypatch.setattr(mh, "MAX_CELLS", 16 * 60)  # forces many small batches
    assert (hasher.signatures(docs) == whole).all()


def test_batched_shingles_equal_per_document(monkeypatch):
    import distilldata.text.minhash as mh
    from distilldata.text.minhash import batch_shingles

    texts = ["Alpha beta gamma delta epsilon zeta eta", "", "two words", "x", "Ünï 1 2 3 4 5 6"] * 3
    monkeypatch.setattr(mh, "BATCH_CHARS", 40)  # several chunks
    flat, sizes = batch_shingles(texts, 3)
    pieces = np.split(flat, np.cumsum(sizes)[:-1])
    for text, piece in zip(texts, pieces, strict=True):
        assert (piece == shingle_hashes(text, 3)).all()
    hasher = MinHasher(MinHashConfig(ngram=3, bands=4, rows=2))
    expected = hasher.signatures([shingle_hashes(t, 3) for t in texts])
    assert (hasher.signatures_for_texts(texts) == expected).all()


def test_empty_shingle_sets_never_match():
    assert jaccard(shingle_hashes("...", 5), shingle_hashes("!!! ???", 5)) == 0.0


def test_documents_without_shingles_are_never_candidates():
    hasher = MinHasher(MinHashConfig(bands=4, rows=2))
    keys, has_shingles = hasher.band_keys_for_texts(["...", "!!! ???", "some real words here"])
    assert has_shingles.tolist() == [False, False, True]
    assert candidate_pairs(keys, has_shingles) == set()

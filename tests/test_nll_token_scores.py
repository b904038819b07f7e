"""The local scorer equals a plain reference, `model(input_ids, labels=masked_labels).loss` per
row in float32, on real normalized rows (tiny causal LM and SmolLM2-135M), in every batching;
the vllm scorer's calls, checked with a stand-in `vllm` module."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest
from nll_fixtures import normalized

from distilldata.core.errors import InputError
from distilldata.llm.token_masks import target_mask, tokenize_with_offsets
from distilldata.llm.token_scores import (
    TokenScoreSettings,
    TokenSequence,
    common_prefix,
    length_batches,
    make_token_scorer,
)
from distilldata.nll.masks import scored_text


def sequences(model_path, rows, max_length, loss_mode="assistant_all"):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_path)
    out = []
    tokenized = tokenize_with_offsets(tokenizer, [r["text"] for r in rows])
    for row, tok in zip(rows, tokenized, strict=True):
        mask = target_mask(tok.offsets, scored_text(row["text"], loss_mode).spans)[:max_length]
        if mask.any():
            last = int(np.flatnonzero(mask)[-1])
            out.append(TokenSequence(tok.ids[: last + 1], mask[: last + 1]))
    return out


def reference_means(model_path, seqs):
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32).eval()
    means = []
    with torch.inference_mode():
        for seq in seqs:
            ids = torch.from_numpy(seq.ids)[None]
            labels = torch.from_numpy(np.where(seq.scored, seq.ids, -100))[None]
            means.append(float(model(input_ids=ids, labels=labels).loss))
    return means


def real_rows(n):
    """Rows of all three vendored shapes, several sharing their system/developer prefix."""
    return [*normalized("hermes")[:n], *normalized("glaive")[:n], *normalized("agentic")]


@pytest.fixture(scope="module")
def tiny_case(tiny_causal_lm):
    seqs = sequences(tiny_causal_lm, real_rows(4), max_length=1024)
    return seqs, reference_means(tiny_causal_lm, seqs)


@pytest.mark.parametrize("batching", ["prefix", "packed", "padded"])
def test_local_scores_equal_the_reference_tiny(tiny_causal_lm, tiny_case, batching):
    seqs, reference = tiny_case
    settings = TokenScoreSettings(
        model=str(tiny_causal_lm), batching=batching, batch_size=3, batch_tokens=6000,
        logits_chunk=97, device="cpu",
    )  # fmt: skip
    scorer = make_token_scorer("local", settings)
    scores = scorer.score(seqs)
    assert [s.count for s in scores] == [int(q.scored.sum()) for q in seqs]
    np.testing.assert_allclose([s.nll_sum / s.count for s in scores], reference, atol=1e-4)
    assert scorer.describe()["batching"] == batching
    if batching != "padded":  # no padding, nothing after a row's last target
        assert scorer.counts["forward_tokens"] <= sum(len(q.ids) for q in seqs)


def test_local_scores_equal_the_reference_smollm2(smollm2):
    seqs = sequences(smollm2, real_rows(1), max_length=320)  # 3 rows, 3 shapes
    reference = reference_means(smollm2, seqs)
    settings = TokenScoreSettings(model=str(smollm2), device="cpu", logits_chunk=64)
    scores = make_token_scorer("local", settings).score(seqs)  # CPU default: prefix reuse
    np.testing.assert_allclose([s.nll_sum / s.count for s in scores], reference, atol=1e-4)


def test_prefix_reuse_across_calls_and_repeated_rows(tiny_causal_lm, tiny_case):
    seqs, reference = tiny_case
    scorer = make_token_scorer("local", TokenScoreSettings(model=str(tiny_causal_lm)))
    first = scorer.score(seqs[:3])
    again = scorer.score([seqs[2], seqs[0], *seqs[3:]])  # a row seen before is a full reuse
    means = [s.nll_sum / s.count for s in first + again]
    np.testing.assert_allclose(
        means, [*reference[:3], reference[2], reference[0], *reference[3:]], atol=1e-4
    )
    assert scorer.counts["reused_tokens"] >= len(seqs[0].ids) + len(seqs[2].ids)


def test_a_long_shared_prefix_is_reused_and_scores_stay_exact(tiny_causal_lm, tiny_case):
    seqs, _ = tiny_case
    base = seqs[0]
    cut = int(len(base.ids) * 0.8)  # two rows sharing 80%: the second forwards only its tail
    other = np.concatenate([base.ids[:cut], base.ids[cut:][::-1]])
    variant = TokenSequence(other, base.scored.copy())
    reference = reference_means(tiny_causal_lm, [base, variant])
    scorer = make_token_scorer("local", TokenScoreSettings(model=str(tiny_causal_lm)))
    scores = scorer.score([base, variant])
    np.testing.assert_allclose([s.nll_sum / s.count for s in scores], reference, atol=1e-4)
    assert scorer.counts["reused_tokens"] >= cut
    assert scorer.counts["forward_tokens"] <= 2 * len(base.ids) - cut


def test_a_model_whose_logits_are_not_its_head_is_refused(tmp_path):
    import torch
    from transformers import GraniteConfig, GraniteForCausalLM

    from distilldata.testing.tiny_causal_lm import build_tiny_causal_lm

    folder = build_tiny_causal_lm(tmp_path / "base")
    config = GraniteConfig(
        vocab_size=400, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
        num_attention_heads=4, num_key_value_heads=2, logits_scaling=8.0,
    )  # fmt: skip
    torch.manual_seed(0)
    GraniteForCausalLM(config).save_pretrained(tmp_path / "granite")
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (tmp_path / "granite" / name).write_bytes((folder / name).read_bytes())
    scorer = make_token_scorer("local", TokenScoreSettings(model=str(tmp_path / "granite")))
    with pytest.raises(InputError, match="not its output head"):
        scorer.load()


def test_length_batches_and_common_prefix():
    lengths = [5, 40, 12, 40, 3]
    assert list(length_batches(lengths, 2, 100, padded=False)) == [[1, 3], [2, 0], [4]]
    assert list(length_batches(lengths, 8, 50, padded=False)) == [[1], [3], [2, 0, 4]]
    assert list(length_batches(lengths, 8, 50, padded=True)) == [[1], [3], [2, 0, 4]]
    assert list(length_batches(lengths, 8, 30, padded=True)) == [[1], [3], [2, 0], [4]]
    a, b = np.array([1, 2, 3, 4]), np.array([1, 2, 9])
    assert common_prefix(a, b) == 2 and common_prefix(None, b) == 0
    assert common_prefix(a, a[:2]) == 2


def fake_vllm(monkeypatch, tokenizer_path, with_start: bool):
    """A stand-in `vllm`: records LLM(...), SamplingParams(...), generate(...) and answers each
    target with logprob -(position + 1) / 10, shaped like the real outputs."""
    from transformers import AutoTokenizer

    calls = {"params": []}

    class SamplingParams:
        __struct_fields__ = ("max_tokens", "prompt_logprobs") + (
            ("prompt_logprob_token_ids", "prompt_logprob_start") if with_start else ()
        )

        def __init__(self, **kwargs):
            calls["params"].append(kwargs)
            self.kwargs = kwargs

    class LLM:
        def __init__(self, **kwargs):
            calls["llm"] = kwargs
            config = types.SimpleNamespace(use_v2_model_runner=with_start)
            self.llm_engine = types.SimpleNamespace(vllm_config=config)

        def get_tokenizer(self):
            return AutoTokenizer.from_pretrained(tokenizer_path)

        def generate(self, prompts, params, use_tqdm=True):
            calls["generate"] = (len(prompts), use_tqdm)
            outputs = []
            for prompt, p in zip(prompts, params, strict=True):
                ids = prompt["prompt_token_ids"]
                if "prompt_logprob_start" in p.kwargs:
                    start = p.kwargs["prompt_logprob_start"]
                    rows = p.kwargs["prompt_logprob_token_ids"]
                    assert [r[0] for r in rows] == ids[start + 1 :]
                    table = np.array([[-(start + i + 2) / 10] for i in range(len(rows))])
                    outputs.append(types.SimpleNamespace(prompt_token_id_logprobs=table))
                else:
                    logprobs = [None] + [
                        {t: types.SimpleNamespace(logprob=-(i + 1) / 10)}
                        for i, t in enumerate(ids[1:], start=1)
                    ]
                    outputs.append(types.SimpleNamespace(prompt_logprobs=logprobs))
            return outputs

    module = types.ModuleType("vllm")
    module.LLM, module.SamplingParams = LLM, SamplingParams
    monkeypatch.setitem(sys.modules, "vllm", module)
    return calls


@pytest.mark.parametrize("with_start", [True, False])
def test_vllm_scorer_calls_and_reads_prompt_logprobs(monkeypatch, tiny_causal_lm, with_start):
    calls = fake_vllm(monkeypatch, tiny_causal_lm, with_start)
    ids = np.array([10, 11, 12, 13, 14, 15])
    scored = np.array([False, False, False, True, False, True])
    settings = TokenScoreSettings(
        model="student", max_model_len=512, engine_kwargs={"tensor_parallel_size": 2}
    )
    scorer = make_token_scorer("vllm", settings)
    (score,) = scorer.score([TokenSequence(ids, scored)])
    assert calls["llm"] == {
        "model": "student",
        "trust_remote_code": True,
        "seed": 0,
        "tensor_parallel_size": 2,
        "max_model_len": 512,
        "gpu_memory_utilization": 0.9,
    }
    assert calls["generate"] == (1, False)
    assert score.count == 2 and score.nll_sum == pytest.approx((4 + 6) / 10)  # positions 3 and 5
    if with_start:  # scoring starts at the row before the first target, with the target ids
        assert calls["params"] == [
            {
                "max_tokens": 1,
                "prompt_logprob_token_ids": [[13], [14], [15]],
                "prompt_logprob_start": 2,
            }
        ]
        assert scorer.describe()["prompt_logprobs"] == "prompt_logprob_start"
    else:
        assert calls["params"] == [{"max_tokens": 1, "prompt_logprobs": 0}]


def test_missing_vllm_and_unknown_backend_are_clear_errors(monkeypatch):
    with pytest.raises(InputError, match="unknown scoring backend"):
        make_token_scorer("nope", TokenScoreSettings())
    monkeypatch.setitem(sys.modules, "vllm", None)  # import vllm -> ImportError
    with pytest.raises(InputError, match="envs/vllm.yaml"):
        make_token_scorer("vllm", TokenScoreSettings(model="m")).load()

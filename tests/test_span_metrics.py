"""One F-beta for the evaluator and the label-quality report (issue 12, item 16)."""

from __future__ import annotations

import pytest

from distilldata.core.span_metrics import Confusion, f_beta, precision, recall, span_accuracy


def test_f_beta_by_hand():
    assert f_beta(0.75, 0.6) == pytest.approx(5 * 0.75 * 0.6 / (4 * 0.75 + 0.6))
    assert f_beta(0.5, 1.0, beta=1) == pytest.approx(2 * 0.5 / 1.5)
    assert f_beta(1.0, 1.0) == 1.0


def test_f_beta_zero_and_undefined_cases():
    assert f_beta(0.0, 0.0) == 0.0  # precision + recall == 0
    assert f_beta(0.0, 0.0, beta=1) == 0.0
    assert f_beta(None, 0.5) is None and f_beta(0.5, None) is None and f_beta(None, None) is None


def test_f_beta_does_not_round():
    p, r = 1 / 3, 1 / 7
    assert f_beta(p, r) == 5 * p * r / (4 * p + r)
    assert f_beta(p, r) != round(f_beta(p, r), 4)


def test_confusion_helpers():
    c = Confusion()
    c.add(gold=[1, 1, 0, 0], pred=[1, 0, 1, 0])
    assert (c.tp, c.fn, c.fp, c.tn, c.total) == (1, 1, 1, 1, 4)
    assert precision(c) == recall(c) == span_accuracy(c) == 0.5
    assert precision(Confusion(tn=3)) is None and span_accuracy(Confusion()) is None

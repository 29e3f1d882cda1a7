"""Metrics against hand-computed values."""

from __future__ import annotations

import pytest

from xling.metrics import METRICS, accuracy, pos_f1, span_f1


def test_accuracy():
    assert accuracy(["a", "b", "b", "c"], ["a", "b", "c", "c"]) == {"accuracy": 75.0}
    with pytest.raises(ValueError):
        accuracy(["a"], ["a", "b"])
    with pytest.raises(ValueError, match="empty"):
        accuracy([], [])


def test_span_f1_hand_computed():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"]]
    pred = [["B-PER", "I-PER", "O", "B-ORG"], ["B-ORG", "B-LOC"]]
    # gold entities: PER(0-1), LOC(3), ORG(s2 0) = 3; predicted: PER(0-1), ORG(3), ORG(s2 0), LOC(s2 1) = 4
    # correct: PER, ORG(s2) = 2 -> P = 2/4, R = 2/3, F1 = 2PR/(P+R) = 4/7
    scores = span_f1(pred, gold)
    assert scores["precision"] == pytest.approx(50.0)
    assert scores["recall"] == pytest.approx(200 / 3)
    assert scores["f1"] == pytest.approx(400 / 7)


def test_span_f1_boundary_error_counts_as_wrong():
    # predicted PER covers only the first token of a two-token name: 0 correct of 1
    assert span_f1([["B-PER", "O"]], [["B-PER", "I-PER"]])["f1"] == 0.0


def test_pos_f1_reproduces_xtreme_seqeval_quirk():
    gold = [["NOUN", "VERB", "NOUN", "PUNCT"]]
    pred = [["NOUN", "NOUN", "NOUN", "PUNCT"]]
    # seqeval reads "NOUN" as marker N + type OUN: gold chunks OUN(0), ERB(1), OUN(2), UNCT(3) = 4;
    # predicted N N N merge into one OUN(0-2), plus UNCT(3) = 2; correct: UNCT only.
    # P = 1/2, R = 1/4, F1 = 1/3. Token accuracy is 3/4.
    scores = pos_f1(pred, gold)
    assert scores["f1"] == pytest.approx(100 / 3)
    assert scores["accuracy"] == pytest.approx(75.0)


def test_tag_length_mismatch_is_an_error():
    with pytest.raises(ValueError, match="sequence 0: 1 predicted tags for 2 gold tags"):
        span_f1([["O"]], [["O", "O"]])


def test_registry_primary_scores():
    assert METRICS.get("accuracy").primary == "accuracy"
    assert METRICS.get("span_f1").primary == "f1"
    assert METRICS.get("pos_f1").primary == "f1"

"""Bitext-mining F1 (BUCC): mined (xx id, English id) pairs against the gold pairs."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from xling.metrics import METRICS, Metric


def pair_scores(predicted: Iterable[Sequence[str]], gold: Iterable[Sequence[str]]) -> dict[str, float]:
    """Precision, recall and F1 (percent) of predicted (xx id, English id) pairs against gold pairs (the
    ``bitext_f1`` metric)."""
    predicted, gold = set(map(tuple, predicted)), set(map(tuple, gold))
    if not gold:
        raise ValueError("F1 against an empty set of gold pairs is undefined")
    correct = len(predicted & gold)
    if not correct:
        return {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    precision, recall = correct / len(predicted), correct / len(gold)
    return {"precision": 100 * precision, "recall": 100 * recall,
            "f1": 100 * 2 * precision * recall / (precision + recall)}


METRICS.register("bitext_f1", Metric("bitext_f1", "f1", pair_scores,
                                     "mined (xx id, en id) pairs against the gold pairs: F1, precision, recall"))

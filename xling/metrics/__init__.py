"""Metrics: classification, tagging, QA. Each knows its primary score; all report in percent."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from xling.registry import Registry


@dataclass(frozen=True)
class Metric:
    """``compute(predictions, references) -> {score name: value}``; ``primary`` is what tables show."""

    name: str
    primary: str
    compute: Callable[[Sequence[Any], Sequence[Any]], dict[str, float]]
    description: str = ""


METRICS: Registry[Metric] = Registry("metric")


def _register(metric: Metric) -> Metric:
    METRICS.register(metric.name, metric)
    return metric


def accuracy(predictions: Sequence[Any], references: Sequence[Any]) -> dict[str, float]:
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions for {len(references)} references")
    if not references:
        raise ValueError("accuracy of an empty set is undefined")
    correct = sum(p == r for p, r in zip(predictions, references))
    return {"accuracy": 100.0 * correct / len(references)}


def _check_sequences(predictions: Sequence[Sequence[str]], references: Sequence[Sequence[str]]) -> None:
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predicted sequences for {len(references)} references")
    for i, (p, r) in enumerate(zip(predictions, references)):
        if len(p) != len(r):
            raise ValueError(f"sequence {i}: {len(p)} predicted tags for {len(r)} gold tags")


def span_f1(predictions: Sequence[Sequence[str]], references: Sequence[Sequence[str]]) -> dict[str, float]:
    """Entity-level precision / recall / F1 with seqeval's default (CoNLL) chunking, as XTREME."""
    from seqeval.metrics import f1_score, precision_score, recall_score

    _check_sequences(predictions, references)
    refs, preds = [list(r) for r in references], [list(p) for p in predictions]
    return {
        "f1": 100.0 * f1_score(refs, preds),
        "precision": 100.0 * precision_score(refs, preds),
        "recall": 100.0 * recall_score(refs, preds),
    }


def pos_f1(predictions: Sequence[Sequence[str]], references: Sequence[Sequence[str]]) -> dict[str, float]:
    """UD-POS "F1" exactly as XTREME reports it, plus plain tag accuracy.

    XTREME's ``run_tag.py`` scores POS with seqeval's entity F1 over raw UPOS
    tags. seqeval then reads the first letter of a tag as a chunk marker
    (``NOUN`` -> marker ``N``, type ``OUN``), so runs of one tag merge into a
    single "entity": gold NOUN VERB NOUN PUNCT vs predicted NOUN NOUN NOUN PUNCT
    scores F1 1/3, not 3/4. The number is comparable with published XTREME
    tables; ``accuracy`` is the per-token score without that quirk.
    """
    from seqeval.metrics import f1_score

    _check_sequences(predictions, references)
    refs, preds = [list(r) for r in references], [list(p) for p in predictions]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "NOUN seems not to be NE tag"
        f1 = f1_score(refs, preds)
    flat_p = [t for s in preds for t in s]
    flat_r = [t for s in refs for t in s]
    return {"f1": 100.0 * f1, "accuracy": accuracy(flat_p, flat_r)["accuracy"]}


_register(Metric("accuracy", "accuracy", accuracy, "share of correct labels"))
_register(Metric("span_f1", "f1", span_f1, "entity-level F1 (seqeval, IOB2)"))
_register(Metric("pos_f1", "f1", pos_f1, "seqeval F1 over UPOS tags as XTREME reports it; also token accuracy"))

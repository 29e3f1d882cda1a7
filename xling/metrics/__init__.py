"""Metrics: classification, tagging, QA. Each knows its primary score; all report in percent."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from xling.metrics.spans import SpanCounts, span_counts
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


class UndefinedScoreWarning(UserWarning):
    """Precision or recall had a zero denominator and was set to 0.0 (as seqeval does)."""


def _span_scores(predictions: Sequence[Sequence[str]], references: Sequence[Sequence[str]]) -> SpanCounts:
    _check_sequences(predictions, references)
    return span_counts(predictions, references)


def span_f1(predictions: Sequence[Sequence[str]], references: Sequence[Sequence[str]]) -> dict[str, float]:
    """Entity-level precision / recall / F1 with seqeval's default (conlleval-like) chunking, as XTREME.

    Computed by :mod:`xling.metrics.spans`, which gives seqeval 1.2.2's numbers
    bit for bit, much faster. Like seqeval it warns when there is no predicted
    or no gold entity (that score is then 0.0) and when tags lack a B-/I-/E-/S-
    prefix (their first letter is then read as one), but once per call.
    """
    counts = _span_scores(predictions, references)
    if counts.unprefixed:
        shown = ", ".join(map(repr, counts.unprefixed[:5])) + (", ..." if len(counts.unprefixed) > 5 else "")
        warnings.warn(f"span_f1: {len(counts.unprefixed)} tag(s) without a B-/I-/E-/S- prefix ({shown}); "
                      "seqeval reads their first letter as the prefix", UserWarning, stacklevel=2)
    if not counts.predicted or not counts.gold:
        warnings.warn(f"span_f1: {counts.predicted} predicted and {counts.gold} gold entities; an undefined "
                      "precision or recall is 0.0, as in seqeval", UndefinedScoreWarning, stacklevel=2)
    return {"f1": 100.0 * counts.f1, "precision": 100.0 * counts.precision, "recall": 100.0 * counts.recall}


def pos_f1(predictions: Sequence[Sequence[str]], references: Sequence[Sequence[str]]) -> dict[str, float]:
    """UD-POS "F1" exactly as XTREME reports it, plus plain tag accuracy.

    XTREME's ``run_tag.py`` scores POS with seqeval's entity F1 over raw UPOS
    tags. seqeval then reads the first letter of a tag as a chunk marker
    (``NOUN`` -> marker ``N``, type ``OUN``), so runs of one tag merge into a
    single "entity": gold NOUN VERB NOUN PUNCT vs predicted NOUN NOUN NOUN PUNCT
    scores F1 1/3, not 3/4. The number is comparable with published XTREME
    tables (:mod:`xling.metrics.spans` reproduces seqeval exactly, silently);
    ``accuracy`` is the per-token score without that quirk.
    """
    counts = _span_scores(predictions, references)
    flat_p = [t for s in predictions for t in s]
    flat_r = [t for s in references for t in s]
    return {"f1": 100.0 * counts.f1, "accuracy": accuracy(flat_p, flat_r)["accuracy"]}


_register(Metric("accuracy", "accuracy", accuracy, "share of correct labels"))
_register(Metric("span_f1", "f1", span_f1, "entity-level F1, seqeval's default chunking (exactly), as XTREME"))
_register(Metric("pos_f1", "f1", pos_f1, "seqeval F1 over UPOS tags as XTREME reports it; also token accuracy"))


# The other metric modules (QA, bitext mining, ...) register theirs on import: load them all, so a task's
# metric is found by name whichever module declares it.
def _load_metric_modules() -> None:
    import importlib
    import pkgutil

    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")


_load_metric_modules()

"""Entity (span) counting that gives exactly seqeval's default-mode result, vectorised.

XTREME's ``run_tag.py`` scores NER and POS with seqeval 1.2.2's ``f1_score`` /
``precision_score`` / ``recall_score`` in the default (conlleval-like, non-strict)
mode. That mode reads every tag as a one-character *marker* (its first
character) and a *type* (the rest, after the first ``-`` if there is one;
``"_"`` when empty), so ``B-PER`` is marker ``B``, type ``PER``; ``NOUN`` is
marker ``N``, type ``OUN``; ``X`` and ``-`` have type ``_``. Sentences are
joined into one stream with an ``O`` after each. Walking the stream with the
previous token's marker and type, a chunk *ends* before a token when

* the previous marker is ``E`` or ``S``, or
* the previous marker is ``B``/``I`` and the current one ``B``, ``S`` or ``O``, or
* the type changes and the previous marker is neither ``O`` nor ``.``;

and a chunk *starts* at a token when

* its marker is ``B`` or ``S``, or
* its marker is ``E``/``I`` after ``E``, ``S`` or ``O``, or
* the type changes and its marker is neither ``O`` nor ``.``.

An ending records (previous type, offset of the last start, previous
position); the offset is not reset by an ending, and starts at 0 before any
start, so odd tags (``X``, ``-``) can end chunks that never started (a stale
offset). The state before the first token is marker ``O`` with the empty type
(a start it causes at position 0 is the initial offset anyway). Only
marker and type matter for every rule, which is what lets this module decide
each position with table look-ups over whole arrays instead of seqeval's
Python loop (and its per-token warnings).

Precision, recall and F1 then follow seqeval's arithmetic to the last bit:
``correct / predicted``, ``correct / gold`` (0.0 when the denominator is 0)
and ``2 * p * r / (p + r)`` (0.0 when ``p + r`` is 0). Where seqeval crashes
(an empty-string tag: ``IndexError``; no sentences at all: ``TypeError``)
this module raises a :class:`ScoringError` that says where.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import chain, repeat

import numpy as np

from xling.errors import XlingError

SEPARATOR = "O"  # what seqeval puts after each sentence

# Marker classes: the six markers the rules name, and "any other character".
_MARKERS = "O.BIES"
_O, _DOT, _B, _I, _E, _S, _OTHER = range(7)
_N_CLASSES = 7
_START_TYPE = ""  # the type before the first token; no tag's type is empty


class ScoringError(XlingError, ValueError):
    """Tags that cannot be scored: no sentences at all, or an unreadable tag."""


class TagError(ScoringError):
    """A tag seqeval cannot read (empty or not a string)."""


def _marker_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boolean tables over (previous class, current class): end / start by marker, and
    whether a class takes part in the type-change rule."""
    end = np.zeros((_N_CLASSES, _N_CLASSES), dtype=bool)
    start = np.zeros((_N_CLASSES, _N_CLASSES), dtype=bool)
    end[[_E, _S], :] = True
    end[np.ix_([_B, _I], [_B, _S, _O])] = True
    start[:, [_B, _S]] = True
    start[np.ix_([_E, _S, _O], [_E, _I])] = True
    typed = np.ones(_N_CLASSES, dtype=bool)
    typed[[_O, _DOT]] = False
    return end.ravel(), start.ravel(), typed


_END_BY_MARKER, _START_BY_MARKER, _TYPED = _marker_tables()


def split_tag(tag: str) -> tuple[str, str]:
    """``(marker, type)`` as seqeval's default mode reads ``tag``: ``"B-PER"`` -> ``("B", "PER")``,
    ``"NOUN"`` -> ``("N", "OUN")``, ``"X"`` -> ``("X", "_")``, ``"B-I-X"`` -> ``("B", "I-X")``."""
    if not isinstance(tag, str) or not tag:
        raise TagError(f"tag {tag!r} cannot be scored: seqeval needs a non-empty string")
    head, dash, tail = tag[1:].partition("-")
    return tag[0], (tail if dash else head) or "_"


def is_prefixed(tag: str) -> bool:
    """Whether seqeval takes ``tag`` for an entity tag (else it warns "seems not to be NE tag")."""
    return tag in ("O", "B", "I", "E", "S") or tag[:2] in ("B-", "I-", "E-", "S-")


class _Vocabulary(dict):
    """Tag string -> consecutive id, growing on first sight (``__missing__`` keeps
    the per-token look-up in C)."""

    def __missing__(self, tag: str) -> int:
        self[tag] = index = len(self)
        return index


@dataclass(frozen=True)
class SpanCounts:
    """Chunks found in the gold and predicted tags and how many match exactly (type and span)."""

    correct: int
    predicted: int
    gold: int
    unprefixed: tuple[str, ...] = ()  # tags seqeval would warn about, sorted

    @property
    def precision(self) -> float:
        return self.correct / self.predicted if self.predicted else 0.0

    @property
    def recall(self) -> float:
        return self.correct / self.gold if self.gold else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass(frozen=True)
class _Chunks:
    """Per stream position ``i``: does a chunk end before ``i``, its first position, its type id."""

    ends: np.ndarray
    begins: np.ndarray
    types: np.ndarray

    def as_tuples(self, type_names: Sequence[str]) -> list[tuple[str, int, int]]:
        return [(type_names[self.types[i]], int(self.begins[i]), int(i) - 1) for i in np.flatnonzero(self.ends)]


def _stream(sequences: Sequence[Sequence[str]]) -> Iterator[str]:
    """All tags, with :data:`SEPARATOR` after each sentence (seqeval's joined stream)."""
    return chain.from_iterable(chain.from_iterable(zip(sequences, repeat((SEPARATOR,)))))


def _encode(sequences: Sequence[Sequence[str]], vocabulary: _Vocabulary) -> np.ndarray:
    size = sum(map(len, sequences)) + len(sequences)
    return np.fromiter(map(vocabulary.__getitem__, _stream(sequences)), dtype=np.intp, count=size)


def _tag_tables(vocabulary: _Vocabulary) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Per tag id: marker class and type id; and the type names (id 0 is the start state's)."""
    type_ids = {_START_TYPE: 0}
    classes, types = [], []
    for tag in vocabulary:
        marker, type_ = split_tag(tag)
        classes.append(_MARKERS.index(marker) if marker in _MARKERS else _OTHER)
        types.append(type_ids.setdefault(type_, len(type_ids)))
    return np.array(classes, dtype=np.intp), np.array(types, dtype=np.intp), list(type_ids)


def _chunks(ids: np.ndarray, classes: np.ndarray, types: np.ndarray) -> _Chunks:
    """Apply the end / start rules at every position of an encoded stream at once."""
    cls, typ = classes[ids], types[ids]
    prev_cls = np.concatenate(([_O], cls[:-1]))
    prev_typ = np.concatenate(([0], typ[:-1]))
    changed = prev_typ != typ
    pair = prev_cls * _N_CLASSES + cls
    ends = _END_BY_MARKER[pair] | (changed & _TYPED[prev_cls])
    starts = _START_BY_MARKER[pair] | (changed & _TYPED[cls])
    # offset of the last start at or before each position (0 before any start) ...
    last_start = np.maximum.accumulate(np.where(starts, np.arange(len(ids)), 0))
    # ... and a chunk ending before i began at the last start before i
    begins = np.concatenate(([0], last_start[:-1]))
    return _Chunks(ends, begins, prev_typ)


def _check_tags(vocabulary: _Vocabulary, **sides: Sequence[Sequence[str]]) -> None:
    """Raise :class:`TagError` naming the first unreadable tag's side, sentence and position."""
    if all(isinstance(tag, str) and tag for tag in vocabulary):
        return
    for side, sequences in sides.items():
        for i, sentence in enumerate(sequences):
            for j, tag in enumerate(sentence):
                if not isinstance(tag, str) or not tag:
                    raise TagError(f"{side} sentence {i}, position {j}: tag {tag!r} cannot be scored "
                                   "(seqeval needs non-empty strings)")


def extract_chunks(sequences: Sequence[Sequence[str]]) -> list[tuple[str, int, int]]:
    """``(type, first, last)`` of every chunk, positions in the joined stream: the list
    seqeval's ``get_entities`` returns for the same list of sentences."""
    vocabulary = _Vocabulary()
    ids = _encode(sequences, vocabulary)
    _check_tags(vocabulary, tags=sequences)
    if not len(ids):
        return []
    classes, types, names = _tag_tables(vocabulary)
    return _chunks(ids, classes, types).as_tuples(names)


def span_counts(predictions: Sequence[Sequence[str]], references: Sequence[Sequence[str]]) -> SpanCounts:
    """Gold, predicted and correct chunks as seqeval counts them (micro average over types).

    The two sides must have the same sentence lengths (the caller checks), so
    their streams line up position by position; a predicted chunk is correct
    when a gold chunk ends at the same position with the same start and type.
    """
    if not references:
        raise ScoringError("span F1 of no sentences is undefined (seqeval raises as well)")
    vocabulary = _Vocabulary()
    gold_ids, pred_ids = _encode(references, vocabulary), _encode(predictions, vocabulary)
    _check_tags(vocabulary, gold=references, predicted=predictions)
    unprefixed = tuple(sorted(tag for tag in vocabulary if not is_prefixed(tag)))
    classes, types, _ = _tag_tables(vocabulary)
    gold, pred = _chunks(gold_ids, classes, types), _chunks(pred_ids, classes, types)
    same = gold.ends & pred.ends & (gold.begins == pred.begins) & (gold.types == pred.types)
    return SpanCounts(int(np.count_nonzero(same)), int(np.count_nonzero(pred.ends)),
                      int(np.count_nonzero(gold.ends)), unprefixed)

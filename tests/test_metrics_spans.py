"""xling.metrics.spans against seqeval 1.2.2 itself, on thousands of seeded random tag sequences.

Equality is exact (``==`` on floats): the point of the scorer is to give
XTREME's seqeval numbers bit for bit. The hand-worked cases pin the quirks
the random ones are most likely to hit.
"""

from __future__ import annotations

import random
import warnings

import pytest
from seqeval.metrics import f1_score, precision_score, recall_score
from seqeval.metrics.sequence_labeling import get_entities, precision_recall_fscore_support

from xling.errors import XlingError
from xling.metrics import UndefinedScoreWarning, pos_f1, span_f1
from xling.metrics.spans import ScoringError, TagError, extract_chunks, span_counts, split_tag

IOB = ["O"] + [f"{p}-{t}" for p in "BI" for t in ("PER", "LOC", "ORG")]
IOBES = ["O"] + [f"{p}-{t}" for p in "BIES" for t in ("PER", "LOC")]
UPOS = "ADJ ADP ADV AUX CCONJ DET INTJ NOUN NUM PART PRON PROPN PUNCT SCONJ SYM VERB X".split()
# tags seqeval reads in surprising ways: bare markers, no prefix, '.', '-', extra dashes, "O"-led types
ODD = ["B", "I", "E", "S", "O", "X", "-", ".", ".-PER", "B-", "I-", "Other", "O-PER", "PER", "BPER",
       "IPER", "I-OUN", "I-ther", "B-_", "_", "B-X-Y", "I-X-Y", "E-PER", "S-PER", "I-PER", "B-PER"]
FAMILIES = (IOB, IOBES, UPOS, ODD, IOB + UPOS + ODD)


def _random_case(rng: random.Random) -> tuple[list[list[str]], list[list[str]]]:
    """(gold, predicted): 1-6 sentences of 0-12 tags from a random sub-pool, predictions
    that copy gold with a random share of tags redrawn (so matches and near misses occur)."""
    family = rng.choice(FAMILIES)
    pool = rng.sample(family, rng.randint(1, min(len(family), 8)))
    gold = [[rng.choice(pool) for _ in range(rng.choice((0, 0, 1, 2, 3, 4, 6, 9, 12)))]
            for _ in range(rng.randint(1, 6))]
    noise = rng.choice((0.0, 0.1, 0.3, 0.6, 1.0))
    pred = [[rng.choice(pool) if rng.random() < noise else t for t in s] for s in gold]
    return gold, pred


def _cases(seed: int, n: int) -> list[tuple[list[list[str]], list[list[str]]]]:
    rng = random.Random(seed)
    return [_random_case(rng) for _ in range(n)]


def test_chunks_equal_seqeval_get_entities_on_random_sequences():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # seqeval: "X seems not to be NE tag"
        for gold, pred in _cases(seed=1, n=2000):
            assert extract_chunks(gold) == get_entities(gold), gold
            assert extract_chunks(pred) == get_entities(pred), pred


def test_precision_recall_f1_equal_seqeval_exactly_on_random_sequences():
    # precision_recall_fscore_support is what seqeval's f1_score / precision_score /
    # recall_score each call (micro average); one call gives all three numbers
    zero_denominators = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for gold, pred in _cases(seed=2, n=2000):
            p, r, f, _ = precision_recall_fscore_support(gold, pred, average="micro")
            counts = span_counts(pred, gold)
            assert (counts.precision, counts.recall, counts.f1) == (p, r, f), (gold, pred)
            zero_denominators += not counts.predicted or not counts.gold
    assert zero_denominators > 100  # the 0/0 branches were exercised


def test_span_f1_and_pos_f1_equal_xtremes_seqeval_calls():
    # the very calls XTREME's run_tag.py makes, scaled to percent as xling reports
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for gold, pred in _cases(seed=3, n=300):
            scores = span_f1(pred, gold)
            assert scores["precision"] == 100.0 * precision_score(gold, pred)
            assert scores["recall"] == 100.0 * recall_score(gold, pred)
            assert scores["f1"] == 100.0 * f1_score(gold, pred)
            if any(gold):
                assert pos_f1(pred, gold)["f1"] == scores["f1"]


def test_one_large_corpus_equals_seqeval():
    # many sentences in one call: chunks may run across sentence boundaries (odd tags)
    cases = _cases(seed=4, n=400)
    gold = [s for g, _ in cases for s in g]
    pred = [s for _, p in cases for s in p]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p, r, f, _ = precision_recall_fscore_support(gold, pred, average="micro")
    counts = span_counts(pred, gold)
    assert counts.gold > 500
    assert (counts.precision, counts.recall, counts.f1) == (p, r, f)


@pytest.mark.parametrize(("tag", "expected"), [
    ("B-PER", ("B", "PER")), ("NOUN", ("N", "OUN")), ("X", ("X", "_")), ("-", ("-", "_")),
    ("B-", ("B", "_")), ("B-I-X", ("B", "I-X")), ("AB-C", ("A", "C")), ("O", ("O", "_")),
])
def test_split_tag_reads_tags_as_seqeval(tag, expected):
    assert split_tag(tag) == expected


@pytest.mark.parametrize(("tags", "chunks"), [
    # I- after O starts a chunk; a type change inside I- splits it
    (["O", "I-PER", "I-PER", "I-LOC"], [("PER", 1, 2), ("LOC", 3, 3)]),
    # E- closes, S- is one token; E after E starts anew
    (["B-PER", "E-PER", "S-PER", "E-PER", "E-PER"], [("PER", 0, 1), ("PER", 2, 2), ("PER", 3, 3), ("PER", 4, 4)]),
    # POS: runs of one tag merge; "X" has type "_"
    (["NOUN", "NOUN", "X", "NOUN"], [("OUN", 0, 1), ("_", 2, 2), ("OUN", 3, 3)]),
    # "X" after "O" never starts (same type "_"), so B-PER closes a chunk from the stale offset 0
    (["O", "X", "B-PER"], [("_", 0, 1), ("PER", 2, 2)]),
    # "X" as first token starts (type differs from the empty start type) but never ends
    (["X", "O", "B-PER"], [("PER", 2, 2)]),
    # "." never closes a chunk on a type change
    ([".", "I-A", ".", "I-A"], [("A", 1, 1), ("A", 3, 3)]),
])
def test_chunk_quirks_hand_worked(tags, chunks):
    assert extract_chunks([tags]) == chunks


def test_sentences_are_joined_with_o():
    # the "O" after sentence 0 ends its I-PER; the empty sentence is one "O" (position 2)
    assert extract_chunks([["I-PER"], [], ["I-PER"]]) == [("PER", 0, 0), ("PER", 3, 3)]
    # without separators these two would be one chunk
    assert span_counts([["I-PER"], ["I-PER"]], [["B-PER"], ["I-PER"]]).correct == 2


def test_zero_denominators_give_zero_and_warn():
    with pytest.warns(UndefinedScoreWarning, match="0 predicted and 1 gold"):
        assert span_f1([["O", "O"]], [["B-PER", "O"]]) == {"f1": 0.0, "precision": 0.0, "recall": 0.0}
    with pytest.warns(UndefinedScoreWarning, match="0 predicted and 0 gold"):
        assert span_f1([[]], [[]])["f1"] == 0.0


def test_unprefixed_tags_warn_once_in_span_f1_but_not_in_pos_f1():
    with pytest.warns(UserWarning, match="2 tag.s. without a B-/I-/E-/S- prefix .'NOUN', 'VERB'."):
        span_f1([["NOUN", "VERB"]], [["NOUN", "NOUN"]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pos_f1([["NOUN", "VERB"]], [["NOUN", "NOUN"]])


def test_inputs_seqeval_cannot_score_raise_one_line_errors():
    with pytest.raises(IndexError), warnings.catch_warnings():  # seqeval: "string index out of range"
        warnings.simplefilter("ignore")
        get_entities(["O", ""])
    with pytest.raises(TagError, match=r"predicted sentence 1, position 0: tag '' cannot be scored"):
        span_f1([["O"], [""]], [["O"], ["O"]])
    with pytest.raises(TypeError):  # seqeval on no sentences
        f1_score([], [])
    with pytest.raises(ScoringError, match="no sentences"):
        span_f1([], [])
    assert issubclass(TagError, XlingError)

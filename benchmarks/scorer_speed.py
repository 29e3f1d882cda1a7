"""Span-F1 scoring time: xling's exact scorer against seqeval 1.2.2, on PAN-X-like and UD-POS-like data.

The seqeval side is what xling ran before (and XTREME's run_tag.py runs):
``precision_score`` + ``recall_score`` + ``f1_score`` for NER, ``f1_score``
with warnings silenced plus token accuracy for POS. The xling side is ``span_f1`` / ``pos_f1``.
Synthetic, seeded data: sentences of 10-30 tokens, NER gold ~85 % ``O`` with
PER/LOC/ORG entities of 1-3 tokens, predictions with ~10 % of tags redrawn;
POS tags drawn from the 17 UPOS tags. Every round checks that both give the
same numbers. CPU time (``time.process_time``), median of the rounds.

    python benchmarks/scorer_speed.py                 # 10,000 sentences, 3 rounds
    python benchmarks/scorer_speed.py --sentences 2000 --rounds 5
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from seqeval.metrics import f1_score, precision_score, recall_score  # noqa: E402

from xling.metrics import accuracy, pos_f1, span_f1  # noqa: E402

TYPES = ("PER", "LOC", "ORG")
UPOS = "ADJ ADP ADV AUX CCONJ DET INTJ NOUN NUM PART PRON PROPN PUNCT SCONJ SYM VERB X".split()
NER_TAGS = ["O"] + [f"{p}-{t}" for t in TYPES for p in "BI"]


def ner_sentence(rng: random.Random) -> list[str]:
    """10-30 IOB2 tags: mostly O, entities of 1-3 tokens."""
    tags: list[str] = []
    length = rng.randint(10, 30)
    while len(tags) < length:
        if rng.random() < 0.08:
            kind = rng.choice(TYPES)
            tags += [f"B-{kind}"] + [f"I-{kind}"] * rng.randint(0, 2)
        else:
            tags.append("O")
    return tags[:length]


def corrupt(sentence: list[str], tags: list[str], rng: random.Random, rate: float = 0.1) -> list[str]:
    return [rng.choice(tags) if rng.random() < rate else t for t in sentence]


def corpora(n: int, seed: int) -> dict[str, tuple[list[list[str]], list[list[str]]]]:
    """{"ner" | "pos": (gold, predicted)}."""
    rng = random.Random(seed)
    ner_gold = [ner_sentence(rng) for _ in range(n)]
    pos_gold = [[rng.choice(UPOS) for _ in range(rng.randint(10, 30))] for _ in range(n)]
    return {"ner": (ner_gold, [corrupt(s, NER_TAGS, rng) for s in ner_gold]),
            "pos": (pos_gold, [corrupt(s, UPOS, rng) for s in pos_gold])}


def seqeval_ner(gold, pred) -> dict[str, float]:
    return {"f1": 100.0 * f1_score(gold, pred), "precision": 100.0 * precision_score(gold, pred),
            "recall": 100.0 * recall_score(gold, pred)}


def seqeval_pos(gold, pred) -> dict[str, float]:
    """What pos_f1 computed before: seqeval's F1 (warnings silenced) and token accuracy."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f1 = 100.0 * f1_score(gold, pred)
    flat_p, flat_r = [t for s in pred for t in s], [t for s in gold for t in s]
    return {"f1": f1, "accuracy": accuracy(flat_p, flat_r)["accuracy"]}


def timed(fn, *args):
    start = time.process_time()
    result = fn(*args)
    return time.process_time() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    data = corpora(args.sentences, args.seed)
    times: dict[str, list[float]] = {k: [] for k in ("ner seqeval", "ner xling", "pos seqeval", "pos xling")}
    for _ in range(args.rounds):
        gold, pred = data["ner"]
        t_ref, ref = timed(seqeval_ner, gold, pred)
        t_new, new = timed(span_f1, pred, gold)
        assert new == ref, (new, ref)
        times["ner seqeval"].append(t_ref)
        times["ner xling"].append(t_new)
        gold, pred = data["pos"]
        t_ref, ref = timed(seqeval_pos, gold, pred)
        t_new, new = timed(pos_f1, pred, gold)
        assert new == ref, (new, ref)
        times["pos seqeval"].append(t_ref)
        times["pos xling"].append(t_new)
    med = {k: statistics.median(v) for k, v in times.items()}
    tokens = {k: sum(map(len, g)) for k, (g, _) in data.items()}
    print(f"{args.sentences} sentences, median CPU seconds of {args.rounds} rounds (identical scores each round)")
    print("| data | tokens | seqeval s | xling s | speed-up |")
    print("|---|---:|---:|---:|---:|")
    for k, label in (("ner", "PAN-X-like NER (P, R, F1)"), ("pos", "UD-POS-like (F1 + accuracy)")):
        ref, new = med[f"{k} seqeval"], med[f"{k} xling"]
        print(f"| {label} | {tokens[k]:,} | {ref:.3f} | {new:.3f} | {ref / new:.1f}x |")


if __name__ == "__main__":
    main()

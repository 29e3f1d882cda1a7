"""Margin-based bitext mining (XTREME's ``utils_retrieve.py``, after LASER; Artetxe & Schwenk 2019), in numpy.

Sentence vectors are L2-normalised; each source sentence's ``k`` nearest targets by cosine and each
target's ``k`` nearest sources (exact kNN, k = 4); the ratio margin ``cos(x, y) / ((mean cos of x's k
neighbours + mean cos of y's) / 2)`` (``distance`` subtracts, ``absolute`` is the cosine); candidates in
XTREME's ``max`` mode (each side's best neighbour by margin, sorted by score, kept greedily so no sentence
is used twice; scores <= 0 dropped) or ``fwd`` / ``bwd`` / ``intersect``; then the threshold of the
best-F1 prefix of the score-sorted candidates. :mod:`xling.retrieval.bucc` applies it to BUCC 2018.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from xling.errors import ConfigError

MODES = ("max", "intersect", "fwd", "bwd")
MARGINS = {"ratio": lambda a, b: a / b, "distance": lambda a, b: a - b, "absolute": lambda a, b: a}

Pair = tuple[str, str]


def check_choice(name: str, value: str, choices: Sequence[str]) -> None:
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {value!r}")


def unit(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (float64; zero rows stay zero)."""
    vectors = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1.0, norms)


def knn(queries: np.ndarray, keys: np.ndarray, k: int, chunk: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """Exact k nearest keys of every query by dot product: (similarities, indices), both (N, k), best first."""
    k = min(k, len(keys))
    sims, inds = np.empty((len(queries), k)), np.empty((len(queries), k), dtype=np.int64)
    for start in range(0, len(queries), chunk):
        block = queries[start:start + chunk] @ keys.T
        top = np.argpartition(-block, k - 1, axis=1)[:, :k] if k < len(keys) else np.tile(np.arange(k), (len(block), 1))
        top_sims = np.take_along_axis(block, top, axis=1)
        order = np.argsort(-top_sims, axis=1, kind="stable")
        sims[start:start + chunk] = np.take_along_axis(top_sims, order, axis=1)
        inds[start:start + chunk] = np.take_along_axis(top, order, axis=1)
    return sims, inds


def mine(x: np.ndarray, y: np.ndarray, *, k: int = 4, mode: str = "max",
         margin: str = "ratio") -> list[tuple[int, int, float]]:
    """Candidate pairs (row of x, row of y, margin score) in the order XTREME's ``mine_bitext`` writes them."""
    check_choice("candidates", mode, MODES)
    check_choice("margin", margin, tuple(MARGINS))
    if not len(x) or not len(y):
        raise ConfigError("mining needs sentences on both sides")
    x, y, score = unit(x), unit(y), MARGINS[margin]
    fwd_sims, fwd_inds = knn(x, y, k)
    bwd_sims, bwd_inds = knn(y, x, k)
    fwd_mean, bwd_mean = fwd_sims.mean(axis=1), bwd_sims.mean(axis=1)
    fwd_scores = score(fwd_sims, (fwd_mean[:, None] + bwd_mean[fwd_inds]) / 2)
    bwd_scores = score(bwd_sims, (bwd_mean[:, None] + fwd_mean[bwd_inds]) / 2)
    fwd_pick, bwd_pick = fwd_scores.argmax(axis=1), bwd_scores.argmax(axis=1)
    rows_x, rows_y = np.arange(len(x)), np.arange(len(y))
    fwd_best, fwd_top = fwd_inds[rows_x, fwd_pick], fwd_scores[rows_x, fwd_pick]
    bwd_best, bwd_top = bwd_inds[rows_y, bwd_pick], bwd_scores[rows_y, bwd_pick]
    if mode == "fwd":
        return [(i, int(j), float(s)) for i, (j, s) in enumerate(zip(fwd_best, fwd_top))]
    if mode == "bwd":
        return [(int(i), j, float(s)) for j, (i, s) in enumerate(zip(bwd_best, bwd_top))]
    if mode == "intersect":
        return [(i, int(j), float(fwd_top[i])) for i, j in enumerate(fwd_best) if bwd_best[j] == i]
    sources = np.concatenate([rows_x, bwd_best])
    targets = np.concatenate([fwd_best, rows_y])
    scores = np.concatenate([fwd_top, bwd_top])
    seen_x, seen_y, out = set(), set(), []
    for n in np.argsort(-scores, kind="stable"):
        i, j = int(sources[n]), int(targets[n])
        if i in seen_x or j in seen_y:
            continue
        seen_x.add(i)  # taken even when the score is dropped below, as XTREME does
        seen_y.add(j)
        if scores[n] > 0:
            out.append((i, j, float(scores[n])))
    return out


def optimise_threshold(candidates: dict[Pair, float], gold: set[Pair]) -> float:
    """The threshold of the best-F1 prefix of the score-sorted candidates (0 when none is correct, as XTREME)."""
    items = sorted(candidates.items(), key=lambda item: -item[1])
    threshold, best, correct = 0.0, 0.0, 0
    for n, (pair, score) in enumerate(items, start=1):
        correct += pair in gold
        if not correct:
            continue
        precision, recall = correct / n, correct / len(gold)
        f1 = 2 * precision * recall / (precision + recall)
        if f1 > best:  # XTREME takes the midpoint with the next score (and fails when there is none)
            best, threshold = f1, (score + items[n][1]) / 2 if n < len(items) else score
    return threshold


def extract(candidates: dict[Pair, float], threshold: float) -> dict[Pair, float]:
    return {pair: score for pair, score in candidates.items() if score >= threshold}

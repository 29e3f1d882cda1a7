"""Pooled typology analysis of the non-English NER intermediate study (benchmarks/intermediate3.sh, from the
`xnli/panx_*` runs of benchmarks/sweeps/intermediate.yaml): does NER in language S before the target help target
language T more when S and T are typologically close?

    python benchmarks/typology_pooled.py [--target xnli] [--results benchmarks/results/intermediate3]

Reads the per-(S) JSON files that ``xling typology correlate`` wrote (gain of every target language T over
the direct model, and the URIEL distance d(S, T)), pools all (S, T) pairs, and correlates gain with distance:
raw, and after removing each intermediate language's and each target language's mean gain (two-way
demeaning), so that "NER in Russian hurts everything" or "Swahili gains from anything" cannot pass for a
typology effect. The target-language means include the baseline score (it is one number per target language),
so the demeaned correlation holds the baseline fixed, as a partial correlation would, and more.

The pairs are not independent (each intermediate model gives a row of 15), so the p-value that counts is an
exact permutation test over the intermediate languages: the demeaned gain rows are assigned to the distance
rows of the other sources in all 5! = 120 ways, and p is the share of assignments whose |r| reaches the
observed one (the smallest possible p is 1/120). It asks whether S's gains follow S's own distances more than
another source's, the typology question, and needs no independence of the pairs. Bonferroni over the distance
kinds. A negative correlation means closer languages gain more. Writes RESULTS/{target}-typology-ner-pooled.md.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
from pathlib import Path

import numpy as np
from scipy import stats

from common import RESULTS

SOURCES = ("de", "es", "nl", "pl", "ru")


def two_way_demean(values: np.ndarray) -> np.ndarray:
    """Residuals of an additive row + column model of a complete (rows x columns) table."""
    return values - values.mean(1, keepdims=True) - values.mean(0, keepdims=True) + values.mean()


def source_permutation_p(gains: np.ndarray, dist: np.ndarray) -> tuple[float, int]:
    """Two-sided exact permutation p of the Pearson r of two demeaned tables, over every assignment of the gain
    rows (intermediate languages) to the distance rows; and the number of assignments."""
    observed = abs(np.corrcoef(dist.ravel(), gains.ravel())[0, 1])
    perms = list(itertools.permutations(range(len(gains))))
    hits = sum(abs(np.corrcoef(dist.ravel(), gains[list(p)].ravel())[0, 1]) >= observed - 1e-12 for p in perms)
    return hits / len(perms), len(perms)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target", default="xnli")
    parser.add_argument("--results", type=Path, default=RESULTS / "intermediate3",
                        help="the folder of the per-source JSON files, and of the table written")
    args = parser.parse_args()
    folder = args.results
    tables = {s: json.loads((folder / f"{args.target}-typology-ner-{s}.json").read_text()) for s in SOURCES}
    # targets scored by every source; the source language itself is kept (distance 0 is informative)
    targets = sorted(set.intersection(*(set(t["languages"]) for t in tables.values())))
    kinds = tables[SOURCES[0]]["kinds"]
    gains = np.array([[tables[s]["languages"][t]["gain"] for t in targets] for s in SOURCES])
    lines = [f"### {args.target}: gain after NER in language S (1,000 sentences) over the direct model, against "
             "the URIEL distance between S and the target language T", "",
             f"{len(SOURCES)} intermediate languages x {len(targets)} target languages = {gains.size} pairs; "
             f"seeds per model: {tables[SOURCES[0]]['languages'][targets[0]]['treatment_runs']}. "
             "Gain table (rows S, columns T):", "",
             "| S \\ T | " + " | ".join(targets) + " | mean |", "|---|" + "---:|" * (len(targets) + 1)]
    for s, row in zip(SOURCES, gains):
        lines.append(f"| {s} | " + " | ".join(f"{g:+.1f}" for g in row) + f" | {row.mean():+.2f} |")
    lines.append("| mean | " + " | ".join(f"{g:+.1f}" for g in gains.mean(0)) + f" | {gains.mean():+.2f} |")
    lines += ["", "| distance | raw pearson r (p) | raw spearman rho (p) | demeaned pearson r (p) | "
              "demeaned spearman rho (p) | permutation p (demeaned r) | Bonferroni | n |",
              "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for kind in kinds:
        dist = np.array([[np.nan if tables[s]["languages"][t]["distance"].get(kind) is None
                          else tables[s]["languages"][t]["distance"][kind] for t in targets] for s in SOURCES], float)
        ok = np.isfinite(dist)
        if not ok.all():
            lines.append(f"| {kind} | – | – | – | – | – | – | {int(ok.sum())} (missing URIEL values) |")
            continue
        cells = []
        for g, d in ((gains, dist), (two_way_demean(gains), two_way_demean(dist))):
            pearson = stats.pearsonr(d.ravel(), g.ravel())
            spearman = stats.spearmanr(d.ravel(), g.ravel())
            cells += [f"{pearson.statistic:+.3f} ({pearson.pvalue:.3g})",
                      f"{spearman.statistic:+.3f} ({spearman.pvalue:.3g})"]
        p, _ = source_permutation_p(two_way_demean(gains), two_way_demean(dist))
        cells += [f"{p:.3f}", f"{min(1.0, p * len(kinds)):.3f}"]
        lines.append(f"| {kind} | " + " | ".join(cells) + f" | {gains.size} |")
    count = math.factorial(len(SOURCES))
    lines += ["", "Demeaned: gain and distance each minus their intermediate-language and target-language means (the "
              "target-language mean holds the baseline score fixed). The p-values in brackets treat the pairs as "
              "independent, which they are not (each model contributes a row): read them as optimistic. The "
              f"permutation p is exact over the {count} assignments of the intermediate languages' gain rows to the "
              f"distance rows (smallest possible: 1/{count}); Bonferroni multiplies it by the {len(kinds)} distance "
              "kinds."]
    out = folder / f"{args.target}-typology-ner-pooled.md"
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

"""Pooled typology analysis of the non-English NER intermediate study (benchmarks/intermediate_study.sh,
PARTS=typology-ner): does NER in language S before the target help target language T more when S and T
are typologically close?

    python benchmarks/typology_pooled.py [--target xnli]

Reads the per-(S) JSON files that ``xling typology correlate`` wrote (gain of every target language T over
the direct model, and the URIEL distance d(S, T)), pools all (S, T) pairs, and correlates gain with distance:
raw, and after removing each intermediate language's and each target language's mean gain (two-way
demeaning), so that "NER in Russian hurts everything" or "Swahili gains from anything" cannot pass for a
typology effect. A negative correlation means closer languages gain more. Writes
benchmarks/results/intermediate/{target}-typology-ner-pooled.md.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
from scipy import stats

from common import RESULTS

SOURCES = ("de", "es", "nl", "pl", "ru")


def two_way_demean(values: np.ndarray) -> np.ndarray:
    """Residuals of an additive row + column model of a complete (rows x columns) table."""
    return values - values.mean(1, keepdims=True) - values.mean(0, keepdims=True) + values.mean()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target", default="xnli")
    args = parser.parse_args()
    folder = RESULTS / "intermediate"
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
              "demeaned spearman rho (p) | n |", "|---|---:|---:|---:|---:|---:|"]
    for kind in kinds:
        dist = np.array([[np.nan if tables[s]["languages"][t]["distance"].get(kind) is None
                          else tables[s]["languages"][t]["distance"][kind] for t in targets] for s in SOURCES], float)
        ok = np.isfinite(dist)
        if not ok.all():
            lines.append(f"| {kind} | – | – | – | – | {int(ok.sum())} (missing URIEL values) |")
            continue
        cells = []
        for g, d in ((gains, dist), (two_way_demean(gains), two_way_demean(dist))):
            pearson = stats.pearsonr(d.ravel(), g.ravel())
            spearman = stats.spearmanr(d.ravel(), g.ravel())
            cells += [f"{pearson.statistic:+.3f} ({pearson.pvalue:.3g})",
                      f"{spearman.statistic:+.3f} ({spearman.pvalue:.3g})"]
        lines.append(f"| {kind} | " + " | ".join(cells) + f" | {gains.size} |")
    lines += ["", "Demeaned: gain and distance each minus their intermediate-language and target-language means; "
              "the p-values treat the pairs as independent, which they are not (each model contributes a row), "
              "so read them as optimistic."]
    out = folder / f"{args.target}-typology-ner-pooled.md"
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

"""``xling typology``: URIEL distances, nearest intermediate-task languages, gains against distance.

``xling typology de,en,ja`` (or ``matrix de,en,ja``) prints distance matrices; ``nearest`` ranks
candidate (intermediate-task) languages by distance to a target; ``correlate`` correlates
per-language gains of treatment runs over baseline runs with the distance to the
intermediate-task languages.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

SUBCOMMANDS = ("matrix", "nearest", "correlate")


class _DefaultToMatrix(argparse._SubParsersAction):
    """Sub-commands where a bare language list means ``matrix``: ``xling typology de,en,ja``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.choices = None  # names are checked in __call__, where a language list becomes `matrix`

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        if values and values[0] not in self._name_parser_map:
            values = ["matrix", *values]
        super().__call__(parser, namespace, values, option_string)


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "typology", help="URIEL distances between languages; gains vs distance to intermediate-task languages",
        description="Sub-commands: matrix (the default: `xling typology de,en,ja`), nearest, correlate. "
                    "Distances are cosine distances of lang2vec vectors: syntactic (syntax_knn), phonological "
                    "(phonology_knn), inventory (inventory_knn), genetic (fam), geographic (geo).")
    commands = parser.add_subparsers(dest="typology_command", metavar="{matrix,nearest,correlate}",
                                     action=_DefaultToMatrix)
    commands.required = True

    def add(name: str, help: str, default_kind: str) -> argparse.ArgumentParser:
        command = commands.add_parser(name, help=help, description=help)
        command.add_argument("--kind", default=default_kind, metavar="KIND,...|all",
                             help=f"distance kinds (default {default_kind})")
        command.add_argument("--format", choices=("markdown", "csv"), default="markdown")
        command.add_argument("--digits", type=int, default=3, help="decimals")
        return command

    matrix = add("matrix", "pairwise distance matrices (the default sub-command)", "all")
    matrix.add_argument("langs", nargs="+", metavar="LANGS", help="languages, comma- or space-separated")
    matrix.set_defaults(func=run_matrix)

    nearest = add("nearest", "candidate languages ranked by distance to each target (the first kind ranks)",
                  "syntactic")
    nearest.add_argument("targets", nargs="+", metavar="TARGET", help="target languages")
    nearest.add_argument("--candidates", required=True, metavar="A,B,...",
                         help="candidate intermediate-task languages")
    nearest.add_argument("-k", type=int, default=None, help="show the k nearest (default: all)")
    nearest.set_defaults(func=run_nearest)

    correlate = add("correlate", "correlate per-language gains (treatment − baseline, means over runs) with "
                                 "distance to the intermediate-task languages", "syntactic")
    correlate.add_argument("--baseline", nargs="+", required=True, metavar="RUN", help="baseline runs (seeds)")
    correlate.add_argument("--treatment", nargs="+", required=True, metavar="RUN", help="treatment runs (seeds)")
    correlate.add_argument("--intermediate-languages", metavar="A,B,...",
                           help="distance is to this set (default: the treatment runs' earlier stages' languages)")
    correlate.add_argument("--languages", metavar="A,B,...", help="only these languages (default: all scored)")
    correlate.add_argument("--reduce", choices=("min", "mean"), default="min",
                           help="distance to the set: to the nearest member or the mean")
    correlate.add_argument("--output", metavar="FILE.json", help="also write the table and correlations as JSON")
    correlate.set_defaults(func=run_correlate)


def _langs(values: list[str] | str | None) -> list[str]:
    values = [values] if isinstance(values, str) else values or []
    return [lang.strip() for value in values for lang in value.split(",") if lang.strip()]


def run_matrix(args: argparse.Namespace) -> int:
    from xling.studies.typology import distance_matrix, parse_kinds

    matrices = distance_matrix(_langs(args.langs), parse_kinds(args.kind))
    separator = "" if args.format == "csv" else "\n"  # CSV: each block starts with its kind's header row
    print(separator.join(m.format(args.format, args.digits) for m in matrices.values()), end="")
    return 0


def run_nearest(args: argparse.Namespace) -> int:
    from xling.cli._common import format_table
    from xling.studies.typology import distance, nearest, parse_kinds

    kinds, candidates = parse_kinds(args.kind), _langs(args.candidates)
    header = ["target", "rank", "language", *kinds]
    rows = []
    for target in _langs(args.targets):
        ranked = nearest(target, candidates, kinds[0], k=args.k or len(candidates))
        for rank, (lang, first) in enumerate(ranked, 1):
            others = [distance(target, lang, kind) for kind in kinds[1:]]
            rows.append([target, str(rank), lang, *(f"{d:.{args.digits}f}" for d in (first, *others))])
    print(format_table(header, rows, args.format), end="")
    return 0


def _intermediate_languages(treatment: list[Any]) -> list[str]:
    """Languages of the treatment runs' stages before the last (pipelines record intermediate stages first)."""
    langs = [lang for run in treatment for stage in run.stages[:-1] for lang in str(stage.get("language", "")).split("+")]
    return list(dict.fromkeys(lang for lang in langs if lang))


def run_correlate(args: argparse.Namespace) -> int:
    from xling.cli._common import format_table
    from xling.errors import ConfigError
    from xling.reporting.tables import load_runs
    from xling.studies.typology import gain_distance_study, language_gains, parse_kinds

    kinds = parse_kinds(args.kind)
    baseline, treatment = load_runs(args.baseline), load_runs(args.treatment)
    reference = _langs(args.intermediate_languages) or _intermediate_languages(treatment)
    if not reference:
        raise ConfigError("the treatment runs record no intermediate stage; give --intermediate-languages")
    gains, skipped = language_gains(baseline, treatment, _langs(args.languages) or None)
    distances, correlations = gain_distance_study({lang: g["gain"] for lang, g in gains.items()}, reference,
                                                  kinds, args.reduce,
                                                  control={lang: g["baseline"] for lang, g in gains.items()})
    d = args.digits
    header = ["language", "baseline", "treatment", "gain", *(f"{k} distance" for k in kinds)]
    rows = [[lang, f"{g['baseline']:.2f}", f"{g['treatment']:.2f}", f"{g['gain']:+.2f}",
             *(f"{distances[lang][k]:.{d}f}" for k in kinds)] for lang, g in gains.items()]
    stats = [[kind, f"{c['pearson_r']:+.{d}f}", f"{c['pearson_p']:.{d}g}", f"{c['spearman_rho']:+.{d}f}",
              f"{c['spearman_p']:.{d}g}", f"{c['partial_r']:+.{d}f}", f"{c['partial_p']:.{d}g}", str(c["n"])]
             for kind, c in correlations.items()]
    metric = baseline[0].primary_metric
    if args.format == "markdown":
        print(f"### {baseline[0].task['name']}: gain in {metric} ({len(treatment)} treatment vs {len(baseline)} "
              f"baseline runs) against distance to {','.join(reference)} ({args.reduce})\n")
    print(format_table(header, rows, args.format))
    print(format_table(["kind", "pearson r", "p", "spearman rho", "p", "partial r (baseline held fixed)", "p", "n"],
                       stats, args.format), end="")
    if args.format == "markdown":
        print("\npartial r: Pearson of gain and distance after regressing both on the baseline score "
              "(a high baseline leaves less to gain; if distance tracks the baseline, the raw r may be only that)")
    if skipped:
        print(f"\nnot compared (scored by one side only): {', '.join(skipped)}")
    if args.output:
        report = {
            "task": baseline[0].task["name"], "metric": metric, "intermediate_languages": reference,
            "reduce": args.reduce, "kinds": kinds,
            "baseline": [r.run_dir for r in baseline], "treatment": [r.run_dir for r in treatment],
            "languages": {lang: {**g, "distance": distances[lang]} for lang, g in gains.items()},
            "correlations": correlations, "skipped": skipped,
        }
        Path(args.output).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"written: {args.output}")
    return 0

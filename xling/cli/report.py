"""``xling report``: languages x runs, averages, mean ± std over seeds."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("report", help="tables (and a plot) from run directories")
    parser.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run directories, results files or folders of runs")
    parser.add_argument("--format", choices=("markdown", "csv"), default="markdown")
    parser.add_argument("--digits", type=int, default=1, help="decimals in the table")
    parser.add_argument("--metric", metavar="NAME",
                        help="another metric than the task's primary one, e.g. exact_match for QA (averages "
                             "computed from the per-language values as for the primary one)")
    parser.add_argument("--plot", metavar="FILE.png", help="also draw the per-language scores")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from xling.report import load_runs, plot_languages, render

    from xling.sweep.table import selection_tables

    runs = load_runs(args.runs)
    print(render(runs, args.format, args.digits, args.metric), end="")
    for table in selection_tables(args.runs):  # sweep directories with select: what was chosen and why
        print("\n" + table, end="")
    if args.plot:
        print(f"plot: {plot_languages(runs, args.plot, args.metric)}")
    return 0

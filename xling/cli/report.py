"""``xling report``: languages x runs, averages, mean ± std over seeds."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("report", help="tables (and a plot) from run directories")
    parser.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run directories, results files or folders of runs")
    parser.add_argument("--format", choices=("markdown", "csv"), default="markdown")
    parser.add_argument("--digits", type=int, default=1, help="decimals in the table")
    parser.add_argument("--plot", metavar="FILE.png", help="also draw per-language bars")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from xling.report import load_runs, plot_languages, render

    runs = load_runs(args.runs)
    print(render(runs, args.format, args.digits), end="")
    if args.plot:
        print(f"plot: {plot_languages(runs, args.plot)}")
    return 0

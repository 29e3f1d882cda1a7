"""``xling report``: languages x runs, averages, mean ± std over seeds; paired gains; an HTML page."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("report", help="tables (and a plot) from run directories")
    parser.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run directories, results files or folders of runs")
    parser.add_argument("--format", choices=("markdown", "csv", "html"), default="markdown",
                        help="html: one self-contained page (tables, gains, heat map, layer plot, provenance)")
    parser.add_argument("--output", metavar="FILE", help="write the report to FILE instead of standard output")
    parser.add_argument("--baseline", metavar="LABEL",
                        help="a column's label (as the table heads it, without '(n=...)'): add the paired gains "
                             "of every other column over it, with 95 %% confidence intervals")
    parser.add_argument("--digits", type=int, default=1, help="decimals in the table")
    parser.add_argument("--metric", metavar="NAME",
                        help="another metric than the task's primary one, e.g. exact_match for QA (averages "
                             "computed from the per-language values as for the primary one)")
    parser.add_argument("--plot", metavar="FILE.png", help="also draw the per-language scores")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from xling.errors import XlingError
    from xling.reporting.plots import plot_languages
    from xling.reporting.tables import render
    from xling.sweep.table import report_runs, selection_tables, sweep_baseline

    for flag, target in (("--output", args.output), ("--plot", args.plot)):
        if target:
            check_writable(flag, Path(target))
    runs = report_runs(args.runs)
    baseline = args.baseline or (sweep_baseline(args.runs) if args.format != "csv" else None)
    if args.format == "html":
        from xling.reporting.html import render_html

        text = render_html(runs, baseline=baseline, digits=args.digits, metric=args.metric)
    else:
        if args.baseline and args.format == "csv":
            raise XlingError("--baseline adds a gains table to markdown or html reports, not to csv")
        text = render(runs, args.format, args.digits, args.metric)
        if baseline:
            from xling.reporting.gains import render_gains

            text += "\n" + render_gains(runs, baseline, args.digits, args.metric)
        if args.format == "markdown":
            for table in selection_tables(args.runs):  # sweeps with select: what was chosen and why
                text += "\n" + table
    try:
        if args.output:
            Path(args.output).write_text(text, encoding="utf-8")
            print(f"report: {args.output}", file=sys.stderr)
        else:
            print(text, end="")
        if args.plot:
            print(f"plot: {plot_languages(runs, args.plot, args.metric)}")
    except OSError as exc:
        raise XlingError(f"cannot write {exc.filename or args.plot or args.output}: {exc.strerror or exc}") from None
    return 0


def check_writable(flag: str, path: Path) -> None:
    """An output path must be a file in an existing folder (checked before the work, not after)."""
    from xling.errors import OutputError

    if path.is_dir():
        raise OutputError(f"{flag} {path} is a directory; give a file name")
    if not path.parent.is_dir():
        raise OutputError(f"{flag} {path}: the folder {path.parent} does not exist")

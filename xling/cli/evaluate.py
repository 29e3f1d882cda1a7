"""``xling evaluate``: re-evaluate a saved run on other languages, splits or data."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    from xling.config import add_config_arguments, field_names
    from xling.evaluation.reevaluate import EVALUATE_OPTIONS

    parser = sub.add_parser("evaluate", help="re-evaluate a saved run (its model) on languages or data")
    parser.add_argument("--run", required=True, metavar="RUN_DIR", help="a run directory written by xling train")
    parser.add_argument("--output", metavar="FILE.json",
                        help="where to write results (default RUN_DIR/evaluate-TASK-SPLIT-LANGS.json; predictions "
                             "go beside it in ...-predictions/); an existing file needs --overwrite")
    add_config_arguments(parser, skip=tuple(n for n in field_names() if n not in EVALUATE_OPTIONS))
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from xling.cli._common import setup_logging
    from xling.config import overrides_from_args
    from xling.evaluation.reevaluate import evaluate_run
    from xling.reporting.tables import render

    overrides = overrides_from_args(args)
    setup_logging(overrides.get("quiet", False))
    results = evaluate_run(args.run, overrides, args.output)
    print(render([results]))
    return 0
